{#- Jenkins is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('jenkins', 'jobs') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as full_name,
        null::varchar as name,
        null::varchar as folder,
        null::varchar as job_class,
        null::varchar as url,
        null::boolean as buildable
    where false
    {%- endif %}

),

renamed as (

    select
        full_name as job,
        name as job_name,
        folder,
        job_class,
        url as job_url,
        cast(buildable as boolean) as is_buildable

    from source

)

select * from renamed
