{#- Releases are optional (a repository without them, or a warehouse loaded before they were read, has no
    raw table): this model is then empty, with the same columns. -#}
{%- set raw = source('github', 'releases') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as id,
        null::varchar as tag_name,
        null::varchar as target_commitish,
        null::varchar as name,
        null::boolean as draft,
        null::boolean as prerelease,
        null::timestamptz as created_at,
        null::timestamptz as published_at,
        null::varchar as author__login
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(id as varchar) as release_id,
        tag_name,
        target_commitish,
        name as release_name,
        author__login as author_login,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(published_at as timestamptz)) as published_at,
        coalesce(draft, false) as is_draft,
        coalesce(prerelease, false) as is_prerelease

    from source

)

select * from renamed
