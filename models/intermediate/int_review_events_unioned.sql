-- One row per sign that someone looked at a pull request, in one vocabulary (docs/architecture.md, "The
-- unified layer"): a submitted GitHub review whatever its verdict (a pending one is not submitted yet), a
-- GitHub review comment, a human GitLab note (system notes are GitLab's own), a GitLab approval. Whether
-- the reviewer is someone other than the author is for the consumer to decide. reviewer_type is the host's
-- account type where it says (GitHub: `User`, `Bot`, ...; GitLab's objects here name none).
with

reviews as (

    select * from {{ ref('stg_github__pull_request_reviews') }}

),

review_comments as (

    select * from {{ ref('stg_github__pull_request_review_comments') }}

),

merge_request_notes as (

    select * from {{ ref('stg_gitlab__merge_request_notes') }}

),

merge_request_approvals as (

    select * from {{ ref('stg_gitlab__merge_request_approvals') }}

),

final as (

    select
        repository || '#' || pr_number as change_id,
        repository,
        pr_number,
        reviewer_login,
        reviewer_type,
        submitted_at as reviewed_at,
        'review' as event_kind,
        'github' as source,

    from reviews
    where upper(state) <> 'PENDING'
        and submitted_at is not null

    union all

    select
        repository || '#' || pr_number as change_id,
        repository,
        pr_number,
        commenter_login as reviewer_login,
        commenter_type as reviewer_type,
        created_at as reviewed_at,
        'review_comment' as event_kind,
        'github' as source,

    from review_comments

    union all

    select
        project || '!' || mr_iid as change_id,
        project as repository,
        mr_iid as pr_number,
        author_username as reviewer_login,
        cast(null as varchar) as reviewer_type,
        created_at as reviewed_at,
        'note' as event_kind,
        'gitlab' as source,

    from merge_request_notes
    where not is_system

    union all

    select
        project || '!' || mr_iid as change_id,
        project as repository,
        mr_iid as pr_number,
        approver_username as reviewer_login,
        cast(null as varchar) as reviewer_type,
        approved_at as reviewed_at,
        'approval' as event_kind,
        'gitlab' as source,

    from merge_request_approvals

)

select * from final
