{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'merge_requests') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as iid,
        null::bigint as id,
        null::varchar as title,
        null::varchar as author__username,
        null::varchar as state,
        null::boolean as draft,
        null::varchar as source_branch,
        null::varchar as target_branch,
        null::timestamptz as created_at,
        null::timestamptz as updated_at,
        null::timestamptz as merged_at,
        null::timestamptz as closed_at,
        null::varchar as merge_commit_sha,
        null::varchar as squash_commit_sha,
        null::varchar as sha
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(iid as integer) as mr_iid,
        cast(id as varchar) as mr_id,
        title,
        author__username as author_username,
        state,
        coalesce(draft, false) as is_draft,
        source_branch,
        target_branch,
        timezone('UTC', cast(created_at as timestamptz)) as opened_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        timezone('UTC', cast(merged_at as timestamptz)) as merged_at,
        timezone('UTC', cast(closed_at as timestamptz)) as closed_at,
        merge_commit_sha,
        squash_commit_sha,
        sha as head_sha,
        state = 'merged' as is_merged

    from source

)

select * from renamed
