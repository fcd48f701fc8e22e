-- One row per (service, upstream environment, downstream environment, commit) for every commit a successful
-- deployment shipped to the upstream environment: when it reached upstream, when (and by which deployment)
-- it reached the downstream environment, and its promotion status. The pairs: each environment a service
-- deploys to, with a configured rank, is downstream of the service's environments of the next lower rank
-- it deploys to (staging → production; two production regions of the same rank each follow staging).
-- "Reached" is the graph walk's answer (int_commits_attributed_to_deployments): the first deployment to
-- that environment whose SHA contains the commit, never a timestamp guess. docs/metrics.md, "Promotion".
with

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

environments as (

    select * from {{ ref('stg_config__environments') }}

),

shipments as (

    select
        attributed.service,
        attributed.environment,
        environments.environment_rank,
        attributed.commit_sha,
        attributed.deployment_id,
        attributed.deployed_at,
        attributed.is_baseline,

    from attributed
    inner join environments
        on attributed.environment = environments.environment
    where environments.environment_rank is not null

),

service_ranks as (

    select distinct
        service,
        environment_rank,

    from shipments

),

previous_ranks as (

    select
        service,
        environment_rank,
        lag(environment_rank) over (partition by service order by environment_rank) as upstream_rank,

    from service_ranks

),

service_environments as (

    select distinct
        service,
        environment,
        environment_rank,

    from shipments

),

environment_pairs as (

    select
        upstream.service,
        upstream.environment as upstream_environment,
        downstream.environment as downstream_environment,

    from previous_ranks
    inner join service_environments as upstream
        on previous_ranks.service = upstream.service
        and previous_ranks.upstream_rank = upstream.environment_rank
    inner join service_environments as downstream
        on previous_ranks.service = downstream.service
        and previous_ranks.environment_rank = downstream.environment_rank

),

paired as (

    select
        environment_pairs.service,
        environment_pairs.upstream_environment,
        environment_pairs.downstream_environment,
        upstream.commit_sha,
        upstream.deployment_id as upstream_deployment_id,
        upstream.deployed_at as reached_upstream_at,
        upstream.is_baseline as is_upstream_baseline,
        downstream.deployment_id as downstream_deployment_id,
        downstream.deployed_at as reached_downstream_at,
        downstream.is_baseline as is_downstream_baseline,

    from environment_pairs
    inner join shipments as upstream
        on environment_pairs.service = upstream.service
        and environment_pairs.upstream_environment = upstream.environment
    left join shipments as downstream
        on environment_pairs.service = downstream.service
        and environment_pairs.downstream_environment = downstream.environment
        and upstream.commit_sha = downstream.commit_sha

),

final as (

    select
        service,
        upstream_environment,
        downstream_environment,
        commit_sha,
        upstream_deployment_id,
        reached_upstream_at,
        is_upstream_baseline,
        downstream_deployment_id,
        reached_downstream_at,
        case
            when reached_downstream_at is null then 'waiting'
            when reached_downstream_at < reached_upstream_at then 'reached_downstream_first'
            when is_downstream_baseline then 'baseline'
            else 'promoted'
        end as promotion_status,
        -- How long the commit waited upstream; unknown when the upstream baseline (the first deployment
        -- seen, which ships all history) is all that says when it arrived.
        case
            when reached_downstream_at >= reached_upstream_at
                and not is_downstream_baseline
                and not is_upstream_baseline
                then datediff('second', reached_upstream_at, reached_downstream_at) / 60.0
        end as promotion_wait_minutes,

    from paired

)

select * from final
