-- One row per pull request of any source, in one vocabulary (docs/architecture.md, "The unified layer"):
-- GitHub pull requests, GitLab merge requests (a project is a repository named by its path, an MR's iid
-- plays the pull request's number) and the merged pull requests a local clone knows only from their landing
-- commit (int_commits_traced_to_pull_requests). Priority: a host's record of a merged pull request, then
-- the clone's landing (only of a pull request no host knows as merged), then a host's record of one it
-- does not know as merged.
--
-- A pull request from git history is merged at its first landing's committer time; its title is the merge
-- message's first body line (GitHub writes the pull request's title there) or the squash title without its
-- `(#N)`; it has no opened time and no author login.
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

merge_requests as (

    select * from {{ ref('stg_gitlab__merge_requests') }}

),

traced as (

    select * from {{ ref('int_commits_traced_to_pull_requests') }}

),

host_pull_requests as (

    select
        repository || '#' || pr_number as change_id,
        'pull_request' as change_kind,
        repository,
        pr_number,
        title,
        author_login,
        opened_at,
        merged_at,
        is_merged,
        merge_commit_sha,
        cast(null as varchar) as squash_commit_sha,
        false as is_from_git_history,
        head_ref as head_branch,
        labels,
        'github' as source,
        additions,
        deletions,

    from pull_requests

    union all

    select
        project || '!' || mr_iid as change_id,
        'merge_request' as change_kind,
        project as repository,
        mr_iid as pr_number,
        title,
        author_username as author_login,
        opened_at,
        merged_at,
        is_merged,
        merge_commit_sha,
        squash_commit_sha,
        false as is_from_git_history,
        source_branch as head_branch,
        labels,
        'gitlab' as source,
        -- GitLab's merge request list counts changed files only, not lines
        cast(null as integer) as additions,
        cast(null as integer) as deletions,

    from merge_requests

),

git_history_pull_requests as (

    select
        repository || '#' || pr_number as change_id,
        'pull_request' as change_kind,
        repository,
        pr_number,
        case
            when is_merge
                then coalesce(nullif(trim(split_part(message, chr(10), 3)), ''), split_part(message, chr(10), 1))
            else regexp_replace(split_part(message, chr(10), 1), '\s*\(#\d+\)\s*$', '')
        end as title,
        cast(null as varchar) as author_login,
        cast(null as timestamp) as opened_at,
        committed_at as merged_at,
        true as is_merged,
        commit_sha as merge_commit_sha,
        cast(null as varchar) as squash_commit_sha,
        true as is_from_git_history,
        cast(null as varchar) as head_branch,
        cast([] as varchar[]) as labels,
        'git' as source,
        cast(null as integer) as additions,
        cast(null as integer) as deletions,

    from traced
    where is_landing
        and not exists (
            select 1
            from host_pull_requests
            where host_pull_requests.is_merged
                and host_pull_requests.repository = traced.repository
                and host_pull_requests.pr_number = traced.pr_number
        )
    qualify row_number() over (partition by repository, pr_number order by committed_at, commit_sha) = 1

),

unioned as (

    select *, case when is_merged then 1 else 3 end as source_priority from host_pull_requests
    union all by name
    select *, 2 as source_priority from git_history_pull_requests

),

-- A change one source knows is that source's row; only a change several sources know is ranked (the ranking
-- keeps a whole row per change, which costs more than the rest of the model when done for every change).
repeated_changes as (

    select change_id
    from unioned
    group by change_id
    having count(*) > 1

),

chosen as (

    select *
    from unioned
    anti join repeated_changes
        on unioned.change_id is not distinct from repeated_changes.change_id

    union all

    select *
    from unioned
    semi join repeated_changes
        on unioned.change_id is not distinct from repeated_changes.change_id
    qualify row_number() over (partition by change_id order by source_priority) = 1

),

final as (

    select
        change_id,
        change_kind,
        repository,
        pr_number,
        title,
        author_login,
        opened_at,
        merged_at,
        is_merged,
        merge_commit_sha,
        squash_commit_sha,
        is_from_git_history,
        head_branch,
        labels,
        source,
        additions,
        deletions,
        -- lines added plus lines deleted, as the host counts them; NULL where it does not say
        additions + deletions as lines_changed,

    from chosen

)

select * from final
