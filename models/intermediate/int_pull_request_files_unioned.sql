-- One row per (pull request, path) a pull request changes, in one vocabulary (docs/architecture.md, "The
-- unified layer"): GitHub's pull request files and GitLab's merge request files (`/diffs`; a project is a
-- repository named by its path, an MR's iid plays the pull request's number, as in
-- int_pull_requests_unioned). A renamed file touches both its paths: the old one's owner sees it leave.
-- Both are read only in repositories where a service owns paths. A clone's diffs are not read yet.
with

pull_request_files as (

    select * from {{ ref('stg_github__pull_request_files') }}

),

merge_request_files as (

    select * from {{ ref('stg_gitlab__merge_request_files') }}

),

paths as (

    select
        repository,
        pr_number,
        file_path,
        'github' as source,
        '#' as separator,

    from pull_request_files
    where file_path is not null

    union

    select
        repository,
        pr_number,
        previous_file_path as file_path,
        'github' as source,
        '#' as separator,

    from pull_request_files
    where previous_file_path is not null

    union

    select
        project as repository,
        mr_iid as pr_number,
        file_path,
        'gitlab' as source,
        '!' as separator,

    from merge_request_files
    where file_path is not null

    union

    select
        project as repository,
        mr_iid as pr_number,
        previous_file_path as file_path,
        'gitlab' as source,
        '!' as separator,

    from merge_request_files
    where previous_file_path is not null

),

final as (

    select
        -- the change_id of int_pull_requests_unioned: `repository#number`, a merge request `project!iid`
        repository || separator || pr_number as change_id,
        repository,
        pr_number,
        file_path,
        source,

    from paths

)

select * from final
