{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'environments') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as id,
        null::varchar as name,
        null::varchar as tier,
        null::varchar as state,
        null::timestamptz as created_at,
        null::timestamptz as updated_at
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(id as varchar) as environment_id,
        name as environment,
        tier as environment_tier,
        state,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at

    from source

)

select * from renamed
