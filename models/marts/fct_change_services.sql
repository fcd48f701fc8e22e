-- One row per (change, service it counts for): the bridge from fct_changes to services (docs/metrics.md,
-- "Services by path"). A pull request in a repository where services own paths counts for each service
-- whose paths its files touch (int_pull_requests_mapped_to_services), and so does a direct push whose
-- commit's files were read (int_commits_mapped_to_services); every other change counts for the one service
-- fct_changes names. Each row carries the change's first production deployment of that service and
-- its lead time to it: the service fct_changes names has fct_changes' figures; another service's is the
-- earliest successful production deployment of that service shipping one of the change's own commits.
-- The coding, pickup and review phases are the change's, whatever the service.
with

changes as (

    select * from {{ ref('fct_changes') }}

),

pull_request_services as (

    select * from {{ ref('int_pull_requests_mapped_to_services') }}

),

commit_services as (

    select * from {{ ref('int_commits_mapped_to_services') }}

),

-- The services of the changes mapped by their files: pull requests, and direct pushes whose files were read.
mapped_services as (

    select change_id, service, matched_by, from pull_request_services

    union all

    select commit_services.change_id, commit_services.service, commit_services.matched_by,
    from commit_services
    inner join changes
        on commit_services.change_id = changes.change_id
        and changes.change_kind = 'direct_push'

),

pull_request_commits as (

    select * from {{ ref('int_commits_grouped_into_pull_requests') }}

),

production_shipments as (

    select * from {{ ref('int_commits_shipped_to_production') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

services as (

    select * from {{ ref('stg_config__services') }}

),

bridged as (

    select
        mapped_services.change_id,
        mapped_services.service,
        mapped_services.matched_by,

    from mapped_services
    inner join changes
        on mapped_services.change_id = changes.change_id

    union all

    select
        change_id,
        service,
        'repository' as matched_by,

    from changes
    where service is not null
        and not exists (
            select 1
            from mapped_services
            where mapped_services.change_id = changes.change_id
        )

),

-- Services other than the one fct_changes names: their own first production shipment of the change.
other_services as (

    select
        bridged.change_id,
        bridged.service,
        changes.repository,
        changes.pr_number,

    from bridged
    inner join changes
        on bridged.change_id = changes.change_id
    where bridged.service is distinct from changes.service

),

-- Their commits: a pull request's own, a direct push itself.
other_service_commits as (

    select
        other_services.change_id,
        other_services.service,
        pull_request_commits.commit_sha,

    from other_services
    inner join pull_request_commits
        on other_services.repository = pull_request_commits.repository
        and other_services.pr_number = pull_request_commits.pr_number

    union all

    select
        other_services.change_id,
        other_services.service,
        commit_services.commit_sha,

    from other_services
    inner join commit_services
        on other_services.change_id = commit_services.change_id
        and other_services.service = commit_services.service

),

other_shipments as (

    select
        other_services.change_id,
        other_services.service,
        production_shipments.deployment_id,
        production_shipments.deployed_at,
        production_shipments.is_baseline,
        row_number() over (
            partition by other_services.change_id, other_services.service
            order by
                production_shipments.deployed_at,
                production_shipments.is_baseline desc,
                production_shipments.deployment_order_key nulls last,
                production_shipments.deployment_id
        ) as shipment_order,

    from other_service_commits as other_services
    inner join production_shipments
        on other_services.service = production_shipments.service
        and other_services.commit_sha = production_shipments.commit_sha

),

joined as (

    select
        bridged.change_id,
        bridged.service,
        services.team,
        changes.repository,
        changes.change_kind,
        bridged.matched_by,
        bridged.service = changes.service as is_change_service,
        changes.started_at,
        changes.merged_at,
        changes.author_login,
        changes.coding_minutes,
        changes.pickup_minutes,
        changes.review_minutes,
        changes.is_reviewed_by_other,
        if(bridged.service = changes.service, changes.deployment_id, other_shipments.deployment_id)
            as deployment_id,
        if(bridged.service = changes.service, changes.deployed_at, other_shipments.deployed_at) as deployed_at,
        if(
            bridged.service = changes.service,
            changes.is_shipped_by_baseline,
            coalesce(other_shipments.is_baseline, false)
        ) as is_shipped_by_baseline,
        changes.is_deployed_by_author as change_is_deployed_by_author,

    from bridged
    inner join changes
        on bridged.change_id = changes.change_id
    inner join services
        on bridged.service = services.service
    left join other_shipments
        on bridged.change_id = other_shipments.change_id
        and bridged.service = other_shipments.service
        and other_shipments.shipment_order = 1

),

final as (

    select
        joined.change_id,
        joined.service,
        joined.team,
        joined.repository,
        joined.change_kind,
        joined.matched_by,
        joined.is_change_service,
        joined.deployment_id,
        joined.deployed_at,
        joined.started_at,
        joined.merged_at,
        joined.coding_minutes,
        joined.pickup_minutes,
        joined.review_minutes,
        case
            when not joined.is_shipped_by_baseline then {{ minutes_between('joined.merged_at', 'joined.deployed_at') }}
        end as deploy_minutes,
        case
            when not joined.is_shipped_by_baseline then {{ minutes_between('joined.started_at', 'joined.deployed_at') }}
        end as lead_time_minutes,
        joined.is_reviewed_by_other,
        case
            when joined.is_change_service then joined.change_is_deployed_by_author
            when deployments.deployed_by is not null and joined.author_login is not null
                then lower(deployments.deployed_by) = lower(joined.author_login)
        end as is_deployed_by_author,
        joined.is_shipped_by_baseline,
        case
            when joined.deployment_id is null then 'not_deployed'
            when joined.is_shipped_by_baseline then 'shipped_by_baseline'
        end as no_lead_time_reason,

    from joined
    left join deployments
        on joined.deployment_id = deployments.deployment_id

)

select * from final
