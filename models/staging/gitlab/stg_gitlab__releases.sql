{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'releases') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::varchar as tag_name,
        null::varchar as name,
        null::varchar as commit__id,
        null::timestamptz as created_at,
        null::timestamptz as released_at,
        null::boolean as upcoming_release
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        tag_name,
        name as release_name,
        commit__id as commit_sha,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(released_at as timestamptz)) as released_at,
        coalesce(upcoming_release, false) as is_upcoming

    from source

)

select * from renamed
