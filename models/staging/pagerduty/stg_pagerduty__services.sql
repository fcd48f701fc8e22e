{#- PagerDuty is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('pagerduty', 'services') }}

),

renamed as (

    select
        cast(id as varchar) as pd_service_id,
        name as pd_service_name

    from source

)

select * from renamed
