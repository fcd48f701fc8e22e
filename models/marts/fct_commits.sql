-- One row per (commit, service): every commit any source knows (int_commits_unioned) in a configured
-- service's repository, with the pull (merge) request that brought it and its first production deployment.
with

commits as (

    select * from {{ ref('int_commits_unioned') }}

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
        commits.commit_sha,
        repository_services.service,
        repository_services.team,
        commits.repository,
        commits.authored_at,
        commits.committed_at,
        commits.author_login,
        bringing_pull_requests.pr_number,
        first_production.deployment_id,
        first_production.deployed_at,

    from commits
    inner join repository_services
        on commits.repository = repository_services.repository
    left join bringing_pull_requests
        on commits.repository = bringing_pull_requests.repository
        and commits.commit_sha = bringing_pull_requests.commit_sha
    left join first_production
        on repository_services.service = first_production.service
        and commits.commit_sha = first_production.commit_sha

)

select * from final
