-- One row per successful production deployment of a configured service: did a hotfix blame it, and does
-- it ship a hotfix? (docs/metrics.md, "Failure signals").
-- A hotfix is a pull/merge request (merged, or deployed from its branch before it merges) whose title
-- matches the configured title pattern, or whose source branch matches the branch pattern, or one of whose
-- labels matches the label pattern (all case-insensitive; org.yml `failure_signals.hotfix`). Its deployment
-- is the first production deployment of each service+environment that ships any of its commits: that
-- deployment is the fix (recovery) and is rework. It blames the deployment it fixes: the latest successful
-- production deployment of the same service+environment deployed before the hotfix was started (opened;
-- merged for one known from git history only) and at most failure_window_hours before. Work on a fix begins
-- after the breakage is in production, so what production ran when the fix began is what it fixes; a
-- hotfix started with no deployment in the window blames nothing (still rework). Switched off, nothing is
-- blamed and nothing ships a hotfix. The patterns are matched as constants (macros/configured_patterns.sql).
{{ config(pre_hook=configured_pattern_hooks(['hotfix_title_pattern', 'hotfix_branch_pattern', 'hotfix_label_pattern'])) }}
with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

-- The commits of every pull request, merged or not (a fix is often deployed from its branch before it
-- merges), with the merge and squash commits of merged ones.
pull_request_commits as (

    select repository, pr_number, commit_sha from {{ ref('int_commits_grouped_into_pull_requests') }}
    union
    select repository, pr_number, commit_sha from {{ ref('int_pull_request_commits_unioned') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

hotfix_setting as (

    {{ failure_signal_setting('settings', 'is_hotfix_signal_enabled') }}

),

signal_setting as (

    select
        hotfix_setting.*,
        (select max(hotfix_title_pattern) from settings) as title_pattern,
        (select max(hotfix_label_pattern) from settings) as label_pattern,
        (select max(hotfix_branch_pattern) from settings) as branch_pattern,

    from hotfix_setting

),

production_deployments as (

    select
        deployment_id,
        service,
        environment,
        repository,
        deployed_at,
        deployment_order_key,

    from deployments
    where is_successful
        and is_production
        and service is not null
        and deployed_at is not null

),

hotfixes as (

    select
        pull_requests.repository,
        pull_requests.pr_number,
        coalesce(pull_requests.opened_at, pull_requests.merged_at) as started_at,

    from pull_requests
    cross join signal_setting
    where signal_setting.is_enabled
        and (
            coalesce({{ matches_configured_pattern(
                'pull_requests.title', 'signal_setting.title_pattern', 'hotfix_title_pattern'
            ) }}, false)
            or coalesce({{ matches_configured_pattern(
                'pull_requests.head_branch', 'signal_setting.branch_pattern', 'hotfix_branch_pattern'
            ) }}, false)
            or len(list_filter(
                pull_requests.labels,
                lambda label: {{ matches_configured_pattern(
                    'label', 'signal_setting.label_pattern', 'hotfix_label_pattern'
                ) }}
            )) > 0
        )

),

hotfix_deployments as (

    select
        hotfixes.repository,
        hotfixes.pr_number,
        hotfixes.started_at,
        production_deployments.deployment_id,
        production_deployments.service,
        production_deployments.environment,
        production_deployments.deployed_at,

    from hotfixes
    inner join pull_request_commits
        on hotfixes.repository = pull_request_commits.repository
        and hotfixes.pr_number = pull_request_commits.pr_number
    inner join attributed
        on pull_request_commits.commit_sha = attributed.commit_sha
    inner join production_deployments
        on attributed.deployment_id = production_deployments.deployment_id
        and hotfixes.repository = production_deployments.repository
    qualify row_number() over (
        partition by hotfixes.repository, hotfixes.pr_number, production_deployments.service,
            production_deployments.environment
        order by production_deployments.deployed_at, production_deployments.deployment_order_key nulls last,
            production_deployments.deployment_id
    ) = 1

),

blamed as (

    select
        production_deployments.deployment_id,
        hotfix_deployments.started_at,
        hotfix_deployments.deployed_at as hotfix_deployed_at,

    from hotfix_deployments
    inner join production_deployments
        on hotfix_deployments.service = production_deployments.service
        and hotfix_deployments.environment = production_deployments.environment
        and production_deployments.deployed_at < hotfix_deployments.started_at
    cross join signal_setting
    where {{ minutes_between('production_deployments.deployed_at', 'hotfix_deployments.started_at') }}
        <= signal_setting.window_hours * 60
    qualify row_number() over (
        partition by hotfix_deployments.repository, hotfix_deployments.pr_number, hotfix_deployments.service,
            hotfix_deployments.environment
        order by production_deployments.deployed_at desc,
            production_deployments.deployment_order_key desc nulls first,
            production_deployments.deployment_id desc
    ) = 1

),

failed as (

    select
        deployment_id,
        min(started_at) as first_hotfix_at,
        min(hotfix_deployed_at) as hotfix_deployed_at,

    from blamed
    group by deployment_id

),

shipping_hotfixes as (

    select distinct deployment_id from hotfix_deployments

),

final as (

    select
        production_deployments.deployment_id,
        failed.deployment_id is not null as has_hotfix_failure,
        failed.first_hotfix_at,
        failed.hotfix_deployed_at,
        shipping_hotfixes.deployment_id is not null as ships_hotfix,

    from production_deployments
    left join failed
        on production_deployments.deployment_id = failed.deployment_id
    left join shipping_hotfixes
        on production_deployments.deployment_id = shipping_hotfixes.deployment_id

)

select * from final
