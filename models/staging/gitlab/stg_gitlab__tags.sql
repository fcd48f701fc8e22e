{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'tags') }}

),

renamed as (

    select
        project,
        name as tag_name,
        commit__id as commit_sha,
        target as target_sha,
        target is distinct from commit__id as is_annotated,
        message,
        timezone('UTC', cast(created_at as timestamptz)) as tagged_at,
        timezone('UTC', cast(commit__committed_date as timestamptz)) as committed_at

    from source

)

select * from renamed
