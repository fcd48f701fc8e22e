{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'branches') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::varchar as name,
        null::varchar as commit_sha,
        null::timestamptz as committed_at,
        null::boolean as is_default,
        null::boolean as protected
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        name as branch,
        commit_sha,
        timezone('UTC', cast(committed_at as timestamptz)) as committed_at,
        cast(is_default as boolean) as is_default,
        cast(protected as boolean) as is_protected

    from source

)

select * from renamed
