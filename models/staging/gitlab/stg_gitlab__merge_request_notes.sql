{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'merge_request_notes') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as merge_request_iid,
        null::bigint as id,
        null::varchar as author__username,
        null::varchar as merge_request_author_username,
        null::boolean as system,
        null::timestamptz as created_at
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(merge_request_iid as integer) as mr_iid,
        cast(id as varchar) as note_id,
        author__username as author_username,
        coalesce(system, false) as is_system,
        (not coalesce(system, false))
            and author__username is not null
            and author__username is distinct from merge_request_author_username
            as is_reviewer_note,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
