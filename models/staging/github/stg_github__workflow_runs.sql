{#- GitHub Actions is optional (disabled, hidden from the token, or not served): without the raw table this
    model is empty, with the same columns. A warehouse whose runs were loaded before the head repository was
    read lacks that raw column until a changed run is loaded again: it is then null. -#}

with

source as (

    {{ optional_source('github', 'workflow_runs') }}

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
        head_repository__full_name as head_repository,
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
