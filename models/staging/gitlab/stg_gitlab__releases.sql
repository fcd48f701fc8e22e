{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'releases') }}

),

renamed as (

    select
        project,
        tag_name,
        name as release_name,
        commit__id as commit_sha,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(released_at as timestamptz)) as released_at,
        coalesce(upcoming_release, false) as is_upcoming

    from source

)

select * from renamed
