with

services as (

    select * from {{ ref('stg_config__services') }}

),

service_pagerduty as (

    select * from {{ ref('stg_config__service_pagerduty') }}

),

pagerduty_ids as (

    select
        service,
        list_sort(list(distinct pd_service_id)) as pagerduty_service_ids,

    from service_pagerduty
    where pd_service_id is not null
    group by service

),

final as (

    select
        services.service,
        services.team,
        services.repository,
        coalesce(pagerduty_ids.pagerduty_service_ids, cast([] as varchar[])) as pagerduty_service_ids,
        services.language,
        services.tier,
        services.labels,
        services.service_type,
        services.system,

    from services
    left join pagerduty_ids
        on services.service = pagerduty_ids.service

)

select * from final
