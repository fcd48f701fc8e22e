{#- GitHub is optional, and older servers may not list branches: without the raw table this model is
    empty, with the same columns. -#}
{%- set raw = source('github', 'branches') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as name,
        null::varchar as commit_sha,
        null::boolean as protected
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        name as branch,
        commit_sha,
        cast(protected as boolean) as is_protected

    from source

)

select * from renamed
