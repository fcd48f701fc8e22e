-- One row per deployment from any source (int_deployments_unioned): its service, canonical environment
-- and final status (canonical, with the source's own word in source_status). `is_successful` is the one
-- definition of a successful deployment: its canonical status ships changes (seed deployment_statuses).
-- Service: deployments that name it (tag, workflow, job and branch rules) keep it; a GitHub (GitLab)
-- deployment goes to the first service by name of its repository whose own `github_environment`
-- (`gitlab_environment`) rule matches its environment name, and to the primary service of its repository
-- when no such rule does.
-- Environment of a GitHub (GitLab) deployment: the first of its service's `github_environment`
-- (`gitlab_environment`) rules, in the service's order, whose case-insensitive regex matches the source
-- environment name. A service without rules has the default ones, one per configured environment in rank
-- order with its `match` pattern, for both sources: the behaviour before deploy rules existed. A deployment of a repository no service names is mapped by the
-- environments' patterns as well. Unmatched names are kept as they are, never production.
with

deployments as (

    select * from {{ ref('int_deployments_unioned') }}

),

environments as (

    select * from {{ ref('stg_config__environments') }}

),

deploy_rules as (

    select * from {{ ref('stg_config__deploy_rules') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

deployment_statuses as (

    select * from {{ ref('deployment_statuses') }}

),

-- Which pattern matches which environment name (case-insensitive regex), matched once per distinct name and
-- pattern: a pattern read from a table is compiled again for every row it meets, and the deployments
-- repeat few names (1.55 s of CPU on the large simulated org, matched deployment by deployment).
environment_name_matches as (

    select
        names.source_environment,
        patterns.match_pattern,

    from (
        select distinct source_environment
        from deployments
        where source_environment is not null
    ) as names
    inner join (
        select match_pattern from deploy_rules where match_pattern is not null
        union
        select match_pattern from environments where match_pattern is not null
    ) as patterns
        on regexp_matches(names.source_environment, patterns.match_pattern, 'i')

),

-- A deployment of a repository several services share (a monorepo) belongs to the service whose own
-- environment rule (not a default one) matches its environment name: the first such service by name.
claimed as (

    select
        deployments.deployment_id,
        deploy_rules.service,
        row_number() over (
            partition by deployments.deployment_id
            order by deploy_rules.service, deploy_rules.rule_index
        ) as claim_order,

    from deployments
    inner join repository_services
        on deployments.repository = repository_services.repository
    inner join deploy_rules
        on repository_services.service = deploy_rules.service
        and not coalesce(deploy_rules.is_default, false)
        and deploy_rules.rule_kind = deployments.source_system || '_environment'
    inner join environment_name_matches
        on deployments.source_environment = environment_name_matches.source_environment
        and deploy_rules.match_pattern = environment_name_matches.match_pattern
    where deployments.service is null
        and deployments.environment is null

),

owned as (

    select
        deployments.*,
        coalesce(deployments.service, claimed.service, repository_services.service) as owning_service,

    from deployments
    left join claimed
        on deployments.deployment_id = claimed.deployment_id
        and claimed.claim_order = 1
    left join repository_services
        on deployments.repository = repository_services.repository
        and repository_services.is_primary_service

),

-- Rules per service for environment names; unowned deployments use the environments' own patterns.
environment_rules as (

    select
        service,
        rule_index,
        rule_kind,
        coalesce(is_default, false) as is_default,
        environment,
        match_pattern,

    from deploy_rules
    where rule_kind in ('github_environment', 'gitlab_environment')

),

environment_matches as (

    select
        owned.deployment_id,
        environment_rules.environment,
        row_number() over (
            partition by owned.deployment_id
            order by environment_rules.rule_index, environment_rules.environment
        ) as match_order,

    from owned
    inner join environment_rules
        on owned.owning_service = environment_rules.service
        and (
            environment_rules.is_default
            or environment_rules.rule_kind = owned.source_system || '_environment'
        )
    inner join environment_name_matches
        on owned.source_environment = environment_name_matches.source_environment
        and environment_rules.match_pattern = environment_name_matches.match_pattern
    where owned.environment is null

    union all

    select
        owned.deployment_id,
        environments.environment,
        row_number() over (
            partition by owned.deployment_id
            order by environments.environment_rank, environments.environment
        ) as match_order,

    from owned
    inner join environment_name_matches
        on owned.source_environment = environment_name_matches.source_environment
    inner join environments
        on environment_name_matches.match_pattern = environments.match_pattern
    where owned.environment is null
        and owned.owning_service is null

),

first_matches as (

    select * from environment_matches where match_order = 1

),

joined as (

    select
        owned.deployment_id,
        owned.source_system,
        owned.source_deployment_id,
        owned.owning_service as service,
        repository_services.team,
        owned.repository,
        coalesce(owned.environment, first_matches.environment, owned.source_environment) as environment,
        owned.source_environment,
        environments.environment_rank,
        coalesce(environments.is_production, false) as is_production,
        owned.commit_sha,
        owned.created_at,
        owned.deployed_at,
        owned.status,
        coalesce(deployment_statuses.ships_changes, false) as is_successful,
        owned.source_status,
        owned.deployment_order_key,
        owned.deployed_by,
        owned.is_deployed_by_bot_account,
        owned.pipeline_started_at,

    from owned
    left join first_matches
        on owned.deployment_id = first_matches.deployment_id
    left join environments
        on coalesce(owned.environment, first_matches.environment) = environments.environment
    left join repository_services
        on owned.owning_service = repository_services.service
    left join deployment_statuses
        on owned.status = deployment_statuses.status

),

final as (

    select * from joined

)

select * from final
