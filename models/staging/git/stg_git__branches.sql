{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('git', 'branches') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as branch,
        null::varchar as sha,
        null::boolean as is_remote,
        null::timestamptz as committed_at
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        branch,
        sha as commit_sha,
        cast(is_remote as boolean) as is_remote,
        timezone('UTC', cast(committed_at as timestamptz)) as committed_at

    from source

)

select * from renamed
