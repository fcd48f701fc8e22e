-- One row per (commit whose files were read, service it counts for as a direct push) (docs/metrics.md,
-- "Services by path"), by the rule of macro services_by_path, as for pull requests: each service whose paths
-- its files touch, the fallback service for files no path claims. Files are read only in repositories where
-- a service owns paths; fct_changes keeps the rows of its direct pushes, and gives a direct push without a
-- row its repository's fallback service.
with

commit_files as (

    select * from {{ ref('int_commit_files_unioned') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

service_paths as (

    select * from {{ ref('stg_config__service_paths') }}

),

read_commits as (

    select distinct
        change_id,
        repository,
        commit_sha,

    from commit_files

),

{{ services_by_path('read_commits', 'commit_files') }},

final as (

    select
        mapped.change_id,
        read_commits.repository,
        read_commits.commit_sha,
        mapped.service,
        repository_services.team,
        mapped.matched_by,
        -- the one service fct_changes names: the first by name
        row_number() over (partition by mapped.change_id order by mapped.service) = 1 as is_first_service,

    from mapped
    inner join read_commits
        on mapped.change_id = read_commits.change_id
    inner join repository_services
        on mapped.service = repository_services.service

)

select * from final
