{#- Jenkins is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('jenkins', 'builds') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as job_full_name,
        null::bigint as number,
        null::varchar as result,
        null::boolean as building,
        null::bigint as timestamp,
        null::bigint as duration,
        null::varchar as commit_sha,
        null::varchar as branch,
        null::json as parameters,
        null::varchar as url
    where false
    {%- endif %}

),

renamed as (

    select
        job_full_name as job,
        cast(number as integer) as build_number,
        result,
        coalesce(cast(building as boolean), false) as is_building,
        -- Jenkins reports epoch milliseconds; epoch_ms gives a naive UTC timestamp
        epoch_ms(cast(timestamp as bigint)) as started_at,
        -- a running build reports duration 0: it has no end yet
        case
            when not coalesce(cast(building as boolean), false)
                then epoch_ms(cast(timestamp as bigint) + cast(duration as bigint))
        end as finished_at,
        case
            when not coalesce(cast(building as boolean), false)
                then cast(duration as double) / 1000
        end as duration_seconds,
        commit_sha,
        branch,
        cast(parameters as json) as parameters,
        url as build_url

    from source

)

select * from renamed
