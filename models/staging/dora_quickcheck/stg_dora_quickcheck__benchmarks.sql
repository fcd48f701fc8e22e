{#- The Quick Check folder is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('dora_quickcheck', 'benchmarks') }}

),

renamed as (

    select
        cast(edition as integer) as edition,
        cast(comparison as varchar) as comparison,
        cast(segment as varchar) as segment,
        cast(segment_name as varchar) as segment_name,
        {{ quickcheck_metric_name('metric') }} as metric,
        cast(mean as double) as published_mean,
        cast(std as double) as published_std

    from source

)

select * from renamed
