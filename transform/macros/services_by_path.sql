{#- The services each change counts for by the files it changes (docs/metrics.md, "Services by path"): CTEs
    `file_matches` to `mapped` (change_id, service, matched_by), shared by the pull request and direct push
    mappings. `changes`: a CTE of (change_id, repository), the changes to map; `files`: a CTE of (change_id,
    file_path), their files. The caller defines `repository_services` (int_repositories_mapped_to_services)
    and `service_paths` (stg_config__service_paths). In a repository where services own paths, a change counts
    for every service one of whose paths matches one of its files, and for the repository's fallback service
    when a file no path claims is among them and that service owns no paths; a change that counts for no
    service that way (no file list, or only unclaimed files where every service owns paths) goes to the
    fallback service. In a repository without paths, to its primary service. -#}
{% macro services_by_path(changes, files) -%}

path_repositories as (

    select distinct repository from repository_services where is_path_repository

),

-- Each file of a change in a path repository with the services whose paths match it.
file_matches as (

    select
        {{ changes }}.change_id,
        {{ files }}.file_path,
        repository_services.service,

    from {{ changes }}
    inner join path_repositories
        on {{ changes }}.repository = path_repositories.repository
    inner join {{ files }}
        on {{ changes }}.change_id = {{ files }}.change_id
    left join repository_services
        on {{ changes }}.repository = repository_services.repository
        and repository_services.has_paths
        and exists (
            select 1
            from service_paths
            where service_paths.service = repository_services.service
                and regexp_matches({{ files }}.file_path, service_paths.path_regex)
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
    inner join {{ changes }}
        on file_matches.change_id = {{ changes }}.change_id
    inner join repository_services
        on {{ changes }}.repository = repository_services.repository
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
        {{ changes }}.change_id,
        repository_services.service,
        'repository' as matched_by,

    from {{ changes }}
    inner join repository_services
        on {{ changes }}.repository = repository_services.repository
        and (
            (repository_services.is_path_repository and repository_services.is_fallback_service)
            or (not repository_services.is_path_repository and repository_services.is_primary_service)
        )
    where not exists (
        select 1
        from matched
        where matched.change_id = {{ changes }}.change_id
    )

),

mapped as (

    select * from matched
    union all
    select * from by_repository

)

{%- endmacro %}
