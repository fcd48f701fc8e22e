with

source as (

    select * from {{ source('org_config', 'benchmarks') }}

),

renamed as (

    select
        cast(edition as integer) as edition,
        cast(industry as varchar) as industry,
        cast(organization_size as varchar) as organization_size,
        cast(has_quickcheck_dir as boolean) as has_quickcheck_dir

    from source

)

select * from renamed
