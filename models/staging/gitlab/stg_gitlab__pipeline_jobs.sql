{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'pipeline_jobs') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as id,
        null::bigint as pipeline_id,
        null::varchar as name,
        null::varchar as stage,
        null::varchar as status,
        null::varchar as ref,
        null::boolean as tag,
        null::varchar as commit_sha,
        null::timestamptz as created_at,
        null::timestamptz as started_at,
        null::timestamptz as finished_at,
        null::double as duration
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(id as varchar) as job_id,
        cast(pipeline_id as varchar) as pipeline_id,
        name as job_name,
        stage,
        status,
        ref,
        coalesce(tag, false) as is_tag,
        commit_sha,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(started_at as timestamptz)) as started_at,
        timezone('UTC', cast(finished_at as timestamptz)) as finished_at,
        cast(duration as double) as duration_seconds

    from source

)

select * from renamed
