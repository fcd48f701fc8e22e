-- One row per (pull request, commit) as each source lists a pull request's commits, in one vocabulary
-- (docs/architecture.md, "The unified layer"): GitHub's pull request commits, GitLab's merge request
-- commits (project as repository, iid as pr_number), and for a pull request known from git history only
-- (int_pull_requests_unioned) the commits the graph walk gave it, its landing commits included
-- (`is_landing_commit`: the commit the union records as its merge commit).
with

pull_request_commits as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

merge_request_commits as (

    select * from {{ ref('stg_gitlab__merge_request_commits') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

traced as (

    select * from {{ ref('int_commits_traced_to_pull_requests') }}

),

final as (

    select
        repository || '#' || pr_number as change_id,
        repository,
        pr_number,
        commit_sha,
        authored_at,
        message,
        split_part(message, chr(10), 1) as title,
        false as is_landing_commit,
        'github' as source,

    from pull_request_commits

    union all

    select
        project || '!' || mr_iid as change_id,
        project as repository,
        mr_iid as pr_number,
        commit_sha,
        authored_at,
        message,
        split_part(message, chr(10), 1) as title,
        false as is_landing_commit,
        'gitlab' as source,

    from merge_request_commits

    union all

    select
        pull_requests.change_id,
        traced.repository,
        traced.pr_number,
        traced.commit_sha,
        traced.authored_at,
        traced.message,
        traced.title,
        traced.commit_sha = pull_requests.merge_commit_sha as is_landing_commit,
        'git' as source,

    from traced
    inner join pull_requests
        on traced.repository = pull_requests.repository
        and traced.pr_number = pull_requests.pr_number
    where pull_requests.is_from_git_history

)

select * from final
