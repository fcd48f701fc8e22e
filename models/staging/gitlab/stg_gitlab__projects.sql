{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'projects') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::bigint as id,
        null::varchar as project,
        null::varchar as name,
        null::varchar as default_branch,
        null::varchar as web_url,
        null::boolean as archived,
        null::timestamptz as created_at,
        null::timestamptz as last_activity_at
    where false
    {%- endif %}

),

renamed as (

    select
        cast(id as varchar) as project_id,
        project,
        name as project_name,
        default_branch,
        web_url,
        coalesce(archived, false) as is_archived,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(last_activity_at as timestamptz)) as last_activity_at

    from source

)

select * from renamed
