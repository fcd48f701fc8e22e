{#- The staging body of `raw_<source>.quarantine` (ingestion/quarantine.py), the same for every source.
    A source that never quarantined anything (or is not configured) has no such table: the model is then
    empty, with the same columns. -#}
{% macro stg_quarantine(source_name) -%}
{%- set raw = source(source_name, 'quarantine') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as source,
        null::varchar as resource,
        null::varchar as scope,
        null::varchar as record_key,
        null::varchar as reason,
        null::varchar as action,
        null::varchar as field,
        null::varchar as value,
        null::timestamptz as quarantined_at,
        null::varchar as _dlt_load_id,
        null::varchar as _dlt_id
    where false
    {%- endif %}

),

renamed as (

    select
        cast(source as varchar) as source,
        cast(resource as varchar) as resource,
        cast(scope as varchar) as scope,
        cast(record_key as varchar) as record_key,
        cast(reason as varchar) as reason,
        cast(action as varchar) as action,
        cast(field as varchar) as field_name,
        cast(value as varchar) as field_value,
        timezone('UTC', cast(quarantined_at as timestamptz)) as quarantined_at,
        cast(_dlt_load_id as varchar) as load_id,
        cast(_dlt_id as varchar) as quarantine_row_id

    from source

)

select * from renamed
{%- endmacro %}
