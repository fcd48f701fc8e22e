{#- A configuration mapping no PagerDuty service loads no rows, and dlt creates no table for none: the model
    is then empty, with the same columns. -#}

with

source as (

    {{ optional_source('org_config', 'service_pagerduty') }}

),

renamed as (

    select
        service,
        cast(pd_service_id as varchar) as pd_service_id

    from source

)

select * from renamed
