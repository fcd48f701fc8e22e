{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('git', 'commits') }}

),

renamed as (

    select
        repository,
        sha as commit_sha,
        cast(json_extract_string(parent_shas, '$[*]') as varchar[]) as parent_shas,
        author_name,
        author_email,
        timezone('UTC', cast(authored_at as timestamptz)) as authored_at,
        timezone('UTC', cast(committed_at as timestamptz)) as committed_at,
        author_utc_offset,
        committer_utc_offset,
        subject,
        case when body is null then subject else subject || chr(10) || chr(10) || body end as message,
        cast(pr_number as integer) as pr_number

    from source

)

select * from renamed
