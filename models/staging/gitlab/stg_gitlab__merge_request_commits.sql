{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'merge_request_commits') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as merge_request_iid,
        null::varchar as id,
        null::json as parent_ids,
        null::timestamptz as authored_date,
        null::timestamptz as committed_date,
        null::varchar as message
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(merge_request_iid as integer) as mr_iid,
        id as commit_sha,
        cast(json_extract_string(parent_ids, '$[*]') as varchar[]) as parent_shas,
        timezone('UTC', cast(authored_date as timestamptz)) as authored_at,
        timezone('UTC', cast(committed_date as timestamptz)) as committed_at,
        message

    from source

)

select * from renamed
