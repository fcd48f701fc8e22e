-- One row per (merged pull request, commit): the PR's own commits plus its merge commit. The merge commit
-- is what reaches the default branch for merge and squash workflows (its head, for rebase, is among the PR
-- commits), so a change is matched to a deployment through any of them. Pull requests and their commits
-- come from the unified layer (int_pull_requests_unioned, int_pull_request_commits_unioned: GitHub, GitLab
-- with its merge and squash commits, and pull requests known from git history only); merged_at lets facts
-- pick the first change bringing a commit.
--
-- One more kind of row comes from reading the commit graph (int_commits_traced_to_pull_requests): commits
-- a host rebased onto the branch, which carry new SHAs: a main-line commit no pull request claims is
-- matched to a merged pull request's commit by author time and first message line.
with

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

pull_request_commits as (

    select * from {{ ref('int_pull_request_commits_unioned') }}

),

traced as (

    select * from {{ ref('int_commits_traced_to_pull_requests') }}

),

-- Merged pull requests of every source; one known from git history only is landed by its merge commit.
merged as (

    select
        repository,
        pr_number,
        merged_at,
        merge_commit_sha,
        squash_commit_sha,
        is_from_git_history,

    from pull_requests
    where is_merged

),

host_merged as (

    select * from merged where not is_from_git_history

),

host_commit_messages as (

    select
        pull_request_commits.repository,
        pull_request_commits.pr_number,
        pull_request_commits.commit_sha,
        pull_request_commits.authored_at,
        pull_request_commits.title as message_title,

    from pull_request_commits
    inner join host_merged
        on pull_request_commits.repository = host_merged.repository
        and pull_request_commits.pr_number = host_merged.pr_number
    where pull_request_commits.source <> 'git'

),

-- Rebase merges put copies of a pull request's commits on the branch: same author time and message, new
-- SHA. Such a copy is matched to the merged pull request's commit when exactly one matches.
rebased_copies as (

    select
        traced.repository,
        host_commit_messages.pr_number,
        traced.commit_sha,

    from traced
    inner join host_commit_messages
        on traced.repository = host_commit_messages.repository
        and traced.authored_at = host_commit_messages.authored_at
        and traced.title = host_commit_messages.message_title
        and traced.commit_sha <> host_commit_messages.commit_sha
    where traced.pr_number is null
        and traced.is_on_main_line
        and not traced.is_merge
    qualify count(*) over (partition by traced.repository, traced.commit_sha) = 1

),

change_commits as (

    select
        repository,
        pr_number,
        commit_sha,

    from pull_request_commits

    union all

    select * from rebased_copies

),

branch_commits as (

    select
        merged.repository,
        merged.pr_number,
        merged.merged_at,
        change_commits.commit_sha,
        false as is_merge_commit,
        merged.is_from_git_history,

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
        is_from_git_history,

    from merged
    where merge_commit_sha is not null

    union all

    select
        repository,
        pr_number,
        merged_at,
        squash_commit_sha as commit_sha,
        true as is_merge_commit,
        is_from_git_history,

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
        bool_or(is_from_git_history) as is_from_git_history,

    from unioned
    group by repository, pr_number, commit_sha

)

select * from final
