{#- Alerts are optional: without the raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('alerts', 'alerts') }}

),

renamed as (

    select
        cast(source as varchar) || ':' || cast(id as varchar) as alert_id,
        cast(source as varchar) as source_system,
        cast(id as varchar) as source_alert_id,
        cast(service as varchar) as service,
        cast(title as varchar) as title,
        cast(severity as varchar) as severity,
        timezone('UTC', cast(started_at as timestamptz)) as started_at,
        timezone('UTC', cast(resolved_at as timestamptz)) as resolved_at

    from source

)

select * from renamed
