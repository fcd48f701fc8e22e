{#- additions, deletions and changed_files come from each pull request's own page; a warehouse loaded
    before they were read lacks the raw columns, and they are then null. -#}
{%- set raw = source('github', 'pull_requests') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}
{%- set raw_columns = (adapter.get_columns_in_relation(raw) | map(attribute='name') | list)
    if (execute and raw_exists) else [] -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    {#- GitHub is optional (a warehouse of local git repositories only has no raw_github). -#}
    select
        null::varchar as repository,
        null::bigint as number,
        null::bigint as id,
        null::varchar as title,
        null::varchar as user__login,
        null::varchar as state,
        null::timestamptz as created_at,
        null::timestamptz as updated_at,
        null::timestamptz as merged_at,
        null::timestamptz as closed_at,
        null::varchar as merge_commit_sha,
        null::varchar as head__sha,
        null::varchar as base__ref
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(number as integer) as pr_number,
        cast(id as varchar) as pr_id,
        title,
        user__login as author_login,
        state,
        timezone('UTC', cast(created_at as timestamptz)) as opened_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        timezone('UTC', cast(merged_at as timestamptz)) as merged_at,
        timezone('UTC', cast(closed_at as timestamptz)) as closed_at,
        merge_commit_sha,
        head__sha as head_sha,
        base__ref as base_ref,
        merged_at is not null as is_merged,
        {% for column in ['additions', 'deletions', 'changed_files'] -%}
        {% if column in raw_columns -%}
        cast({{ column }} as integer) as {{ column }}
        {%- else -%}
        null::integer as {{ column }}
        {%- endif %}{{ ',' if not loop.last }}
        {% endfor %}

    from source

)

select * from renamed
