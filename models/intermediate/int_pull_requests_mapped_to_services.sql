-- One row per (merged pull request, service it counts for) (docs/metrics.md, "Services by path"), by the rule
-- of macro services_by_path: in a repository where services own paths, each service whose paths its files
-- touch (the fallback service for files no path claims, or when nothing matched); in a repository without
-- paths, its primary service, as before paths existed.
with

pull_requests as (

    select * from {{ ref('int_pull_requests_unioned') }}

),

pull_request_files as (

    select * from {{ ref('int_pull_request_files_unioned') }}

),

repository_services as (

    select * from {{ ref('int_repositories_mapped_to_services') }}

),

service_paths as (

    select * from {{ ref('stg_config__service_paths') }}

),

merged as (

    select
        change_id,
        repository,
        pr_number,

    from pull_requests
    where is_merged

),

{{ services_by_path('merged', 'pull_request_files') }},

final as (

    select
        mapped.change_id,
        merged.repository,
        merged.pr_number,
        mapped.service,
        repository_services.team,
        mapped.matched_by,
        -- the one service fct_changes names: the first by name
        row_number() over (partition by mapped.change_id order by mapped.service) = 1 as is_first_service,

    from mapped
    inner join merged
        on mapped.change_id = merged.change_id
    inner join repository_services
        on mapped.service = repository_services.service

)

select * from final
