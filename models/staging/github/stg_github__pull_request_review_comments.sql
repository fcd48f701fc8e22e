{#- Review comments are optional (see stg_github__pull_request_files): without the raw table this model is
    empty, with the same columns. -#}
{%- set raw = source('github', 'pull_request_review_comments') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as pull_number,
        null::bigint as id,
        null::bigint as pull_request_review_id,
        null::bigint as in_reply_to_id,
        null::varchar as user__login,
        null::timestamptz as created_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        cast(id as varchar) as comment_id,
        cast(pull_request_review_id as varchar) as review_id,
        cast(in_reply_to_id as varchar) as in_reply_to_comment_id,
        user__login as commenter_login,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
