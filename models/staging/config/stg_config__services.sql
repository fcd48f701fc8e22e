with

source as (

    select * from {{ source('org_config', 'services') }}

),

renamed as (

    select
        service,
        team,
        repository,
        language,
        tier,
        -- a list kept as json in the raw table; a service without labels has none (never NULL)
        coalesce(list_sort(list_distinct(cast(labels as varchar[]))), cast([] as varchar[])) as labels,
        service_type,
        system

    from source

)

select * from renamed
