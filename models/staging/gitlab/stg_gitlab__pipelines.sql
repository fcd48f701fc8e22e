{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'pipelines') }}

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
