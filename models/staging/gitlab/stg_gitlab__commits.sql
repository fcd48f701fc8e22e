{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'commits') }}

),

renamed as (

    select
        project,
        id as commit_sha,
        cast(json_extract_string(parent_ids, '$[*]') as varchar[]) as parent_shas,
        author_name,
        author_email,
        committer_email,
        timezone('UTC', cast(authored_date as timestamptz)) as authored_at,
        timezone('UTC', cast(committed_date as timestamptz)) as committed_at,
        message

    from source

)

select * from renamed
