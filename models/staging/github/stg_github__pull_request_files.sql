{#- Pull request files are optional (not served by every server, or a warehouse loaded before they were
    read): without the raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'pull_request_files') }}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        filename as file_path,
        previous_filename as previous_file_path,
        status as change_status,
        cast(additions as integer) as additions,
        cast(deletions as integer) as deletions

    from source

)

select * from renamed
