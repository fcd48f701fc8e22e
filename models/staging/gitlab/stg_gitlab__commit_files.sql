{#- GitLab is optional, and commit files are read only for the possible direct pushes of projects where a
    service owns paths (ingestion/gitlab): without the raw table this model is empty, with the same
    columns. -#}

with

source as (

    {{ optional_source('gitlab', 'commit_files') }}

),

renamed as (

    select
        project,
        sha as commit_sha,
        -- a deleted file keeps its path in new_path
        coalesce(new_path, old_path) as file_path,
        case when renamed_file and old_path <> new_path then old_path end as previous_file_path,
        case
            when new_file then 'added'
            when deleted_file then 'removed'
            when renamed_file then 'renamed'
            else 'modified'
        end as change_status

    from source

)

select * from renamed
