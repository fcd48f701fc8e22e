{#- GitHub Actions is optional (disabled, hidden from the token, or not served): without the raw table this
    model is empty, with the same columns. -#}
{%- set raw = source('github', 'workflow_runs') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}
{#- A warehouse whose runs were loaded before the head repository was read lacks its raw column until a
    changed run is loaded again: it is then null. -#}
{%- set raw_columns = (adapter.get_columns_in_relation(raw) | map(attribute='name') | list)
    if (execute and raw_exists) else [] -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as id,
        null::varchar as name,
        null::varchar as path,
        null::bigint as workflow_id,
        null::bigint as run_number,
        null::bigint as run_attempt,
        null::varchar as event,
        null::varchar as status,
        null::varchar as conclusion,
        null::varchar as head_sha,
        null::varchar as head_branch,
        null::varchar as head_repository__full_name,
        null::varchar as environment,
        null::varchar as actor__login,
        null::json as pull_requests,
        null::timestamptz as created_at,
        null::timestamptz as run_started_at,
        null::timestamptz as updated_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(id as varchar) as run_id,
        cast(workflow_id as varchar) as workflow_id,
        -- old runs (before 2021) carry neither the workflow's name nor its file path
        name as workflow_name,
        path as workflow_path,
        -- GitHub's run object names no environment; kept for servers (and emulators) that send one
        environment,
        cast(run_number as integer) as run_number,
        cast(coalesce(run_attempt, 1) as integer) as run_attempt,
        event,
        status,
        conclusion,
        head_sha as commit_sha,
        head_branch,
        -- owner/name of the repository holding the head commit: a fork's for pull requests from forks
        {% if 'head_repository__full_name' in raw_columns or not raw_exists -%}
        head_repository__full_name as head_repository,
        {%- else -%}
        null::varchar as head_repository,
        {%- endif %}
        actor__login as actor_login,
        cast(pull_requests as integer[]) as pr_numbers,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        -- run_started_at moves on re-runs; runs recorded before 2021 lack it
        timezone('UTC', cast(coalesce(run_started_at, created_at) as timestamptz)) as started_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        lower(status) = 'completed' as is_completed

    from source

)

select * from renamed
