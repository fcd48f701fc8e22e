{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'repositories') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::bigint as id,
        null::varchar as full_name,
        null::varchar as name,
        null::varchar as default_branch,
        null::timestamptz as created_at
    where false
    {%- endif %}

),

renamed as (

    select
        cast(id as varchar) as repository_id,
        full_name as repository,
        name as repository_name,
        default_branch,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
