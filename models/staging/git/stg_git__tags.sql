{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('git', 'tags') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as tag,
        null::varchar as sha,
        null::boolean as is_annotated,
        null::timestamptz as tagged_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        tag,
        sha as commit_sha,
        cast(is_annotated as boolean) as is_annotated,
        timezone('UTC', cast(tagged_at as timestamptz)) as tagged_at

    from source

)

select * from renamed
