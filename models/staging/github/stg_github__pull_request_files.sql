{#- Pull request files are optional (not served by every server, or a warehouse loaded before they were
    read): without the raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'pull_request_files') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as pull_number,
        null::varchar as filename,
        null::varchar as previous_filename,
        null::varchar as status,
        null::bigint as additions,
        null::bigint as deletions
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        filename as file_path,
        previous_filename as previous_file_path,
        status as change_status,
        cast(additions as integer) as additions,
        cast(deletions as integer) as deletions

    from source

)

select * from renamed
