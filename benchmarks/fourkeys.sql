-- The four keys computed the way Google's Four Keys project documents them, per team and ISO week, from
-- the warehouse's staging views (GitHub deployments, pull requests and commits; PagerDuty incidents).
-- Written from its documented method for the comparison in benchmarks/fourkeys.py; not a model, not ours.
--
-- Four Keys works on webhook events. Where we have no such event, the nearest thing we load stands in:
-- - a deployment is every `success` deployment status, whatever the environment;
-- - its changes are the commit list of the push that made the deployed commit a branch head: for a pull
--   request's merge commit, the pull request's commits and the merge commit; for any other commit, the
--   commit alone. A deployment whose commit no push names has no changes and is dropped, as Four Keys'
--   inner join drops it;
-- - lead time is, per (deployment, change), deployment time minus the commit's time, ignoring values that
--   are not positive; the median over the week's pairs;
-- - an incident's cause is the commit its text names as `root cause: <sha>`; change failure rate is the
--   share of deployments whose changes include a cause;
-- - time to restore is from the incident's creation (or its cause's deployment, if earlier) to its
--   resolution, in the week it was created; every PagerDuty incident counts.
-- Teams do not exist in Four Keys: repositories and PagerDuty services are mapped to teams with the same
-- configuration our marts use, so the two can be compared team-week by team-week.
with

services as (

    select * from staging.stg_config__services

),

service_pagerduty as (

    select * from staging.stg_config__service_pagerduty

),

deployment_statuses as (

    select * from staging.stg_github__deployment_statuses

),

github_deployments as (

    select * from staging.stg_github__deployments

),

pull_requests as (

    select * from staging.stg_github__pull_requests

),

pull_request_commits as (

    select * from staging.stg_github__pull_request_commits

),

commits as (

    select * from staging.stg_github__commits

),

incidents as (

    select * from staging.stg_pagerduty__incidents

),

deploys as (

    select
        deployment_statuses.status_id as deploy_id,
        github_deployments.repository,
        github_deployments.commit_sha as main_commit,
        deployment_statuses.created_at as deployed_at,
        github_deployments.environment

    from deployment_statuses
    inner join github_deployments
        on
            deployment_statuses.repository = github_deployments.repository
            and deployment_statuses.deployment_id = github_deployments.deployment_id
    where deployment_statuses.state = 'success'

),

merge_pushes as (

    select
        pull_requests.repository,
        pull_requests.merge_commit_sha as head_sha,
        pull_request_commits.commit_sha,
        pull_request_commits.committed_at

    from pull_requests
    inner join pull_request_commits
        on
            pull_requests.repository = pull_request_commits.repository
            and pull_requests.pr_number = pull_request_commits.pr_number
    where pull_requests.is_merged and pull_requests.merge_commit_sha is not null

    union

    select
        pull_requests.repository,
        pull_requests.merge_commit_sha as head_sha,
        pull_requests.merge_commit_sha as commit_sha,
        coalesce(commits.committed_at, pull_requests.merged_at) as committed_at

    from pull_requests
    left join commits
        on
            pull_requests.repository = commits.repository
            and pull_requests.merge_commit_sha = commits.commit_sha
    where pull_requests.is_merged and pull_requests.merge_commit_sha is not null

),

single_commit_pushes as (

    select
        commits.repository,
        commits.commit_sha as head_sha,
        commits.commit_sha,
        commits.committed_at

    from commits
    anti join merge_pushes
        on
            commits.repository = merge_pushes.repository
            and commits.commit_sha = merge_pushes.head_sha

),

pushes as (

    select * from merge_pushes
    union all
    select * from single_commit_pushes

),

deploy_changes as (

    select
        deploys.deploy_id,
        deploys.repository,
        deploys.deployed_at,
        pushes.commit_sha as change_id,
        pushes.committed_at as changed_at

    from deploys
    inner join pushes
        on
            deploys.repository = pushes.repository
            and deploys.main_commit = pushes.head_sha

),

incident_causes as (

    select
        incidents.incident_id,
        incidents.pd_service_id,
        incidents.created_at,
        incidents.resolved_at,
        regexp_extract(incidents.title, 'root cause: ([[:alnum:]]+)', 1) as root_cause

    from incidents

),

cause_deployed as (

    select
        change_id,
        min(deployed_at) as first_deployed_at

    from deploy_changes
    group by change_id

),

incidents_with_cause as (

    select
        incident_causes.incident_id,
        incident_causes.pd_service_id,
        incident_causes.root_cause,
        incident_causes.resolved_at,
        least(incident_causes.created_at, cause_deployed.first_deployed_at) as created_at

    from incident_causes
    left join cause_deployed
        on incident_causes.root_cause <> '' and incident_causes.root_cause = cause_deployed.change_id

),

team_deploy_changes as (

    select
        services.team,
        cast(date_trunc('week', deploy_changes.deployed_at) as date) as week_start,
        deploy_changes.*

    from deploy_changes
    inner join services on deploy_changes.repository = services.repository

),

deployment_weeks as (

    select
        team,
        week_start,
        count(distinct deploy_id) as deployments,
        count(distinct case when incidents_with_cause.incident_id is not null then deploy_id end)
        / count(distinct deploy_id) as change_failure_rate,
        median(
            case
                when date_diff('minute', changed_at, deployed_at) > 0
                    then date_diff('minute', changed_at, deployed_at)
            end
        ) as lead_time_median_minutes

    from team_deploy_changes
    left join incidents_with_cause on team_deploy_changes.change_id = incidents_with_cause.root_cause
    group by all

),

restore_weeks as (

    select
        services.team,
        cast(date_trunc('week', incidents_with_cause.created_at) as date) as week_start,
        median(date_diff('minute', incidents_with_cause.created_at, incidents_with_cause.resolved_at))
            as time_to_restore_median_minutes

    from incidents_with_cause
    inner join service_pagerduty on incidents_with_cause.pd_service_id = service_pagerduty.pd_service_id
    inner join services on service_pagerduty.service = services.service
    where incidents_with_cause.resolved_at is not null
    group by all

),

final as (

    select
        coalesce(deployment_weeks.team, restore_weeks.team) as team,
        coalesce(deployment_weeks.week_start, restore_weeks.week_start) as week_start,
        coalesce(deployment_weeks.deployments, 0) as deployments,
        deployment_weeks.change_failure_rate,
        deployment_weeks.lead_time_median_minutes,
        restore_weeks.time_to_restore_median_minutes

    from deployment_weeks
    full outer join restore_weeks
        on deployment_weeks.team = restore_weeks.team and deployment_weeks.week_start = restore_weeks.week_start

)

select * from final
