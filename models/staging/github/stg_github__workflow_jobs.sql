{#- Jobs exist only with workflow runs (see stg_github__workflow_runs): otherwise this model is empty. -#}

with

source as (

    {{ optional_source('github', 'workflow_jobs') }}

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
