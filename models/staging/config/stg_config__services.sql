with

source as (

    select * from {{ source('org_config', 'services') }}

),

renamed as (

    select
        service,
        team,
        repository

    from source

)

select * from renamed
