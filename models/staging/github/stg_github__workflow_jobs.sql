{#- Jobs exist only with workflow runs (see stg_github__workflow_runs): otherwise this model is empty. -#}
{%- set raw = source('github', 'workflow_jobs') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as id,
        null::bigint as run_id,
        null::bigint as run_attempt,
        null::varchar as workflow_name,
        null::varchar as name,
        null::varchar as head_sha,
        null::varchar as head_branch,
        null::varchar as status,
        null::varchar as conclusion,
        null::timestamptz as started_at,
        null::timestamptz as completed_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(id as varchar) as job_id,
        cast(run_id as varchar) as run_id,
        cast(coalesce(run_attempt, 1) as integer) as run_attempt,
        workflow_name,
        name as job_name,
        head_sha as commit_sha,
        head_branch,
        status,
        conclusion,
        timezone('UTC', cast(started_at as timestamptz)) as started_at,
        timezone('UTC', cast(completed_at as timestamptz)) as completed_at

    from source

)

select * from renamed
