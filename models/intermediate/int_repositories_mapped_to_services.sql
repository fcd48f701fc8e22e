-- One row per (repository, service) from the configuration. Several services may share a repository
-- (a monorepo); until path rules exist, facts keyed by a repository event (a deployment, a pull request)
-- go to the repository's primary service: the first by name, so the choice is stable between refreshes.
with

services as (

    select * from {{ ref('stg_config__services') }}

),

ranked as (

    select
        repository,
        service,
        team,
        row_number() over (partition by repository order by service) = 1 as is_primary_service,

    from services
    where repository is not null

),

final as (

    select * from ranked

)

select * from final
