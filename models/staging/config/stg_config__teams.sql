with

source as (

    select * from {{ source('org_config', 'teams') }}

),

renamed as (

    select
        team,
        description,
        department,
        reporting_line

    from source

)

select * from renamed
