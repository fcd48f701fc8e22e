{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'projects') }}

),

renamed as (

    select
        cast(id as varchar) as project_id,
        project,
        name as project_name,
        default_branch,
        web_url,
        coalesce(archived, false) as is_archived,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(last_activity_at as timestamptz)) as last_activity_at

    from source

)

select * from renamed
