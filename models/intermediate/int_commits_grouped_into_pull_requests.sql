-- One row per (merged pull request, commit): the PR's own commits plus its merge commit. The merge commit
-- is what reaches the default branch for merge and squash workflows (its head, for rebase, is among the PR
-- commits), so a change is matched to a deployment through any of them. GitLab merge requests join in
-- the same shape (repository = project path, pr_number = the MR's iid), with their merge and squash
-- commits; merged_at lets facts pick the first change bringing a commit.
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

pull_request_commits as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

merge_requests as (

    select * from {{ ref('stg_gitlab__merge_requests') }}

),

merge_request_commits as (

    select * from {{ ref('stg_gitlab__merge_request_commits') }}

),

merged as (

    select
        repository,
        pr_number,
        merged_at,
        merge_commit_sha,
        cast(null as varchar) as squash_commit_sha,

    from pull_requests
    where is_merged

    union all

    select
        project as repository,
        mr_iid as pr_number,
        merged_at,
        merge_commit_sha,
        squash_commit_sha,

    from merge_requests
    where is_merged

),

change_commits as (

    select
        repository,
        pr_number,
        commit_sha,

    from pull_request_commits

    union all

    select
        project as repository,
        mr_iid as pr_number,
        commit_sha,

    from merge_request_commits

),

branch_commits as (

    select
        merged.repository,
        merged.pr_number,
        merged.merged_at,
        change_commits.commit_sha,
        false as is_merge_commit,

    from merged
    inner join change_commits
        on merged.repository = change_commits.repository
        and merged.pr_number = change_commits.pr_number

),

merge_commits as (

    select
        repository,
        pr_number,
        merged_at,
        merge_commit_sha as commit_sha,
        true as is_merge_commit,

    from merged
    where merge_commit_sha is not null

    union all

    select
        repository,
        pr_number,
        merged_at,
        squash_commit_sha as commit_sha,
        true as is_merge_commit,

    from merged
    where squash_commit_sha is not null

),

unioned as (

    select * from branch_commits
    union all
    select * from merge_commits

),

final as (

    select
        repository,
        pr_number,
        commit_sha,
        bool_or(is_merge_commit) as is_merge_commit,
        min(merged_at) as merged_at,

    from unioned
    group by repository, pr_number, commit_sha

)

select * from final
