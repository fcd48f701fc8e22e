{#- The Quick Check folder is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('dora_quickcheck', 'answers') }}

),

renamed as (

    select
        {{ quickcheck_metric_name('metric') }} as metric,
        cast(bucket as integer) as bucket,
        cast(answer as varchar) as answer

    from source

)

select * from renamed
