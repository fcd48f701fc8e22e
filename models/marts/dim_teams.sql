with

teams as (

    select * from {{ ref('stg_config__teams') }}

),

services as (

    select * from {{ ref('stg_config__services') }}

),

service_counts as (

    select
        team,
        count(*) as service_count,

    from services
    group by team

),

final as (

    select
        teams.team,
        teams.description,
        teams.department,
        teams.reporting_line,
        coalesce(service_counts.service_count, 0) as service_count,

    from teams
    left join service_counts
        on teams.team = service_counts.team

)

select * from final
