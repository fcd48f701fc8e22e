{#- A configuration mapping no PagerDuty service loads no rows, and dlt creates no table for none: the model
    is then empty, with the same columns. -#}
{%- set raw = source('org_config', 'service_pagerduty') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as service,
        null::varchar as pd_service_id
    where false
    {%- endif %}

),

renamed as (

    select
        service,
        cast(pd_service_id as varchar) as pd_service_id

    from source

)

select * from renamed
