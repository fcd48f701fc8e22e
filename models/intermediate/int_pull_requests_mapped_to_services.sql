-- One row per (merged pull request, service it counts for) (docs/metrics.md, "Services by path"). In a
-- repository where services own paths, a pull request counts for every service one of whose paths matches
-- one of its files, and for the repository's fallback service when a file no path claims is among them
-- and that service owns no paths. A pull request that counts for no service that way (no file list, or
-- only unclaimed files in a repository whose services all own paths) goes to the fallback service. In a
-- repository without paths, to its primary service, as before paths existed.
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

path_repositories as (

    select distinct repository from repository_services where is_path_repository

),

-- Each file of a pull request in a path repository with the services whose paths match it.
file_matches as (

    select
        merged.change_id,
        pull_request_files.file_path,
        repository_services.service,

    from merged
    inner join path_repositories
        on merged.repository = path_repositories.repository
    inner join pull_request_files
        on merged.change_id = pull_request_files.change_id
    left join repository_services
        on merged.repository = repository_services.repository
        and repository_services.has_paths
        and exists (
            select 1
            from service_paths
            where service_paths.service = repository_services.service
                and regexp_matches(pull_request_files.file_path, service_paths.path_regex)
        )

),

by_path as (

    select distinct
        change_id,
        service,
        'path' as matched_by,

    from file_matches
    where service is not null

),

-- Files no path claims belong to the repository's fallback service when it owns no paths.
by_unclaimed_file as (

    select distinct
        file_matches.change_id,
        repository_services.service,
        'repository' as matched_by,

    from file_matches
    inner join merged
        on file_matches.change_id = merged.change_id
    inner join repository_services
        on merged.repository = repository_services.repository
        and repository_services.is_fallback_service
        and not repository_services.has_paths
    where file_matches.service is null
        and not exists (
            select 1
            from file_matches as claimed
            where claimed.change_id = file_matches.change_id
                and claimed.file_path = file_matches.file_path
                and claimed.service is not null
        )

),

matched as (

    select * from by_path
    union all
    select * from by_unclaimed_file

),

-- Everything else: the fallback (path repositories) or primary (others) service of the repository.
by_repository as (

    select
        merged.change_id,
        repository_services.service,
        'repository' as matched_by,

    from merged
    inner join repository_services
        on merged.repository = repository_services.repository
        and (
            (repository_services.is_path_repository and repository_services.is_fallback_service)
            or (not repository_services.is_path_repository and repository_services.is_primary_service)
        )
    where not exists (
        select 1
        from matched
        where matched.change_id = merged.change_id
    )

),

mapped as (

    select * from matched
    union all
    select * from by_repository

),

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
