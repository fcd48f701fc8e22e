with

source as (

    select * from {{ source('org_config', 'service_pagerduty') }}

),

renamed as (

    select
        service,
        cast(pd_service_id as varchar) as pd_service_id

    from source

)

select * from renamed
