{#- The staging body of `raw_<source>.quarantine` (ingestion/quarantine.py), the same for every source.
    A source that never quarantined anything (or is not configured) has no such table: the model is then
    empty, with the same columns. -#}
{% macro stg_quarantine(source_name) -%}
{#- The columns of every source's quarantine table (ingestion/quarantine.py writes the same for all). -#}
{%- set columns = [
    ('source', 'varchar'),
    ('resource', 'varchar'),
    ('scope', 'varchar'),
    ('record_key', 'varchar'),
    ('reason', 'varchar'),
    ('action', 'varchar'),
    ('field', 'varchar'),
    ('value', 'varchar'),
    ('quarantined_at', 'timestamptz'),
    ('_dlt_load_id', 'varchar'),
    ('_dlt_id', 'varchar'),
] -%}

with

source as (

    {{ optional_source(source_name, 'quarantine', columns) }}

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
