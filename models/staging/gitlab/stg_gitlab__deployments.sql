{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'deployments') }}

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
