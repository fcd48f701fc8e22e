-- One row per successful deployment of a configured service: is it a rollback, and was it rolled back?
-- In deployment order per service+environment, a deployment whose SHA was deployed before, with at least
-- one other SHA in between, restores that SHA; it rolls back every deployment strictly between the restored
-- one (the latest earlier deployment of that SHA) and itself that was deployed by the time it started
-- (created; deployed when the source gives no creation time), and it is a rollback when it rolls back at
-- least one. A deployment still rolling out when the redeploy of the older SHA started was overtaken, not
-- rolled back: nobody could have seen it fail yet, so the redeploy was no reaction to it (two pipelines
-- racing, or a rollback of an earlier deployment). A plain redeploy of the current SHA is not a rollback.
-- rolled_back_at is the earliest rollback that restored past the deployment; rollback_started_at when the
-- earliest of those was started: the team knew by then that the deployment had to go, never before it was
-- deployed.
with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

successful as (

    select
        deployment_id,
        service,
        environment,
        is_production,
        commit_sha,
        deployed_at,
        least(coalesce(created_at, deployed_at), deployed_at) as started_at,
        row_number() over (
            partition by service, environment
            order by deployed_at, deployment_order_key nulls last, deployment_id
        ) as deployment_number,

    from deployments
    where is_successful
        and service is not null
        and deployed_at is not null

),

with_restored as (

    select
        *,
        lag(deployment_number) over (
            partition by service, environment, commit_sha
            order by deployment_number
        ) as restored_deployment_number,

    from successful

),

restores as (

    select
        deployment_id as rollback_deployment_id,
        service,
        environment,
        deployed_at as rolled_back_at,
        started_at as rollback_started_at,
        deployment_number,
        restored_deployment_number,

    from with_restored
    where restored_deployment_number < deployment_number - 1

),

rolled_back_by as (

    select
        with_restored.deployment_id,
        restores.rollback_deployment_id,
        restores.rolled_back_at,
        restores.rollback_started_at,

    from with_restored
    inner join restores
        on with_restored.service = restores.service
        and with_restored.environment = restores.environment
        and with_restored.deployment_number > restores.restored_deployment_number
        and with_restored.deployment_number < restores.deployment_number
        and with_restored.deployed_at <= restores.rollback_started_at

),

rolled_back as (

    select
        deployment_id,
        min(rolled_back_at) as rolled_back_at,
        min(rollback_started_at) as rollback_started_at,

    from rolled_back_by
    group by deployment_id

),

rollbacks as (

    select distinct rollback_deployment_id from rolled_back_by

),

final as (

    select
        with_restored.deployment_id,
        with_restored.service,
        with_restored.environment,
        with_restored.is_production,
        with_restored.commit_sha,
        with_restored.deployed_at,
        with_restored.deployment_number,
        rollbacks.rollback_deployment_id is not null as is_rollback,
        rolled_back.deployment_id is not null as is_rolled_back,
        rolled_back.rolled_back_at,
        rolled_back.rollback_started_at,

    from with_restored
    left join rolled_back
        on with_restored.deployment_id = rolled_back.deployment_id
    left join rollbacks
        on with_restored.deployment_id = rollbacks.rollback_deployment_id

)

select * from final
