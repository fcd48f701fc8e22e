{#- Commit files are read only for the possible direct pushes of repositories where a service owns paths
    (ingestion/github/repos.py): without the raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'commit_files') }}

),

renamed as (

    select
        repository,
        sha as commit_sha,
        filename as file_path,
        previous_filename as previous_file_path,
        status as change_status

    from source

)

select * from renamed
