with

source as (

    select * from {{ source('org_config', 'teams') }}

),

renamed as (

    select
        team

    from source

)

select * from renamed
