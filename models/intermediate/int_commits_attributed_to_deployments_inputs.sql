-- One row per (service, environment) that ships commits: a fingerprint of everything its commit walk reads
-- (its successful deployments in order, and the commit graph of their repositories). The incremental walk
-- (int_commits_attributed_to_deployments) keeps a service+environment's rows while this fingerprint is the
-- one its latest walk was built from; when it changed, the model's own checks decide whether the walk can be
-- extended or must be redone. Sums of row hashes do not depend on row order; the counts guard against
-- cancelling pairs.
{{ config(materialized='view') }}

with

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

commits as (

    select repository, commit_sha, parent_shas from {{ ref('int_commits_unioned') }}

),

-- The same filter as the walk's: successful deployments of a configured service, with a time.
walked_deployments as (

    select
        service,
        environment,
        repository,
        hash(repository, deployment_id, commit_sha, deployed_at, deployment_order_key) as row_hash,

    from deployments
    where is_successful and service is not null and deployed_at is not null

),

deployment_fingerprints as (

    select
        service,
        environment,
        sum(row_hash::hugeint) as deployments_hash,
        count(*) as deployment_count,

    from walked_deployments
    group by service, environment

),

graph_fingerprints as (

    select
        repository,
        sum(hash(commit_sha, parent_shas)::hugeint) as graph_hash,
        count(*) as edge_rows,

    from (select distinct repository, commit_sha, parent_shas from commits)
    group by repository

),

partition_repositories as (

    select distinct service, environment, repository from walked_deployments

),

graphs_per_partition as (

    select
        partition_repositories.service,
        partition_repositories.environment,
        sum(hash(partition_repositories.repository, graph_fingerprints.graph_hash, graph_fingerprints.edge_rows)::hugeint)
            as graphs_hash,

    from partition_repositories
    left join graph_fingerprints
        on partition_repositories.repository = graph_fingerprints.repository
    group by partition_repositories.service, partition_repositories.environment

),

final as (

    select
        deployment_fingerprints.service,
        deployment_fingerprints.environment,
        hash(
            deployment_fingerprints.deployments_hash,
            deployment_fingerprints.deployment_count,
            graphs_per_partition.graphs_hash
        ) as input_fingerprint,

    from deployment_fingerprints
    inner join graphs_per_partition
        on deployment_fingerprints.service = graphs_per_partition.service
        and deployment_fingerprints.environment = graphs_per_partition.environment

)

select * from final
