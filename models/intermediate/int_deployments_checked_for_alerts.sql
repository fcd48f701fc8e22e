-- One row per successful production deployment of a configured service: did a monitoring alert blame it?
-- (docs/metrics.md, "Failure signals"). An alert of a service (stg_alerts__alerts, any alerting tool)
-- blames the latest successful production deployment of the same service at or before the alert fired,
-- when it fired within failure_window_hours of it (inclusive): the incident rule, so "before the next
-- deployment" holds the same way. An alert without a service, or of a service with no deployment in the
-- window, blames nothing. Switched off (`failure_signals: {alert: false}`), no alert blames anything.
with

alerts as (

    select * from {{ ref('stg_alerts__alerts') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

settings as (

    select * from {{ ref('stg_config__settings') }}

),

signal_setting as (

    {{ failure_signal_setting('settings', 'is_alert_signal_enabled') }}

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

latest_before as (

    select
        alerts.alert_id,
        alerts.started_at,
        production_deployments.deployment_id,
        production_deployments.deployed_at,

    from alerts
    inner join production_deployments
        on alerts.service = production_deployments.service
        and production_deployments.deployed_at <= alerts.started_at
    qualify row_number() over (
        partition by alerts.alert_id
        order by
            production_deployments.deployed_at desc,
            production_deployments.deployment_order_key desc nulls first,
            production_deployments.deployment_id desc
    ) = 1

),

blamed as (

    select
        latest_before.deployment_id,
        count(*) as alert_count,
        min(latest_before.started_at) as first_alert_at,

    from latest_before
    cross join signal_setting
    where signal_setting.is_enabled
        and {{ minutes_between('latest_before.deployed_at', 'latest_before.started_at') }}
            <= signal_setting.window_hours * 60
    group by latest_before.deployment_id

),

final as (

    select
        production_deployments.deployment_id,
        blamed.deployment_id is not null as has_alert_failure,
        coalesce(blamed.alert_count, 0) as alert_count,
        blamed.first_alert_at,

    from production_deployments
    left join blamed
        on production_deployments.deployment_id = blamed.deployment_id

)

select * from final
