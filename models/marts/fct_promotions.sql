-- One row per successful deployment to a downstream environment (production after staging) that shipped
-- commits, with the upstream deployment it promotes and the promotion lag. A downstream deployment
-- promotes the commits it ships that the upstream environment shipped earlier; the upstream deployment it
-- promotes is the latest one among those that shipped them: the build that was verified upstream and
-- went on (a pipeline deploys to production what it deployed to staging, plus whatever main gained since
-- when it redeploys main's head). Lag: downstream deployed_at - that upstream deployment's deployed_at.
-- The downstream environment's first deployment seen (its baseline, which ships all history) promotes
-- nothing and has no row. docs/metrics.md, "Promotion".
with

commit_promotions as (

    select * from {{ ref('fct_commit_promotions') }}

),

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

-- The pairs each downstream environment belongs to.
environment_pairs as (

    select distinct
        service,
        upstream_environment,
        downstream_environment,

    from commit_promotions

),

-- Every commit a downstream deployment shipped, with when (if ever before it) upstream had shipped it.
downstream_shipments as (

    select
        environment_pairs.service,
        environment_pairs.upstream_environment,
        environment_pairs.downstream_environment,
        attributed.deployment_id,
        attributed.deployed_at,
        attributed.commit_sha,
        commit_promotions.upstream_deployment_id,
        commit_promotions.reached_upstream_at,
        commit_promotions.promotion_wait_minutes,
        coalesce(commit_promotions.promotion_status = 'promoted', false) as is_promoted,

    from environment_pairs
    inner join attributed
        on environment_pairs.service = attributed.service
        and environment_pairs.downstream_environment = attributed.environment
    left join commit_promotions
        on environment_pairs.service = commit_promotions.service
        and environment_pairs.upstream_environment = commit_promotions.upstream_environment
        and environment_pairs.downstream_environment = commit_promotions.downstream_environment
        and attributed.commit_sha = commit_promotions.commit_sha
    where not attributed.is_baseline

),

upstream_deployments as (

    select
        deployment_id,
        coalesce(deployment_order_key, 9223372036854775807) as order_key,

    from deployments

),

per_deployment as (

    select
        downstream_shipments.service,
        downstream_shipments.upstream_environment,
        downstream_shipments.downstream_environment,
        downstream_shipments.deployment_id,
        any_value(downstream_shipments.deployed_at) as deployed_at,
        count(*) as commits_shipped,
        count(*) filter (where downstream_shipments.is_promoted) as commits_promoted,
        arg_max(
            downstream_shipments.upstream_deployment_id,
            (
                downstream_shipments.reached_upstream_at,
                upstream_deployments.order_key,
                downstream_shipments.upstream_deployment_id
            )
        ) filter (where downstream_shipments.is_promoted) as promoted_deployment_id,
        max(downstream_shipments.reached_upstream_at) filter (where downstream_shipments.is_promoted)
            as promoted_deployed_at,
        max(downstream_shipments.promotion_wait_minutes) as longest_commit_wait_minutes,

    from downstream_shipments
    left join upstream_deployments
        on downstream_shipments.upstream_deployment_id = upstream_deployments.deployment_id
    group by
        downstream_shipments.service,
        downstream_shipments.upstream_environment,
        downstream_shipments.downstream_environment,
        downstream_shipments.deployment_id

),

final as (

    select
        per_deployment.service,
        per_deployment.upstream_environment,
        per_deployment.downstream_environment,
        per_deployment.deployment_id,
        deployments.commit_sha,
        per_deployment.deployed_at,
        per_deployment.commits_shipped,
        per_deployment.commits_promoted,
        per_deployment.commits_shipped - per_deployment.commits_promoted as commits_not_from_upstream,
        per_deployment.promoted_deployment_id,
        promoted.commit_sha as promoted_commit_sha,
        per_deployment.promoted_deployed_at,
        coalesce(promoted.commit_sha = deployments.commit_sha, false) as is_same_sha,
        datediff('second', per_deployment.promoted_deployed_at, per_deployment.deployed_at) / 60.0
            as promotion_lag_minutes,
        per_deployment.longest_commit_wait_minutes,

    from per_deployment
    inner join deployments
        on per_deployment.deployment_id = deployments.deployment_id
    left join deployments as promoted
        on per_deployment.promoted_deployment_id = promoted.deployment_id

)

select * from final
