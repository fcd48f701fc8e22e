{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'tags') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::varchar as name,
        null::varchar as commit__id,
        null::varchar as target,
        null::varchar as message,
        null::timestamptz as created_at,
        null::timestamptz as commit__committed_date
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        name as tag_name,
        commit__id as commit_sha,
        target as target_sha,
        target is distinct from commit__id as is_annotated,
        message,
        timezone('UTC', cast(created_at as timestamptz)) as tagged_at,
        timezone('UTC', cast(commit__committed_date as timestamptz)) as committed_at

    from source

)

select * from renamed
