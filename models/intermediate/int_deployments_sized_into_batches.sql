-- One row per deployment: the size of its batch (docs/metrics.md, "Batch size"). The batch is what the
-- deployment shipped that no earlier deployment of its service and environment had
-- (int_commits_attributed_to_deployments): its pull requests, the distinct authors of its non-merge
-- commits (a merge commit carries others' work), and the lines its pull requests change (additions +
-- deletions as the host counts them). Lines are NULL when any of its pull requests has no size, or it
-- shipped commits no pull request brought (git gives no line counts here): a partial sum would understate
-- the batch. A deployment that shipped nothing new has a batch of 0 lines. The class comes from the seed
-- batch_size_classes (min_lines <= lines < max_lines; an empty max_lines is open). A pull request's commits
-- are those the graph groups into it and those of its branch (int_pull_request_commits_unioned), so a fix
-- deployed from its branch before the merge has its pull request as its batch.
with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

pull_request_commits as (

    select repository, pr_number, commit_sha from {{ ref('int_commits_grouped_into_pull_requests') }}
    union
    select repository, pr_number, commit_sha from {{ ref('int_pull_request_commits_unioned') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

pull_request_services as (

    select * from {{ ref('int_pull_requests_mapped_to_services') }}

),

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

commits as (

    select * from {{ ref('int_commits_unioned') }}

),

batch_size_classes as (

    select * from {{ ref('batch_size_classes') }}

),

-- Each commit the deployment shipped, in each repository of its service, with its details where that
-- repository's graph has it, once per pull request that holds it there (once, with none, when none does).
-- One pass over the shipped commits serves the pull requests and the authors both (two joins of the
-- shipped commits with the pull requests' commits before: most of the model's time on a large org).
shipped_commits as (

    select
        attributed.deployment_id,
        attributed.service,
        repository_services.repository,
        repository_services.is_path_repository,
        len(commits.parent_shas) <= 1 as is_not_merge,
        coalesce(lower(commits.author_email), commits.author_login, commits.author_name) as author_key,
        pull_request_commits.pr_number,
        pull_request_commits.commit_sha is not null as is_in_pull_request,

    from attributed
    inner join repository_services
        on attributed.service = repository_services.service
    left join commits
        on repository_services.repository = commits.repository
        and attributed.commit_sha = commits.commit_sha
    left join pull_request_commits
        on repository_services.repository = pull_request_commits.repository
        and attributed.commit_sha = pull_request_commits.commit_sha

),

-- in a repository where services own paths, a service's batch holds only its own pull requests (the two
-- parts are disjoint: the check on the services' pull requests runs on the path repositories' rows only)
batch_pull_requests as (

    select distinct
        deployment_id,
        repository,
        pr_number,

    from shipped_commits
    where is_in_pull_request
        and not coalesce(is_path_repository, false)

    union all

    select distinct
        deployment_id,
        repository,
        pr_number,

    from shipped_commits
    where is_in_pull_request
        and is_path_repository
        and exists (
            select 1
            from pull_request_services
            where pull_request_services.repository = shipped_commits.repository
                and pull_request_services.pr_number = shipped_commits.pr_number
                and pull_request_services.service = shipped_commits.service
        )

),

batch_lines as (

    select
        batch_pull_requests.deployment_id,
        count(*) as pr_count,
        sum(pull_requests.lines_changed) as lines_changed,
        count(*) filter (where pull_requests.lines_changed is null) as unsized_pr_count,

    from batch_pull_requests
    left join pull_requests
        on batch_pull_requests.repository = pull_requests.repository
        and batch_pull_requests.pr_number = pull_requests.pr_number
    group by batch_pull_requests.deployment_id

),

-- authors of the non-merge commits the graph knows, and those of them no pull request holds (a commit in
-- no pull request has one row above, so it is counted once)
batch_commits as (

    select
        deployment_id,
        count(distinct author_key) filter (where is_not_merge) as author_count,
        count(*) filter (where is_not_merge and not is_in_pull_request) as unsized_commit_count,

    from shipped_commits
    group by deployment_id

),

batches as (

    select
        deployments.deployment_id,
        coalesce(batch_lines.pr_count, 0) as batch_pr_count,
        coalesce(batch_commits.author_count, 0) as batch_author_count,
        case
            when coalesce(batch_lines.unsized_pr_count, 0) = 0
                and coalesce(batch_commits.unsized_commit_count, 0) = 0
                then coalesce(batch_lines.lines_changed, 0)
        end as batch_lines_changed,

    from deployments
    left join batch_lines
        on deployments.deployment_id = batch_lines.deployment_id
    left join batch_commits
        on deployments.deployment_id = batch_commits.deployment_id

),

final as (

    select
        batches.*,
        batch_size_classes.batch_size_class,

    from batches
    left join batch_size_classes
        on batches.batch_lines_changed >= batch_size_classes.min_lines
        and (batch_size_classes.max_lines is null or batches.batch_lines_changed < batch_size_classes.max_lines)

)

select * from final
