{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'deployment_statuses') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as deployment_id,
        null::bigint as id,
        null::varchar as state,
        null::varchar as environment,
        null::timestamptz as created_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(deployment_id as varchar) as deployment_id,
        cast(id as varchar) as status_id,
        state,
        environment,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
