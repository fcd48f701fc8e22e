{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'pipeline_jobs') }}

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
