-- One row per successful production deployment of a configured service: did a revert blame it, and does it
-- ship a revert? (docs/metrics.md, "Failure signals").
-- A revert is a commit whose message says "This reverts commit <full sha>" (what `git revert` and the
-- GitHub and GitLab revert buttons write), or a pull/merge request titled `Revert "<title>"` (their revert
-- buttons), which reverts the latest pull request of the same repository with exactly that title merged
-- before the revert started. A deployment is failed by a revert when it shipped a reverted commit (for a
-- reverted pull request: any of its commits) and the revert started (revert commit authored, revert pull
-- request opened) at or after the deployment and within failure_window_hours of it. The revert is deployed
-- by the first production deployment of the same service that ships any of its commits: that deployment is
-- the fix (recovery) and is rework. Switched off (`failure_signals: {revert: false}`), no deployment is
-- failed by a revert and none ships one.
with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

commits as (

    select * from {{ ref('int_commits_unioned') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

signal_setting as (

    {{ failure_signal_setting('settings', 'is_revert_signal_enabled') }}

),

production_deployments as (

    select
        deployment_id,
        service,
        repository,
        deployed_at,

    from deployments
    where is_successful
        and is_production
        and service is not null
        and deployed_at is not null

),

shipped as (

    select
        production_deployments.deployment_id,
        production_deployments.service,
        production_deployments.repository,
        production_deployments.deployed_at,
        attributed.commit_sha,

    from production_deployments
    inner join attributed
        on production_deployments.deployment_id = attributed.deployment_id

),

revert_commits as (

    select
        repository,
        commit_sha as revert_sha,
        authored_at as reverted_at,
        lower(unnest(regexp_extract_all(message, 'This reverts commit ([0-9a-fA-F]{40})', 1))) as reverted_sha,

    from commits
    where message ilike '%this reverts commit %'

),

revert_pull_requests as (

    select
        repository,
        pr_number as revert_pr_number,
        coalesce(opened_at, merged_at) as reverted_at,
        regexp_extract(title, '^Revert "(.*)"$', 1) as reverted_title,

    from pull_requests
    where regexp_matches(title, '^Revert ".+"$')

),

reverted_pull_requests as (

    select
        revert_pull_requests.repository,
        revert_pull_requests.revert_pr_number,
        revert_pull_requests.reverted_at,
        pull_requests.pr_number as reverted_pr_number,

    from revert_pull_requests
    inner join pull_requests
        on revert_pull_requests.repository = pull_requests.repository
        and revert_pull_requests.reverted_title = pull_requests.title
        and pull_requests.is_merged
        and pull_requests.merged_at <= revert_pull_requests.reverted_at
    qualify row_number() over (
        partition by revert_pull_requests.repository, revert_pull_requests.revert_pr_number
        order by pull_requests.merged_at desc, pull_requests.pr_number desc
    ) = 1

),

-- The pull requests a revert pull request names: itself and the one it reverts.
revert_pull_request_keys as (

    select repository, revert_pr_number as pr_number from reverted_pull_requests
    union
    select repository, reverted_pr_number as pr_number from reverted_pull_requests

),

-- Their commits, merged or not (a fix is often deployed from its branch before it merges), with the merge
-- and squash commits of merged ones. Only these pull requests' commits are read: deduplicating every pull
-- request's commits (3.2 million rows on the large simulated org) cost more than the rest of the model.
pull_request_commits as (

    select repository, pr_number, commit_sha
    from {{ ref('int_commits_grouped_into_pull_requests') }} as grouped
    semi join revert_pull_request_keys as wanted
        on grouped.repository = wanted.repository
        and grouped.pr_number = wanted.pr_number

    union

    select repository, pr_number, commit_sha
    from {{ ref('int_pull_request_commits_unioned') }} as listed
    semi join revert_pull_request_keys as wanted
        on listed.repository = wanted.repository
        and listed.pr_number = wanted.pr_number

),

-- Each revert (keyed by its commit or its pull request) with the commits it undoes.
revert_targets as (

    select
        repository || '@' || revert_sha as revert_key,
        repository,
        reverted_at,
        reverted_sha as commit_sha,

    from revert_commits

    union all

    select
        reverted_pull_requests.repository || '#' || reverted_pull_requests.revert_pr_number as revert_key,
        reverted_pull_requests.repository,
        reverted_pull_requests.reverted_at,
        pull_request_commits.commit_sha,

    from reverted_pull_requests
    inner join pull_request_commits
        on reverted_pull_requests.repository = pull_request_commits.repository
        and reverted_pull_requests.reverted_pr_number = pull_request_commits.pr_number

),

-- Each revert with its own commits: what a deployment ships when it ships the revert.
revert_changes as (

    select
        repository || '@' || revert_sha as revert_key,
        repository,
        revert_sha as commit_sha,

    from revert_commits

    union all

    select
        reverted_pull_requests.repository || '#' || reverted_pull_requests.revert_pr_number as revert_key,
        reverted_pull_requests.repository,
        pull_request_commits.commit_sha,

    from reverted_pull_requests
    inner join pull_request_commits
        on reverted_pull_requests.repository = pull_request_commits.repository
        and reverted_pull_requests.revert_pr_number = pull_request_commits.pr_number

),

revert_deployments as (

    select
        shipped.deployment_id,
        shipped.service,
        shipped.deployed_at,
        revert_changes.revert_key,

    from shipped
    inner join revert_changes
        on shipped.repository = revert_changes.repository
        and shipped.commit_sha = revert_changes.commit_sha
    group by all

),

reverted as (

    select distinct
        shipped.deployment_id,
        shipped.service,
        shipped.deployed_at,
        revert_targets.revert_key,
        revert_targets.reverted_at,

    from shipped
    inner join revert_targets
        on shipped.repository = revert_targets.repository
        and shipped.commit_sha = revert_targets.commit_sha
    cross join signal_setting
    where revert_targets.reverted_at >= shipped.deployed_at
        and {{ minutes_between('shipped.deployed_at', 'revert_targets.reverted_at') }}
            <= signal_setting.window_hours * 60

),

failed as (

    select
        reverted.deployment_id,
        min(reverted.reverted_at) as first_reverted_at,
        min(revert_deployments.deployed_at) as revert_deployed_at,

    from reverted
    left join revert_deployments
        on reverted.revert_key = revert_deployments.revert_key
        and reverted.service = revert_deployments.service
        and revert_deployments.deployed_at > reverted.deployed_at
    group by reverted.deployment_id

),

shipping_reverts as (

    select distinct deployment_id from revert_deployments

),

final as (

    select
        production_deployments.deployment_id,
        signal_setting.is_enabled and failed.deployment_id is not null as has_revert_failure,
        case when signal_setting.is_enabled then failed.first_reverted_at end as first_reverted_at,
        case when signal_setting.is_enabled then failed.revert_deployed_at end as revert_deployed_at,
        signal_setting.is_enabled and shipping_reverts.deployment_id is not null as ships_revert,

    from production_deployments
    cross join signal_setting
    left join failed
        on production_deployments.deployment_id = failed.deployment_id
    left join shipping_reverts
        on production_deployments.deployment_id = shipping_reverts.deployment_id

)

select * from final
