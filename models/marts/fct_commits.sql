with

commits as (

    select * from {{ ref('stg_github__commits') }}

),

git_commits as (

    select * from {{ ref('stg_git__commits') }}

),

pull_request_commit_details as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

gitlab_commits as (

    select * from {{ ref('stg_gitlab__commits') }}

),

merge_request_commits as (

    select * from {{ ref('stg_gitlab__merge_request_commits') }}

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

-- Commits of squashed or rebased branches are known only as pull request commits.
all_commits as (

    select
        repository,
        commit_sha,
        author_login,
        authored_at,
        committed_at,
        1 as source_priority,

    from commits

    union all

    select
        repository,
        commit_sha,
        null as author_login,
        authored_at,
        committed_at,
        2 as source_priority,

    from pull_request_commit_details

    union all

    -- A local clone knows every commit, but not GitHub logins.
    select
        repository,
        commit_sha,
        null as author_login,
        authored_at,
        committed_at,
        3 as source_priority,

    from git_commits

    union all

    -- A GitLab project is a repository named by its path; GitLab commits carry names, not usernames.
    select
        project as repository,
        commit_sha,
        null as author_login,
        authored_at,
        committed_at,
        4 as source_priority,

    from gitlab_commits

    union all

    select
        project as repository,
        commit_sha,
        null as author_login,
        authored_at,
        committed_at,
        5 as source_priority,

    from merge_request_commits

),

distinct_commits as (

    select
        repository,
        commit_sha,
        arg_min(author_login, source_priority) as author_login,
        arg_min(authored_at, source_priority) as authored_at,
        arg_min(committed_at, source_priority) as committed_at,

    from all_commits
    group by repository, commit_sha

),

-- The pull (merge) request that brought a commit: the first merged one containing it, as its host lists it
-- or, for a local clone, as the graph walk found it behind a merge or squash commit.
bringing_pull_requests as (

    select
        repository,
        commit_sha,
        arg_min(pr_number, merged_at) as pr_number,

    from pull_request_commits
    group by repository, commit_sha

),

first_production as (

    select
        service,
        commit_sha,
        arg_min(
            deployment_id,
            (deployed_at, coalesce(deployment_order_key, 9223372036854775807), deployment_id)
        ) as deployment_id,
        min(deployed_at) as deployed_at,

    from production_shipments
    group by service, commit_sha

),

final as (

    select
        distinct_commits.commit_sha,
        repository_services.service,
        repository_services.team,
        distinct_commits.repository,
        distinct_commits.authored_at,
        distinct_commits.committed_at,
        distinct_commits.author_login,
        bringing_pull_requests.pr_number,
        first_production.deployment_id,
        first_production.deployed_at,

    from distinct_commits
    inner join repository_services
        on distinct_commits.repository = repository_services.repository
    left join bringing_pull_requests
        on distinct_commits.repository = bringing_pull_requests.repository
        and distinct_commits.commit_sha = bringing_pull_requests.commit_sha
    left join first_production
        on repository_services.service = first_production.service
        and distinct_commits.commit_sha = first_production.commit_sha

)

select * from final
