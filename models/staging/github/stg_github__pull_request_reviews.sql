{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'pull_request_reviews') -%}
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
        null::varchar as user__login,
        null::varchar as state,
        null::timestamptz as submitted_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        cast(id as varchar) as review_id,
        user__login as reviewer_login,
        state,
        timezone('UTC', cast(submitted_at as timestamptz)) as submitted_at

    from source

)

select * from renamed
