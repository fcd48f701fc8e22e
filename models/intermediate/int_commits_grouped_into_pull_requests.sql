-- One row per (merged pull request, commit): the PR's own commits plus its merge commit. The merge commit
-- is what reaches the default branch for merge and squash workflows (its head, for rebase, is among the PR
-- commits), so a change is matched to a deployment through any of them.
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

pull_request_commits as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

merged as (

    select * from pull_requests where is_merged

),

branch_commits as (

    select
        merged.repository,
        merged.pr_number,
        pull_request_commits.commit_sha,
        false as is_merge_commit,

    from merged
    inner join pull_request_commits
        on merged.repository = pull_request_commits.repository
        and merged.pr_number = pull_request_commits.pr_number

),

merge_commits as (

    select
        repository,
        pr_number,
        merge_commit_sha as commit_sha,
        true as is_merge_commit,

    from merged
    where merge_commit_sha is not null

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

    from unioned
    group by repository, pr_number, commit_sha

)

select * from final
