{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'pipelines') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as id,
        null::bigint as iid,
        null::varchar as sha,
        null::varchar as ref,
        null::varchar as status,
        null::varchar as source,
        null::timestamptz as created_at,
        null::timestamptz as updated_at
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(id as varchar) as pipeline_id,
        cast(iid as integer) as pipeline_iid,
        sha as commit_sha,
        ref,
        status,
        source,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at

    from source

)

select * from renamed
