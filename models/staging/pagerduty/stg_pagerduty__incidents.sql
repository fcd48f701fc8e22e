{#- PagerDuty is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('pagerduty', 'incidents') }}

),

renamed as (

    select
        cast(id as varchar) as incident_id,
        cast(incident_number as integer) as incident_number,
        cast(service__id as varchar) as pd_service_id,
        title,
        status,
        urgency,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(acknowledged_at as timestamptz)) as acknowledged_at,
        timezone('UTC', cast(resolved_at as timestamptz)) as resolved_at

    from source

)

select * from renamed
