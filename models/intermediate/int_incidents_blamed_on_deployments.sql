-- One row per incident with its service (through the configured PagerDuty mapping) and the production
-- deployment it blames: the latest successful production deployment of the same service at or before the
-- incident's start, when the incident starts within incident_window_hours of it (inclusive). Taking the
-- latest makes "before the next deployment" hold. No service match, no blame (DevLake #8150).
with

incidents as (

    select * from {{ ref('stg_pagerduty__incidents') }}

),

service_pagerduty as (

    select * from {{ ref('stg_config__service_pagerduty') }}

),

services as (

    select * from {{ ref('stg_config__services') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

window_setting as (

    select coalesce(max(incident_window_hours), 24) as incident_window_hours from settings

),

-- A PagerDuty service mapped to several services goes to the first by name, so an incident has one owner.
pagerduty_owners as (

    select
        pd_service_id,
        min(service) as service,

    from service_pagerduty
    group by pd_service_id

),

owned_incidents as (

    select
        incidents.*,
        pagerduty_owners.service,
        services.team,

    from incidents
    left join pagerduty_owners
        on incidents.pd_service_id = pagerduty_owners.pd_service_id
    left join services
        on pagerduty_owners.service = services.service

),

production_deployments as (

    select
        deployment_id,
        service,
        deployed_at,
        deployment_order_key,

    from deployments
    where is_successful
        and is_production
        and service is not null
        and deployed_at is not null

),

-- The latest production deployment time of the incident's service at or before its start (an as-of join:
-- one row per incident, instead of every earlier deployment of its service), then the deployments of that
-- time, of which the latest by order key and id is blamed.
latest_deploy_times as (

    select
        owned_incidents.incident_id,
        owned_incidents.service,
        production_deployments.deployed_at,

    from owned_incidents
    asof inner join production_deployments
        on owned_incidents.service = production_deployments.service
        and owned_incidents.created_at >= production_deployments.deployed_at

),

candidates as (

    select
        latest_deploy_times.incident_id,
        production_deployments.deployment_id,
        production_deployments.deployed_at,
        row_number() over (
            partition by latest_deploy_times.incident_id
            order by
                production_deployments.deployment_order_key desc nulls first,
                production_deployments.deployment_id desc
        ) as recency,

    from latest_deploy_times
    inner join production_deployments
        on latest_deploy_times.service = production_deployments.service
        and latest_deploy_times.deployed_at = production_deployments.deployed_at

),

latest_before as (

    select * from candidates where recency = 1

),

final as (

    select
        'pagerduty:' || owned_incidents.incident_id as incident_id,
        'pagerduty' as source_system,
        owned_incidents.incident_id as source_incident_id,
        owned_incidents.pd_service_id,
        owned_incidents.service,
        owned_incidents.team,
        owned_incidents.title,
        owned_incidents.urgency,
        owned_incidents.status,
        owned_incidents.created_at,
        owned_incidents.acknowledged_at,
        owned_incidents.resolved_at,
        case
            when {{ minutes_between('latest_before.deployed_at', 'owned_incidents.created_at') }}
                <= window_setting.incident_window_hours * 60
                then latest_before.deployment_id
        end as deployment_id,

    from owned_incidents
    cross join window_setting
    left join latest_before
        on owned_incidents.incident_id = latest_before.incident_id

)

select * from final
