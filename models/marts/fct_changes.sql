-- One row per change (docs/metrics.md, "Change"): a merged pull request (GitHub) or merge request (GitLab),
-- a pull request a local clone knows only from its merge or squash commit, or a commit pushed straight to a
-- branch, which is its own change. The unit of change lead time and its phases. Pickup ends at the first
-- sign someone other than the author looked at it: a submitted review or a review comment on GitHub; a
-- human note or an approval on GitLab. Review runs from there to the merge. A change read from git history
-- alone has no opened time and no reviews: lead time and the deploy phase only.
-- Service: a change's first by name of the services it counts for (fct_change_services holds them all): a
-- pull request's by its files (int_pull_requests_mapped_to_services), a direct push's by its commit's files
-- where they were read (int_commits_mapped_to_services), else its repository's fallback service.
with

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

pull_request_commit_details as (

    select * from {{ ref('int_pull_request_commits_unioned') }}

),

review_events as (

    select * from {{ ref('int_review_events_unioned') }}

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

commit_services as (

    select * from {{ ref('int_commits_mapped_to_services') }}

),

production_shipments as (

    select * from {{ ref('int_commits_shipped_to_production') }}

),

traced as (

    select * from {{ ref('int_commits_traced_to_pull_requests') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

merged_changes as (

    select
        change_id,
        change_kind,
        is_from_git_history,
        repository,
        pr_number,
        title,
        author_login,
        opened_at,
        merged_at,
        lines_changed,

    from pull_requests
    where is_merged

),

-- A commit no pull request brought, on a main line of its repository (or shipped to production from
-- elsewhere, e.g. a maintenance branch): a direct push, its own change. Merge commits bring others' work
-- and are no change of their own. Its service: the first its files name (commit_services), else the
-- repository's fallback service.
pushed_commits as (

    select
        traced.repository || '@' || traced.commit_sha as change_id,
        repository_services.service as fallback_service,
        repository_services.team as fallback_team,
        traced.repository,
        traced.commit_sha,
        traced.title,
        traced.author_name as author_login,
        traced.authored_at,
        traced.committed_at,

    from traced
    inner join repository_services
        on traced.repository = repository_services.repository
        and repository_services.is_fallback_service
    where traced.pr_number is null
        and not traced.is_merge
        and not exists (
            select 1
            from pull_request_commits
            where pull_request_commits.repository = traced.repository
                and pull_request_commits.commit_sha = traced.commit_sha
        )
        and (
            traced.is_on_main_line
            or exists (
                select 1
                from production_shipments
                where production_shipments.service = repository_services.service
                    and production_shipments.commit_sha = traced.commit_sha
            )
        )

),

direct_pushes as (

    select
        pushed_commits.change_id,
        'direct_push' as change_kind,
        coalesce(commit_services.service, pushed_commits.fallback_service) as service,
        coalesce(commit_services.team, pushed_commits.fallback_team) as team,
        pushed_commits.repository,
        pushed_commits.commit_sha,
        pushed_commits.title,
        pushed_commits.author_login,
        pushed_commits.authored_at,
        pushed_commits.committed_at,

    from pushed_commits
    left join commit_services
        on pushed_commits.change_id = commit_services.change_id
        and commit_services.is_first_service

),

merged as (

    select
        merged_changes.*,
        pull_request_services.service,
        pull_request_services.team,

    from merged_changes
    left join pull_request_services
        on merged_changes.change_id = pull_request_services.change_id
        and pull_request_services.is_first_service

),

-- Each change's commits: a pull request's own commits as its host lists them (or as the graph walk found
-- them), a direct push itself.
change_commit_details as (

    select
        repository,
        pr_number,
        commit_sha,
        authored_at,

    from pull_request_commit_details
    where source <> 'git'

    union all

    -- A pull request from git history: its branch commits; its landing commit only when it brought no
    -- other (a squash whose branch the clone does not keep).
    select
        repository,
        pr_number,
        commit_sha,
        authored_at,

    from pull_request_commit_details
    where source = 'git'
    qualify not is_landing_commit
        or count_if(not is_landing_commit) over (partition by repository, pr_number) = 0

),

first_commits as (

    select
        repository,
        pr_number,
        min(authored_at) as first_commit_at,
        count(distinct commit_sha) as commit_count,

    from change_commit_details
    group by repository, pr_number

),

-- Reviews and comments by people other than the author. Automation (a bot's review or comment: GitHub's
-- Bot accounts, `[bot]` logins, org.yml `bots:`) is nobody picking the change up, and no review.
human_reviews as (

    select
        review_events.repository,
        review_events.pr_number,
        review_events.event_kind,
        review_events.reviewed_at,
        merged.merged_at,

    from review_events
    inner join merged
        on review_events.repository = merged.repository
        and review_events.pr_number = merged.pr_number
    left join settings
        on true
    where review_events.reviewed_at is not null
        and review_events.reviewer_login is not null
        and review_events.reviewer_login is distinct from merged.author_login
        and not {{ is_automation_account('review_events.reviewer_login', "lower(review_events.reviewer_type) = 'bot'",
                                         'settings.bot_logins') }}

),

first_reviews as (

    select
        repository,
        pr_number,
        min(reviewed_at) as first_review_at,
        -- review compliance: a submitted review (GitHub) or an approval (GitLab) before the merge; a
        -- comment alone is a look, not a review
        coalesce(bool_or(event_kind in ('review', 'approval') and reviewed_at <= merged_at), false)
            as is_reviewed_by_other,

    from human_reviews
    group by repository, pr_number

),

changes as (

    select
        change_id,
        change_kind,
        is_from_git_history,
        service,
        team,
        repository,
        pr_number,
        title,
        author_login,
        opened_at,
        merged_at,
        lines_changed,

    from merged

    union all

    -- A direct push lands when it is committed to the branch: its "merged" time is its committer time.
    select
        direct_pushes.change_id,
        direct_pushes.change_kind,
        true as is_from_git_history,
        direct_pushes.service,
        direct_pushes.team,
        direct_pushes.repository,
        cast(null as integer) as pr_number,
        direct_pushes.title,
        direct_pushes.author_login,
        cast(null as timestamp) as opened_at,
        direct_pushes.committed_at as merged_at,
        cast(null as integer) as lines_changed,

    from direct_pushes

),

change_firsts as (

    select
        merged.change_id,
        first_commits.first_commit_at,
        first_commits.commit_count,

    from merged
    inner join first_commits
        on merged.repository = first_commits.repository
        and merged.pr_number = first_commits.pr_number

    union all

    select
        change_id,
        authored_at as first_commit_at,
        1 as commit_count,

    from direct_pushes

),

change_commits as (

    select
        merged.change_id,
        merged.service,
        merged.repository,
        pull_request_commits.commit_sha,

    from merged
    inner join pull_request_commits
        on merged.repository = pull_request_commits.repository
        and merged.pr_number = pull_request_commits.pr_number

    union all

    select
        change_id,
        service,
        repository,
        commit_sha,

    from direct_pushes

),

-- Copies of a commit: another commit of the repository with the same author, author time and first message
-- line, under another SHA (a cherry-pick or a rebase onto a release line). Merges are nobody's copy.
commit_copies as (

    select
        originals.repository,
        originals.commit_sha,
        copies.commit_sha as copy_sha,

    from traced as originals
    inner join traced as copies
        on originals.repository = copies.repository
        and originals.authored_at = copies.authored_at
        and originals.title = copies.title
        and originals.author_name is not distinct from copies.author_name
        and originals.commit_sha <> copies.commit_sha
    where not originals.is_merge
        and not copies.is_merge

),

-- What can ship a change: its own commits and every copy of them.
change_shippable_commits as (

    select
        change_id,
        service,
        commit_sha,
        false as is_copy,

    from change_commits

    union all

    select
        change_commits.change_id,
        change_commits.service,
        commit_copies.copy_sha as commit_sha,
        true as is_copy,

    from change_commits
    inner join commit_copies
        on change_commits.repository = commit_copies.repository
        and change_commits.commit_sha = commit_copies.commit_sha

),

-- The change's first production deployment: the earliest successful deployment to any production
-- environment (every region) shipping any of its commits or a copy of one. When that is a baseline (a tie
-- goes to the baseline), the change was in production before the deployment history begins: it keeps the
-- baseline's id and time but gets no lead time.
shipments as (

    select
        change_shippable_commits.change_id,
        production_shipments.deployment_id,
        production_shipments.deployed_at,
        production_shipments.is_baseline,
        change_shippable_commits.is_copy,
        row_number() over (
            partition by change_shippable_commits.change_id
            order by
                production_shipments.deployed_at,
                production_shipments.is_baseline desc,
                change_shippable_commits.is_copy,
                production_shipments.deployment_order_key nulls last,
                production_shipments.deployment_id
        ) as shipment_order,

    from change_shippable_commits
    inner join production_shipments
        on change_shippable_commits.service = production_shipments.service
        and change_shippable_commits.commit_sha = production_shipments.commit_sha

),

first_deployments as (

    select * from shipments where shipment_order = 1

),

joined as (

    select
        changes.change_id,
        changes.change_kind,
        changes.is_from_git_history,
        changes.service,
        changes.team,
        changes.repository,
        changes.pr_number,
        changes.title,
        changes.author_login,
        change_firsts.first_commit_at,
        changes.opened_at,
        first_reviews.first_review_at,
        changes.merged_at,
        first_deployments.deployment_id,
        first_deployments.deployed_at,
        coalesce(first_deployments.is_baseline, false) as is_shipped_by_baseline,
        coalesce(first_deployments.is_copy, false) as is_shipped_as_copy,
        coalesce(change_firsts.commit_count, 0) as commit_count,
        changes.lines_changed,
        -- no review possible for a direct push (non-compliant); a pull request known from git history alone
        -- has no reviews to tell (NULL)
        case
            when changes.change_kind = 'direct_push' then false
            when not changes.is_from_git_history then coalesce(first_reviews.is_reviewed_by_other, false)
        end as is_reviewed_by_other,
        -- the first production deployment's deployer is the change's author (NULL when either is unknown)
        case
            when deployments.deployed_by is not null and changes.author_login is not null
                then lower(deployments.deployed_by) = lower(changes.author_login)
        end as is_deployed_by_author,

    from changes
    left join change_firsts
        on changes.change_id = change_firsts.change_id
    left join first_reviews
        on changes.repository = first_reviews.repository
        and changes.pr_number = first_reviews.pr_number
    left join first_deployments
        on changes.change_id = first_deployments.change_id
    left join deployments
        on first_deployments.deployment_id = deployments.deployment_id

),

-- A branch force-pushed or rebased after the pull request opened can leave no commit older than the
-- opening: the change then starts when the pull request opened and its coding phase is 0.
started as (

    select
        *,
        case
            when opened_at is not null and first_commit_at > opened_at then opened_at
            else first_commit_at
        end as started_at,
        coalesce(opened_at is not null and first_commit_at > opened_at, false) as is_started_at_opening,

    from joined

),

-- Phases: coding = opened - start, pickup = first review - opened, review = merged - first review,
-- deploy = deployed - merged; lead time = deployed - start, where the start is the first commit or, for a
-- branch rewritten after opening, the opening (started). All signed, so they add up exactly.
final as (

    select
        change_id,
        change_kind,
        is_from_git_history,
        service,
        team,
        repository,
        pr_number,
        title,
        author_login,
        first_commit_at,
        opened_at,
        first_review_at,
        merged_at,
        deployment_id,
        deployed_at,
        started_at,
        is_started_at_opening,
        {{ minutes_between('started_at', 'opened_at') }} as coding_minutes,
        {{ minutes_between('opened_at', 'first_review_at') }} as pickup_minutes,
        {{ minutes_between('first_review_at', 'merged_at') }} as review_minutes,
        case
            when not is_shipped_by_baseline then {{ minutes_between('merged_at', 'deployed_at') }}
        end as deploy_minutes,
        case
            when not is_shipped_by_baseline then {{ minutes_between('started_at', 'deployed_at') }}
        end as lead_time_minutes,
        commit_count,
        lines_changed,
        is_reviewed_by_other,
        is_deployed_by_author,
        is_shipped_by_baseline,
        is_shipped_as_copy,
        case
            when deployment_id is null then 'not_deployed'
            when is_shipped_by_baseline then 'shipped_by_baseline'
        end as no_lead_time_reason,

    from started

)

select * from final
