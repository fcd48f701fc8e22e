-- One row per deployment event from any source, before environment mapping: GitHub deployments with their
-- final status, and git tags matching a service's tag rule.
-- GitHub status: the latest status by created_at (ties: status id). 'inactive' is skipped: GitHub adds it
-- to a deployment when a later one replaces it, which says nothing about whether this one succeeded.
-- Tags: a tag of a service's repository matching one of its `tag` rules (case-insensitive regex) is a
-- successful deployment of that service to the rule's environment at the tag's time (tagger date, or the
-- commit date of a lightweight tag). Two rules of one service and environment matching the same tag make
-- one deployment (the first rule). Service and environment of GitHub deployments are resolved later, from
-- the repository and the environment name (int_deployments_mapped_to_environments).
with

github_deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

github_statuses as (

    select * from {{ ref('stg_github__deployment_statuses') }}

),

tags as (

    select * from {{ ref('stg_git__tags') }}

),

deploy_rules as (

    select * from {{ ref('stg_config__deploy_rules') }}

),

services as (

    select * from {{ ref('stg_config__services') }}

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
        coalesce(lower(final_statuses.state), 'pending') as status,
        -- Orders deployments with the same deployed_at: numeric source ids sort as numbers.
        try_cast(github_deployments.deployment_id as bigint) as deployment_order_key,

    from github_deployments
    left join final_statuses
        on github_deployments.repository = final_statuses.repository
        and github_deployments.deployment_id = final_statuses.deployment_id

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
        'success' as status,
        cast(null as bigint) as deployment_order_key,

    from tag_rule_matches
    where match_order = 1

),

final as (

    select * from from_github
    union all
    select * from from_tags

)

select * from final
