{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'merge_request_notes') }}

),

renamed as (

    select
        project,
        cast(merge_request_iid as integer) as mr_iid,
        cast(id as varchar) as note_id,
        author__username as author_username,
        coalesce(system, false) as is_system,
        (not coalesce(system, false))
            and author__username is not null
            and author__username is distinct from merge_request_author_username
            as is_reviewer_note,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
