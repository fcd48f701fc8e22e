-- One row per source deployment: its service, canonical environment and final status.
-- Environment: the first configured rule (lowest rank) whose case-insensitive regex matches the source's
-- environment name; unmatched names are kept as they are, never production.
-- Status: the latest status by created_at (ties: status id). 'inactive' is skipped: GitHub adds it to a
-- deployment when a later one replaces it, which says nothing about whether this one succeeded.
with

deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

statuses as (

    select * from {{ ref('stg_github__deployment_statuses') }}

),

environments as (

    select * from {{ ref('stg_config__environments') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

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

    from statuses
    where lower(state) <> 'inactive'

),

final_statuses as (

    select * from outcome_statuses where recency = 1

),

environment_matches as (

    select
        deployments.repository,
        deployments.deployment_id,
        environments.environment,
        environments.environment_rank,
        environments.is_production,
        row_number() over (
            partition by deployments.repository, deployments.deployment_id
            order by environments.environment_rank, environments.environment
        ) as match_order,

    from deployments
    inner join environments
        on regexp_matches(deployments.environment, environments.match_pattern, 'i')

),

first_matches as (

    select * from environment_matches where match_order = 1

),

joined as (

    select
        'github:' || deployments.deployment_id as deployment_id,
        'github' as source_system,
        deployments.deployment_id as source_deployment_id,
        repository_services.service,
        repository_services.team,
        deployments.repository,
        coalesce(first_matches.environment, deployments.environment) as environment,
        deployments.environment as source_environment,
        first_matches.environment_rank,
        coalesce(first_matches.is_production, false) as is_production,
        deployments.commit_sha,
        deployments.created_at,
        final_statuses.created_at as deployed_at,
        coalesce(lower(final_statuses.state), 'pending') as status,
        -- Orders deployments with the same deployed_at: numeric source ids sort as numbers.
        try_cast(deployments.deployment_id as bigint) as deployment_order_key,

    from deployments
    left join final_statuses
        on deployments.repository = final_statuses.repository
        and deployments.deployment_id = final_statuses.deployment_id
    left join first_matches
        on deployments.repository = first_matches.repository
        and deployments.deployment_id = first_matches.deployment_id
    left join repository_services
        on deployments.repository = repository_services.repository
        and repository_services.is_primary_service

),

final as (

    select * from joined

)

select * from final
