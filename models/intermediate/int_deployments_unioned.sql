-- One row per deployment event from any source, before environment mapping: GitHub deployments with their
-- final status, GitLab deployments, and what a service's deploy rules make deployments of: git tags (tag),
-- GitHub Actions runs (workflow), Jenkins builds (jenkins_job) and commits reaching a branch (branch_push).
-- GitHub status: the latest status by created_at (ties: status id). 'inactive' is skipped: GitHub adds it
-- to a deployment when a later one replaces it, which says nothing about whether this one succeeded.
-- Tags (local clones, GitHub, GitLab): a tag of a service's repository matching one of its `tag` rules
-- (case-insensitive regex) is a successful deployment of that service to the rule's environment at the
-- tag's time (tagger date, or the commit date of a lightweight tag). Two rules of one service and environment matching the same tag make
-- one deployment (the first rule). Service and environment of GitHub and GitLab deployments are resolved
-- later, from the repository and the environment name (int_deployments_mapped_to_environments).
-- Runs and builds: a completed run of the service's repository whose workflow name matches a `workflow`
-- rule (and its head branch the rule's `branch`, when given; its event one of the rule's events; its head
-- repository the service's own unless the rule counts forks), or a finished build of a Jenkins job whose
-- full name matches a `jenkins_job` rule (and its branch), is a deployment to the rule's environment at
-- its finish time. Jenkins knows no repository: the rule's service gives it.
-- Status: every source's own word is kept in source_status and mapped, case-insensitively, through the
-- seed deployment_source_statuses to the canonical vocabulary of the seed deployment_statuses (success,
-- failure, cancelled, in_progress, other); a word the seed does not list is 'other', never an error.
-- Tags and branch pushes have no word: they are successes. A GitHub deployment without any status is
-- in_progress.
-- Who deployed (deployed_by): the GitHub deployment's creator, the Actions run's actor, the GitLab
-- deployment's user, the Jenkins build's first cause; tags and branch pushes do not say (NULL).
-- is_deployed_by_bot_account: the source itself says the account is an app (GitHub's `Bot` type, a Jenkins
-- cause that is no user); NULL where it does not say. pipeline_started_at: when the pipeline that deployed
-- began (GitHub deployment creation, Actions run start, GitLab pipeline creation, Jenkins build start).
-- Branch pushes: each commit on the first-parent chain of a branch matching a `branch_push` rule is a
-- successful deployment at its committer time (int_commits_pushed_to_deploy_branches).
with

github_deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

github_statuses as (

    select * from {{ ref('stg_github__deployment_statuses') }}

),

git_tags as (

    select * from {{ ref('stg_git__tags') }}

),

github_tags as (

    select * from {{ ref('stg_github__tags') }}

),

github_commits as (

    select * from {{ ref('stg_github__commits') }}

),

gitlab_tags as (

    select * from {{ ref('stg_gitlab__tags') }}

),

deploy_rules as (

    select * from {{ ref('stg_config__deploy_rules') }}

),

services as (

    select * from {{ ref('stg_config__services') }}

),

gitlab_deployments as (

    select * from {{ ref('stg_gitlab__deployments') }}

),

gitlab_pipelines as (

    select * from {{ ref('stg_gitlab__pipelines') }}

),

workflow_runs as (

    select * from {{ ref('stg_github__workflow_runs') }}

),

jenkins_builds as (

    select * from {{ ref('stg_jenkins__builds') }}

),

branch_pushes as (

    select * from {{ ref('int_commits_pushed_to_deploy_branches') }}

),

source_statuses as (

    select * from {{ ref('deployment_source_statuses') }}

),

outcome_statuses as (

    select
        repository,
        deployment_id,
        state,
        created_at,
        row_number() over (
            partition by repository, deployment_id
            order by created_at desc, try_cast(status_id as bigint) desc nulls last, status_id desc
        ) as recency,

    from github_statuses
    where lower(state) <> 'inactive'

),

final_statuses as (

    select * from outcome_statuses where recency = 1

),

from_github as (

    select
        'github:' || github_deployments.deployment_id as deployment_id,
        'github' as source_system,
        github_deployments.deployment_id as source_deployment_id,
        github_deployments.repository,
        cast(null as varchar) as service,
        cast(null as varchar) as environment,
        github_deployments.environment as source_environment,
        github_deployments.commit_sha,
        github_deployments.created_at,
        final_statuses.created_at as deployed_at,
        final_statuses.state as source_status,
        case when final_statuses.deployment_id is null then 'in_progress' end as implied_status,
        -- Orders deployments with the same deployed_at: numeric source ids sort as numbers.
        try_cast(github_deployments.deployment_id as bigint) as deployment_order_key,
        github_deployments.creator_login as deployed_by,
        lower(github_deployments.creator_type) = 'bot' as is_deployed_by_bot_account,
        -- the pipeline that deploys creates the deployment and sets its final status
        github_deployments.created_at as pipeline_started_at,

    from github_deployments
    left join final_statuses
        on github_deployments.repository = final_statuses.repository
        and github_deployments.deployment_id = final_statuses.deployment_id

),

-- Tags from every source, one per repository and name: a local clone first (it knows every tag's time),
-- then GitHub (a lightweight tag's time is its commit's), then GitLab (tag creation, else commit time).
all_tags as (

    select
        repository,
        tag,
        commit_sha,
        tagged_at,
        1 as source_priority,

    from git_tags

    union all

    select
        github_tags.repository,
        github_tags.tag_name as tag,
        github_tags.commit_sha,
        coalesce(github_tags.tagged_at, github_commits.committed_at) as tagged_at,
        2 as source_priority,

    from github_tags
    left join github_commits
        on github_tags.repository = github_commits.repository
        and github_tags.commit_sha = github_commits.commit_sha

    union all

    select
        project as repository,
        tag_name as tag,
        commit_sha,
        coalesce(tagged_at, committed_at) as tagged_at,
        3 as source_priority,

    from gitlab_tags

),

tags as (

    select
        repository,
        tag,
        arg_min(commit_sha, source_priority) as commit_sha,
        arg_min(tagged_at, source_priority) as tagged_at,

    from all_tags
    group by repository, tag

),

tag_rule_matches as (

    select
        tags.repository,
        tags.tag,
        tags.commit_sha,
        tags.tagged_at,
        deploy_rules.service,
        deploy_rules.environment,
        row_number() over (
            partition by deploy_rules.service, deploy_rules.environment, tags.repository, tags.tag
            order by deploy_rules.rule_index
        ) as match_order,

    from tags
    inner join services
        on tags.repository = services.repository
    inner join deploy_rules
        on services.service = deploy_rules.service
        and deploy_rules.rule_kind = 'tag'
        and regexp_matches(tags.tag, deploy_rules.match_pattern, 'i')

),

from_tags as (

    select
        'git_tag:' || service || '/' || environment || ':' || repository || '@' || tag as deployment_id,
        'git_tag' as source_system,
        repository || '@' || tag as source_deployment_id,
        repository,
        service,
        environment,
        cast(null as varchar) as source_environment,
        commit_sha,
        tagged_at as created_at,
        tagged_at as deployed_at,
        cast(null as varchar) as source_status,
        'success' as implied_status,
        cast(null as bigint) as deployment_order_key,
        cast(null as varchar) as deployed_by,
        cast(null as boolean) as is_deployed_by_bot_account,
        cast(null as timestamp) as pipeline_started_at,

    from tag_rule_matches
    where match_order = 1

),

from_gitlab as (

    select
        'gitlab:' || gitlab_deployments.deployment_id as deployment_id,
        'gitlab' as source_system,
        gitlab_deployments.deployment_id as source_deployment_id,
        gitlab_deployments.project as repository,
        cast(null as varchar) as service,
        cast(null as varchar) as environment,
        gitlab_deployments.environment as source_environment,
        gitlab_deployments.commit_sha,
        gitlab_deployments.created_at,
        -- Only a finished deployment has a finish time; created, running and blocked ones wait, and a
        -- skipped one never ran.
        case
            when lower(gitlab_deployments.status) in ('success', 'failed', 'canceled')
                then coalesce(gitlab_deployments.finished_at, gitlab_deployments.updated_at)
        end as deployed_at,
        gitlab_deployments.status as source_status,
        cast(null as varchar) as implied_status,
        try_cast(gitlab_deployments.deployment_id as bigint) as deployment_order_key,
        gitlab_deployments.deployer_username as deployed_by,
        cast(null as boolean) as is_deployed_by_bot_account,
        -- the deployment's pipeline from its creation (the deployment's own creation without it)
        coalesce(gitlab_pipelines.created_at, gitlab_deployments.created_at) as pipeline_started_at,

    from gitlab_deployments
    left join gitlab_pipelines
        on gitlab_deployments.project = gitlab_pipelines.project
        and gitlab_deployments.pipeline_id = gitlab_pipelines.pipeline_id

),

-- First matching rule per (service, environment, run): two rules of one environment make one deployment.
workflow_rule_matches as (

    select
        workflow_runs.repository,
        workflow_runs.run_id,
        workflow_runs.environment as source_environment,
        workflow_runs.commit_sha,
        workflow_runs.conclusion,
        workflow_runs.status as run_status,
        workflow_runs.started_at,
        workflow_runs.updated_at,
        workflow_runs.actor_login,
        deploy_rules.service,
        deploy_rules.environment,
        row_number() over (
            partition by deploy_rules.service, deploy_rules.environment, workflow_runs.repository,
                workflow_runs.run_id
            order by deploy_rules.rule_index
        ) as match_order,

    from workflow_runs
    inner join services
        on workflow_runs.repository = services.repository
    inner join deploy_rules
        on services.service = deploy_rules.service
        and deploy_rules.rule_kind = 'workflow'
        and regexp_matches(workflow_runs.workflow_name, deploy_rules.match_pattern, 'i')
        and (
            deploy_rules.branch_pattern is null
            or regexp_matches(coalesce(workflow_runs.head_branch, ''), deploy_rules.branch_pattern, 'i')
        )
        -- only the events the rule counts (default: pushes and dispatches, never pull request runs) ...
        and list_contains(deploy_rules.workflow_events, lower(workflow_runs.event))
        -- ... and only the service's own code: a fork's head (its SHA, its `main`) is not the service's
        -- unless the rule counts forks; runs loaded before the head repository was read name none
        and (
            deploy_rules.is_fork_run_counted
            or workflow_runs.head_repository is null
            or lower(workflow_runs.head_repository) = lower(workflow_runs.repository)
        )
    where workflow_runs.is_completed

),

from_workflows as (

    select
        'github_actions:' || service || '/' || environment || ':' || run_id as deployment_id,
        'github_actions' as source_system,
        run_id as source_deployment_id,
        repository,
        service,
        environment,
        source_environment,
        commit_sha,
        started_at as created_at,
        updated_at as deployed_at,
        coalesce(conclusion, run_status) as source_status,
        cast(null as varchar) as implied_status,
        try_cast(run_id as bigint) as deployment_order_key,
        actor_login as deployed_by,
        cast(null as boolean) as is_deployed_by_bot_account,
        started_at as pipeline_started_at,

    from workflow_rule_matches
    where match_order = 1

),

-- The rules each (job, branch) matches, matched once per distinct pair: a pattern read from a table is
-- compiled again for every row it meets, and builds repeat few jobs and branches (46 pairs for 7,254
-- builds on the large simulated org, 2.8 s of CPU matched build by build).
jenkins_job_branch_rules as (

    select
        job_branches.job,
        job_branches.branch,
        deploy_rules.service,
        deploy_rules.environment,
        deploy_rules.rule_index,

    from (
        select distinct job, branch
        from jenkins_builds
        where not is_building
    ) as job_branches
    inner join deploy_rules
        on deploy_rules.rule_kind = 'jenkins_job'
        and regexp_matches(job_branches.job, deploy_rules.match_pattern, 'i')
        and (
            deploy_rules.branch_pattern is null
            or regexp_matches(coalesce(job_branches.branch, ''), deploy_rules.branch_pattern, 'i')
        )

),

jenkins_rule_matches as (

    select
        jenkins_builds.job,
        jenkins_builds.build_number,
        jenkins_builds.result,
        jenkins_builds.commit_sha,
        jenkins_builds.started_at,
        jenkins_builds.finished_at,
        jenkins_builds.triggered_by,
        jenkins_builds.is_triggered_by_automation,
        matched_rules.service,
        services.repository,
        matched_rules.environment,
        row_number() over (
            partition by matched_rules.service, matched_rules.environment, jenkins_builds.job,
                jenkins_builds.build_number
            order by matched_rules.rule_index
        ) as match_order,

    from jenkins_builds
    inner join jenkins_job_branch_rules as matched_rules
        on jenkins_builds.job is not distinct from matched_rules.job
        and jenkins_builds.branch is not distinct from matched_rules.branch
    inner join services
        on matched_rules.service = services.service
    where not jenkins_builds.is_building

),

from_jenkins as (

    select
        'jenkins:' || service || '/' || environment || ':' || job || '#' || build_number as deployment_id,
        'jenkins' as source_system,
        job || '#' || build_number as source_deployment_id,
        repository,
        service,
        environment,
        cast(null as varchar) as source_environment,
        commit_sha,
        started_at as created_at,
        finished_at as deployed_at,
        result as source_status,
        cast(null as varchar) as implied_status,
        cast(build_number as bigint) as deployment_order_key,
        triggered_by as deployed_by,
        is_triggered_by_automation as is_deployed_by_bot_account,
        started_at as pipeline_started_at,

    from jenkins_rule_matches
    where match_order = 1

),

from_branch_pushes as (

    select
        'git_push:' || service || '/' || environment || ':' || repository || '@' || commit_sha as deployment_id,
        'git_push' as source_system,
        repository || '@' || commit_sha as source_deployment_id,
        repository,
        service,
        environment,
        cast(null as varchar) as source_environment,
        commit_sha,
        pushed_at as created_at,
        pushed_at as deployed_at,
        cast(null as varchar) as source_status,
        'success' as implied_status,
        chain_position as deployment_order_key,
        cast(null as varchar) as deployed_by,
        cast(null as boolean) as is_deployed_by_bot_account,
        cast(null as timestamp) as pipeline_started_at,

    from branch_pushes

),

unioned as (

    select * from from_github
    union all
    select * from from_tags
    union all
    select * from from_gitlab
    union all
    select * from from_workflows
    union all
    select * from from_jenkins
    union all
    select * from from_branch_pushes

),

mapped as (

    select
        unioned.deployment_id,
        unioned.source_system,
        unioned.source_deployment_id,
        unioned.repository,
        unioned.service,
        unioned.environment,
        unioned.source_environment,
        unioned.commit_sha,
        unioned.created_at,
        unioned.deployed_at,
        coalesce(unioned.implied_status, source_statuses.status, 'other') as status,
        unioned.source_status,
        unioned.deployment_order_key,
        unioned.deployed_by,
        unioned.is_deployed_by_bot_account,
        unioned.pipeline_started_at,

    from unioned
    left join source_statuses
        on unioned.source_system = source_statuses.source_system
        and lower(trim(unioned.source_status)) = source_statuses.source_status

),

final as (

    select * from mapped

)

select * from final
