{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('git', 'pull_request_heads') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as pr_number,
        null::varchar as head_sha
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(pr_number as integer) as pr_number,
        head_sha

    from source

)

select * from renamed
