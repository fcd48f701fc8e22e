-- One row per (pull request, path) a pull request changes, in one vocabulary (docs/architecture.md, "The
-- unified layer"): GitHub's pull request files. A renamed file touches both its paths: the old one's owner
-- sees it leave. GitLab merge request changes and a clone's diffs are not read yet.
with

pull_request_files as (

    select * from {{ ref('stg_github__pull_request_files') }}

),

paths as (

    select
        repository,
        pr_number,
        file_path,
        'github' as source,

    from pull_request_files
    where file_path is not null

    union

    select
        repository,
        pr_number,
        previous_file_path as file_path,
        'github' as source,

    from pull_request_files
    where previous_file_path is not null

),

final as (

    select
        repository || '#' || pr_number as change_id,
        repository,
        pr_number,
        file_path,
        source,

    from paths

)

select * from final
