{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('git', 'commits') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as sha,
        null::json as parent_shas,
        null::varchar as author_name,
        null::varchar as author_email,
        null::timestamptz as authored_at,
        null::varchar as author_utc_offset,
        null::varchar as committer_name,
        null::varchar as committer_email,
        null::timestamptz as committed_at,
        null::varchar as committer_utc_offset,
        null::varchar as subject,
        null::varchar as body,
        null::bigint as pr_number
    where false
    {%- endif %}

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
