{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'deployments') -%}
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
        null::varchar as environment__name,
        null::varchar as environment__tier,
        null::varchar as status,
        null::timestamptz as created_at,
        null::timestamptz as updated_at,
        null::timestamptz as finished_at,
        null::varchar as user__username,
        null::bigint as deployable__id,
        null::varchar as deployable__name,
        null::bigint as deployable__pipeline__id
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(id as varchar) as deployment_id,
        cast(iid as integer) as deployment_iid,
        sha as commit_sha,
        ref,
        environment__name as environment,
        environment__tier as environment_tier,
        status,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        timezone('UTC', cast(finished_at as timestamptz)) as finished_at,
        user__username as deployer_username,
        cast(deployable__id as varchar) as job_id,
        deployable__name as job_name,
        cast(deployable__pipeline__id as varchar) as pipeline_id

    from source

)

select * from renamed
