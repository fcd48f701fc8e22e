-- One row per (merged pull request, commit): the PR's own commits plus its merge commit. The merge commit
-- is what reaches the default branch for merge and squash workflows (its head, for rebase, is among the PR
-- commits), so a change is matched to a deployment through any of them. GitLab merge requests join in
-- the same shape (repository = project path, pr_number = the MR's iid), with their merge and squash
-- commits; merged_at lets facts pick the first change bringing a commit.
--
-- Two more kinds of rows come from reading the commit graph (int_commits_traced_to_pull_requests):
-- pull requests a local clone knows only from its merge and squash commits (no host record of them), and
-- commits a host rebased onto the branch, which carry new SHAs: a main-line commit no pull request claims is
-- matched to a merged pull request's commit by author time and first message line.
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

traced as (

    select * from {{ ref('int_commits_traced_to_pull_requests') }}

),

host_merged as (

    select
        repository,
        pr_number,
        merged_at,
        merge_commit_sha,
        cast(null as varchar) as squash_commit_sha,
        false as is_from_git_history,

    from pull_requests
    where is_merged

    union all

    select
        project as repository,
        mr_iid as pr_number,
        merged_at,
        merge_commit_sha,
        squash_commit_sha,
        false as is_from_git_history,

    from merge_requests
    where is_merged

),

-- A pull request a clone names in a merge or squash commit and no host reports: the landing commit is its
-- merge commit, merged at that commit's committer time.
reconstructed as (

    select
        traced.repository,
        traced.pr_number,
        traced.committed_at as merged_at,
        traced.commit_sha as landing_sha,

    from traced
    where traced.is_landing
        and not exists (
            select 1
            from host_merged
            where host_merged.repository = traced.repository
                and host_merged.pr_number = traced.pr_number
        )
    qualify row_number() over (
        partition by traced.repository, traced.pr_number order by traced.committed_at, traced.commit_sha
    ) = 1

),

merged as (

    select * from host_merged

    union all

    select
        repository,
        pr_number,
        merged_at,
        landing_sha as merge_commit_sha,
        cast(null as varchar) as squash_commit_sha,
        true as is_from_git_history,

    from reconstructed

),

host_change_commits as (

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

host_commit_messages as (

    select
        pull_request_commits.repository,
        pull_request_commits.pr_number,
        pull_request_commits.commit_sha,
        pull_request_commits.authored_at,
        split_part(pull_request_commits.message, chr(10), 1) as message_title,

    from pull_request_commits
    inner join host_merged
        on pull_request_commits.repository = host_merged.repository
        and pull_request_commits.pr_number = host_merged.pr_number

    union all

    select
        merge_request_commits.project as repository,
        merge_request_commits.mr_iid as pr_number,
        merge_request_commits.commit_sha,
        merge_request_commits.authored_at,
        split_part(merge_request_commits.message, chr(10), 1) as message_title,

    from merge_request_commits
    inner join host_merged
        on merge_request_commits.project = host_merged.repository
        and merge_request_commits.mr_iid = host_merged.pr_number

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
        and split_part(traced.message, chr(10), 1) = host_commit_messages.message_title
        and traced.commit_sha <> host_commit_messages.commit_sha
    where traced.pr_number is null
        and traced.is_on_main_line
        and not traced.is_merge
    qualify count(*) over (partition by traced.repository, traced.commit_sha) = 1

),

change_commits as (

    select * from host_change_commits

    union all

    -- Commits the graph walk gave to a reconstructed pull request (its first landing is added below as
    -- the merge commit; a second landing, e.g. a cherry-picked merge on a maintenance branch, is here).
    select
        traced.repository,
        traced.pr_number,
        traced.commit_sha,

    from traced
    inner join reconstructed
        on traced.repository = reconstructed.repository
        and traced.pr_number = reconstructed.pr_number

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
