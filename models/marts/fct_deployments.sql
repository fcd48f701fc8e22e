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

reverts as (

    select * from {{ ref('int_deployments_checked_for_reverts') }}

),

hotfixes as (

    select * from {{ ref('int_deployments_checked_for_hotfixes') }}

),

alerts as (

    select * from {{ ref('int_deployments_checked_for_alerts') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

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

pull_request_services as (

    select * from {{ ref('int_pull_requests_mapped_to_services') }}

),

-- Which signals are on (org.yml `failure_signals:`); revert, hotfix and alert apply theirs upstream.
signal_settings as (

    select
        coalesce(bool_and(is_incident_signal_enabled), true) as is_incident_signal_enabled,
        coalesce(bool_and(is_rollback_signal_enabled), true) as is_rollback_signal_enabled,

    from settings

),

batches as (

    select * from {{ ref('int_deployments_sized_into_batches') }}

),

blamed as (

    select
        deployment_id,
        count(*) as incident_count,
        min(created_at) as first_incident_at,
        min(resolved_at) as first_resolved_at,

    from incidents
    where deployment_id is not null
    group by deployment_id

),

shipped as (

    select
        attributed.deployment_id,
        count(distinct attributed.commit_sha) as commit_count,
        -- in a repository where services own paths, only the service's own pull requests
        count(distinct pull_request_commits.pr_number) filter (
            where not coalesce(repository_services.is_path_repository, false)
                or exists (
                    select 1
                    from pull_request_services
                    where pull_request_services.repository = pull_request_commits.repository
                        and pull_request_services.pr_number = pull_request_commits.pr_number
                        and pull_request_services.service = attributed.service
                )
        ) as pr_count,

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
        rollbacks.rollback_started_at,
        blamed.deployment_id is not null as is_blamed,
        blamed.first_incident_at,
        blamed.first_resolved_at,
        coalesce(reverts.has_revert_failure, false) as is_reverted,
        reverts.first_reverted_at,
        reverts.revert_deployed_at,
        coalesce(reverts.ships_revert, false) as ships_revert,
        coalesce(hotfixes.has_hotfix_failure, false) as is_hotfixed,
        hotfixes.first_hotfix_at,
        hotfixes.hotfix_deployed_at,
        coalesce(hotfixes.ships_hotfix, false) as ships_hotfix,
        coalesce(alerts.has_alert_failure, false) as is_alerted,
        alerts.first_alert_at,
        signal_settings.is_incident_signal_enabled,
        signal_settings.is_rollback_signal_enabled,
        coalesce(shipped.commit_count, 0) as commit_count,
        coalesce(shipped.pr_count, 0) as pr_count,
        coalesce(batches.batch_pr_count, 0) as batch_pr_count,
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
    left join reverts
        on deployments.deployment_id = reverts.deployment_id
    left join hotfixes
        on deployments.deployment_id = hotfixes.deployment_id
    left join alerts
        on deployments.deployment_id = alerts.deployment_id
    cross join signal_settings

),

failures as (

    select
        *,
        is_successful_production and is_incident_signal_enabled and is_blamed as has_incident_failure,
        is_successful_production and is_rollback_signal_enabled and is_rolled_back as has_rollback_failure,
        is_successful_production and is_reverted as has_revert_failure,
        is_successful_production and is_hotfixed as has_hotfix_failure,
        is_successful_production and is_alerted as has_alert_failure,
        -- Unplanned work fixing a failure: a rollback, or a deployment shipping a revert or a hotfix.
        is_successful_production and (
            (is_rollback_signal_enabled and is_rollback) or ships_revert or ships_hotfix
        ) as is_rework,

    from signals

),

-- Recovery candidates, each only from a signal that failed the deployment (least() skips NULLs: an
-- unresolved incident leaves the rollback or the fix as the recovery).
candidates as (

    select
        *,
        has_incident_failure
            or has_rollback_failure
            or has_revert_failure
            or has_hotfix_failure
            or has_alert_failure as is_failure,
        case when has_incident_failure then first_resolved_at end as incident_resolved_at,
        case when has_rollback_failure then rolled_back_at end as rollback_restored_at,
        least(
            case when has_revert_failure then revert_deployed_at end,
            case when has_hotfix_failure then hotfix_deployed_at end
        ) as fix_deployed_at,

    from failures

),

recoveries as (

    select
        *,
        least(incident_resolved_at, rollback_restored_at, fix_deployed_at) as recovered_at,
        -- Ties go to the deployment that restored service (rollback, then fix), before the incident's
        -- resolution that usually follows it.
        case least(incident_resolved_at, rollback_restored_at, fix_deployed_at)
            when rollback_restored_at then 'rollback'
            when fix_deployed_at then 'fix_deployment'
            when incident_resolved_at then 'incident_resolved'
        end as recovery_kind,
        least(
            case when has_incident_failure then first_incident_at end,
            case when has_rollback_failure then rollback_started_at end,
            case when has_revert_failure then first_reverted_at end,
            case when has_hotfix_failure then first_hotfix_at end,
            case when has_alert_failure then first_alert_at end
        ) as first_failure_signal_at,
        -- Built in alphabetical order, so the list is sorted.
        list_concat(
            case when has_alert_failure then ['alert'] else [] end,
            case when has_hotfix_failure then ['hotfix'] else [] end,
            case when has_incident_failure then ['incident'] else [] end,
            case when has_revert_failure then ['revert'] else [] end,
            case when has_rollback_failure then ['rollback'] else [] end
        )::varchar[] as failure_signals,

    from candidates

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
        has_revert_failure,
        has_hotfix_failure,
        has_alert_failure,
        failure_signals,
        first_failure_signal_at,
        {{ minutes_between('deployed_at', 'first_failure_signal_at') }} as time_to_detect_minutes,
        recovered_at,
        recovery_kind,
        case when is_failure then recovered_at is not null end as is_recovered,
        {{ minutes_between('deployed_at', 'recovered_at') }} as time_to_restore_minutes,
        is_rework,
        commit_count,
        pr_count,
        batch_pr_count,
        batch_author_count,
        batch_lines_changed,
        batch_size_class,
        deployed_by,
        is_deployed_by_automation,
        pipeline_duration_minutes,

    from recoveries

)

select * from final
