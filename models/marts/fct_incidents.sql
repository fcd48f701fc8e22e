with

incidents as (

    select * from {{ ref('int_incidents_blamed_on_deployments') }}

),

final as (

    select
        incident_id,
        source_system,
        source_incident_id,
        service,
        team,
        title,
        urgency,
        created_at,
        acknowledged_at,
        resolved_at,
        deployment_id,
        {{ minutes_between('created_at', 'resolved_at') }} as time_to_resolve_minutes,

    from incidents

)

select * from final
