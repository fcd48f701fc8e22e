-- One row per successful deployment of a configured service: is it a rollback, and was it rolled back?
-- In deployment order per service+environment, a deployment whose SHA was deployed before, with at least
-- one other SHA in between, is a rollback; every deployment strictly between the restored one (the latest
-- earlier deployment of that SHA) and the rollback is rolled back. A plain redeploy of the current SHA is
-- not a rollback. rolled_back_at is the earliest rollback that restored past the deployment;
-- rollback_started_at when the earliest of those was started (created; deployed when the source gives no
-- creation time): the team knew by then that the deployment had to go.
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

rollbacks as (

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

rolled_back as (

    select
        with_restored.deployment_id,
        min(rollbacks.rolled_back_at) as rolled_back_at,
        min(rollbacks.rollback_started_at) as rollback_started_at,

    from with_restored
    inner join rollbacks
        on with_restored.service = rollbacks.service
        and with_restored.environment = rollbacks.environment
        and with_restored.deployment_number > rollbacks.restored_deployment_number
        and with_restored.deployment_number < rollbacks.deployment_number
    group by with_restored.deployment_id

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
        coalesce(with_restored.restored_deployment_number < with_restored.deployment_number - 1, false)
            as is_rollback,
        rolled_back.deployment_id is not null as is_rolled_back,
        rolled_back.rolled_back_at,
        rolled_back.rollback_started_at,

    from with_restored
    left join rolled_back
        on with_restored.deployment_id = rolled_back.deployment_id

)

select * from final
