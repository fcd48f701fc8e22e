{#- Commit files are read only in the local repositories where a service owns paths (ingestion/git_local):
    without the raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('git', 'commit_files') }}

),

renamed as (

    select
        repository,
        sha as commit_sha,
        file_path,
        previous_file_path,
        change_status

    from source

)

select * from renamed
