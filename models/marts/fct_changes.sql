-- One row per merged pull request (GitHub) or merge request (GitLab): the unit of change lead time and its
-- phases. Pickup ends at the first sign someone other than the author looked at it: a submitted review or
-- a review comment on GitHub; a human note or an approval on GitLab. Review runs from there to the merge.
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

pull_request_commit_details as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

reviews as (

    select * from {{ ref('stg_github__pull_request_reviews') }}

),

review_comments as (

    select * from {{ ref('stg_github__pull_request_review_comments') }}

),

merge_requests as (

    select * from {{ ref('stg_gitlab__merge_requests') }}

),

merge_request_commits as (

    select * from {{ ref('stg_gitlab__merge_request_commits') }}

),

merge_request_notes as (

    select * from {{ ref('stg_gitlab__merge_request_notes') }}

),

merge_request_approvals as (

    select * from {{ ref('stg_gitlab__merge_request_approvals') }}

),

pull_request_commits as (

    select * from {{ ref('int_commits_grouped_into_pull_requests') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

production_shipments as (

    select * from {{ ref('int_commits_shipped_to_production') }}

),

merged_changes as (

    select
        repository || '#' || pr_number as change_id,
        repository,
        pr_number,
        title,
        author_login,
        opened_at,
        merged_at,

    from pull_requests
    where is_merged

    union all

    -- A GitLab project is a repository named by its path; an MR's iid plays the pull request's number.
    select
        project || '!' || mr_iid as change_id,
        project as repository,
        mr_iid as pr_number,
        title,
        author_username as author_login,
        opened_at,
        merged_at,

    from merge_requests
    where is_merged

),

merged as (

    select
        merged_changes.*,
        repository_services.service,
        repository_services.team,

    from merged_changes
    left join repository_services
        on merged_changes.repository = repository_services.repository
        and repository_services.is_primary_service

),

change_commit_details as (

    select
        repository,
        pr_number,
        commit_sha,
        authored_at,

    from pull_request_commit_details

    union all

    select
        project as repository,
        mr_iid as pr_number,
        commit_sha,
        authored_at,

    from merge_request_commits

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

-- Every sign of review by someone other than the author: a submitted GitHub review whatever its verdict
-- (a pending one is not submitted yet), a GitHub review comment, a human GitLab note, a GitLab approval.
review_events as (

    select
        repository,
        pr_number,
        reviewer_login,
        submitted_at as reviewed_at,

    from reviews
    where upper(state) <> 'PENDING'
        and submitted_at is not null

    union all

    select
        repository,
        pr_number,
        commenter_login as reviewer_login,
        created_at as reviewed_at,

    from review_comments

    union all

    select
        project as repository,
        mr_iid as pr_number,
        author_username as reviewer_login,
        created_at as reviewed_at,

    from merge_request_notes
    where not is_system

    union all

    select
        project as repository,
        mr_iid as pr_number,
        approver_username as reviewer_login,
        approved_at as reviewed_at,

    from merge_request_approvals

),

first_reviews as (

    select
        review_events.repository,
        review_events.pr_number,
        min(review_events.reviewed_at) as first_review_at,

    from review_events
    inner join merged
        on review_events.repository = merged.repository
        and review_events.pr_number = merged.pr_number
    where review_events.reviewed_at is not null
        and review_events.reviewer_login is not null
        and review_events.reviewer_login is distinct from merged.author_login
    group by review_events.repository, review_events.pr_number

),

-- Earliest non-baseline production deployment shipping any commit of the change; a change shipped only
-- by a baseline deployment falls back to it (and gets no lead time).
shipments as (

    select
        merged.repository,
        merged.pr_number,
        production_shipments.deployment_id,
        production_shipments.deployed_at,
        production_shipments.is_baseline,
        row_number() over (
            partition by merged.repository, merged.pr_number
            order by
                production_shipments.is_baseline,
                production_shipments.deployed_at,
                production_shipments.deployment_order_key nulls last,
                production_shipments.deployment_id
        ) as shipment_order,

    from merged
    inner join pull_request_commits
        on merged.repository = pull_request_commits.repository
        and merged.pr_number = pull_request_commits.pr_number
    inner join production_shipments
        on merged.service = production_shipments.service
        and pull_request_commits.commit_sha = production_shipments.commit_sha

),

first_deployments as (

    select * from shipments where shipment_order = 1

),

joined as (

    select
        merged.change_id,
        merged.service,
        merged.team,
        merged.repository,
        merged.pr_number,
        merged.title,
        merged.author_login,
        first_commits.first_commit_at,
        merged.opened_at,
        first_reviews.first_review_at,
        merged.merged_at,
        first_deployments.deployment_id,
        first_deployments.deployed_at,
        coalesce(first_deployments.is_baseline, false) as is_shipped_by_baseline,
        coalesce(first_commits.commit_count, 0) as commit_count,

    from merged
    left join first_commits
        on merged.repository = first_commits.repository
        and merged.pr_number = first_commits.pr_number
    left join first_reviews
        on merged.repository = first_reviews.repository
        and merged.pr_number = first_reviews.pr_number
    left join first_deployments
        on merged.repository = first_deployments.repository
        and merged.pr_number = first_deployments.pr_number

),

-- Phases: coding = opened - first commit, pickup = first review - opened, review = merged - first review,
-- deploy = deployed - merged; lead time = deployed - first commit. All signed, so they add up exactly.
final as (

    select
        change_id,
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
        {{ minutes_between('first_commit_at', 'opened_at') }} as coding_minutes,
        {{ minutes_between('opened_at', 'first_review_at') }} as pickup_minutes,
        {{ minutes_between('first_review_at', 'merged_at') }} as review_minutes,
        case
            when not is_shipped_by_baseline then {{ minutes_between('merged_at', 'deployed_at') }}
        end as deploy_minutes,
        case
            when not is_shipped_by_baseline then {{ minutes_between('first_commit_at', 'deployed_at') }}
        end as lead_time_minutes,
        commit_count,

    from joined

)

select * from final
