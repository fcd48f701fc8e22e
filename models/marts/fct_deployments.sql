with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

rollbacks as (

    select * from {{ ref('int_deployments_checked_for_rollbacks') }}

),

incidents as (

    select * from {{ ref('int_incidents_blamed_on_deployments') }}

),

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

pull_request_commits as (

    select * from {{ ref('int_commits_grouped_into_pull_requests') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

batches as (

    select * from {{ ref('int_deployments_sized_into_batches') }}

),

blamed as (

    select
        deployment_id,
        count(*) as incident_count,
        min(resolved_at) as first_resolved_at,

    from incidents
    where deployment_id is not null
    group by deployment_id

),

shipped as (

    select
        attributed.deployment_id,
        count(distinct attributed.commit_sha) as commit_count,
        count(distinct pull_request_commits.pr_number) as pr_count,

    from attributed
    left join repository_services
        on attributed.service = repository_services.service
    left join pull_request_commits
        on repository_services.repository = pull_request_commits.repository
        and attributed.commit_sha = pull_request_commits.commit_sha
    group by attributed.deployment_id

),

-- Who deployed and how long its pipeline ran (docs/metrics.md, "Who deploys and who reviews", "Pipeline
-- duration"): as the source says (int_deployments_unioned); automation per the is_automation_account rule.
-- Batch size: int_deployments_sized_into_batches.
deployers as (

    select
        deployments.deployment_id,
        {{ is_automation_account('deployments.deployed_by', 'deployments.is_deployed_by_bot_account',
                                 'settings.bot_logins') }} as is_deployed_by_automation,
        case
            when deployments.pipeline_started_at <= deployments.deployed_at
                then {{ minutes_between('deployments.pipeline_started_at', 'deployments.deployed_at') }}
        end as pipeline_duration_minutes,

    from deployments
    -- one settings row; a left join keeps the deployments should it be missing
    left join settings
        on true

),

signals as (

    select
        deployments.*,
        deployments.is_successful and deployments.is_production as is_successful_production,
        -- The first successful deployment of the service+environment, whether or not the graph knows its SHA.
        coalesce(rollbacks.deployment_number = 1, false) as is_baseline,
        coalesce(rollbacks.is_rollback, false) as is_rollback,
        coalesce(rollbacks.is_rolled_back, false) as is_rolled_back,
        rollbacks.rolled_back_at,
        blamed.deployment_id is not null as is_blamed,
        blamed.first_resolved_at,
        coalesce(shipped.commit_count, 0) as commit_count,
        coalesce(shipped.pr_count, 0) as pr_count,
        coalesce(batches.batch_author_count, 0) as batch_author_count,
        batches.batch_lines_changed,
        batches.batch_size_class,
        deployers.is_deployed_by_automation,
        deployers.pipeline_duration_minutes,

    from deployments
    left join shipped
        on deployments.deployment_id = shipped.deployment_id
    left join batches
        on deployments.deployment_id = batches.deployment_id
    left join deployers
        on deployments.deployment_id = deployers.deployment_id
    left join rollbacks
        on deployments.deployment_id = rollbacks.deployment_id
    left join blamed
        on deployments.deployment_id = blamed.deployment_id

),

failures as (

    select
        *,
        is_successful_production and is_blamed as has_incident_failure,
        is_successful_production and is_rolled_back as has_rollback_failure,

    from signals

),

recoveries as (

    select
        *,
        has_incident_failure or has_rollback_failure as is_failure,
        case
            when has_incident_failure or has_rollback_failure
                -- least() skips NULLs: an unresolved incident leaves the rollback as the recovery.
                then least(
                    case when has_incident_failure then first_resolved_at end,
                    case when has_rollback_failure then rolled_back_at end
                )
        end as recovered_at,

    from failures

),

final as (

    select
        deployment_id,
        source_system,
        source_deployment_id,
        service,
        team,
        repository,
        environment,
        source_environment,
        environment_rank,
        is_production,
        commit_sha,
        created_at,
        deployed_at,
        status,
        source_status,
        is_baseline,
        is_rollback,
        is_failure,
        has_incident_failure,
        has_rollback_failure,
        recovered_at,
        {{ minutes_between('deployed_at', 'recovered_at') }} as time_to_restore_minutes,
        commit_count,
        pr_count,
        pr_count as batch_pr_count,
        batch_author_count,
        batch_lines_changed,
        batch_size_class,
        deployed_by,
        is_deployed_by_automation,
        pipeline_duration_minutes,

    from recoveries

)

select * from final
