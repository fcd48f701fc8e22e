{#- PagerDuty is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('pagerduty', 'services') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as id,
        null::varchar as name
    where false
    {%- endif %}

),

renamed as (

    select
        cast(id as varchar) as pd_service_id,
        name as pd_service_name

    from source

)

select * from renamed
