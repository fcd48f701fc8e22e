{#- Tags are optional (see stg_github__releases): without the raw table this model is empty. -#}
{%- set raw = source('github', 'tags') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as name,
        null::varchar as object_sha,
        null::varchar as object_type,
        null::varchar as commit_sha,
        null::varchar as tagger_name,
        null::varchar as tagger_email,
        null::timestamptz as tagged_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        name as tag_name,
        object_sha,
        -- an annotated tag is an object of its own; a lightweight tag names the commit directly
        object_type = 'tag' as is_annotated,
        commit_sha,
        tagger_name,
        tagger_email,
        timezone('UTC', cast(tagged_at as timestamptz)) as tagged_at

    from source

)

select * from renamed
