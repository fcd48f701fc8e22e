{#- PagerDuty is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('pagerduty', 'incidents') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as id,
        null::bigint as incident_number,
        null::varchar as service__id,
        null::varchar as title,
        null::varchar as status,
        null::varchar as urgency,
        null::timestamptz as created_at,
        null::timestamptz as acknowledged_at,
        null::timestamptz as resolved_at
    where false
    {%- endif %}

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
