with

source as (

    select * from {{ source('org_config', 'settings') }}

),

renamed as (

    select
        cast(incident_window_hours as double) as incident_window_hours

    from source

)

select * from renamed
