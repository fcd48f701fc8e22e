-- One row per (service, production environment, commit) a successful production deployment shipped, with
-- the deployment's order key; the facts pick the first per commit (fct_commits) or per change (fct_changes).
with

attributed as (

    select * from {{ ref('int_commits_attributed_to_deployments') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

final as (

    select
        attributed.service,
        attributed.environment,
        attributed.commit_sha,
        attributed.deployment_id,
        attributed.deployed_at,
        attributed.is_baseline,
        deployments.deployment_order_key,

    from attributed
    inner join deployments
        on attributed.deployment_id = deployments.deployment_id
    where deployments.is_production

)

select * from final
