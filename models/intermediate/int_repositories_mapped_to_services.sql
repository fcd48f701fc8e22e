-- One row per (repository, service) from the configuration. Several services may share a repository (a
-- monorepo). A service with `paths` owns the files they match (docs/metrics.md, "Services by path"); a
-- change's files decide which of those services it counts for (int_pull_requests_mapped_to_services).
-- What no path decides goes to the repository's fallback service: the first by name among its services
-- without paths, or, when every service of the repository has paths, the first by name. In a repository
-- without paths the fallback is the primary service: the first by name, so the choice is stable between
-- refreshes. A deployment no service-specific rule claims goes to the primary service.
with

services as (

    select * from {{ ref('stg_config__services') }}

),

service_paths as (

    select * from {{ ref('stg_config__service_paths') }}

),

with_paths as (

    select
        services.repository,
        services.service,
        services.team,
        exists (
            select 1
            from service_paths
            where service_paths.service = services.service
        ) as has_paths,

    from services
    where services.repository is not null

),

ranked as (

    select
        repository,
        service,
        team,
        has_paths,
        bool_or(has_paths) over (partition by repository) as is_path_repository,
        row_number() over (partition by repository order by service) = 1 as is_primary_service,
        row_number() over (partition by repository order by has_paths, service) = 1 as is_fallback_service,

    from with_paths

),

final as (

    select * from ranked

)

select * from final
