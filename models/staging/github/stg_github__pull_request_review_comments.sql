{#- Review comments are optional (see stg_github__pull_request_files): without the raw table this model is
    empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'pull_request_review_comments') }}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        cast(id as varchar) as comment_id,
        cast(pull_request_review_id as varchar) as review_id,
        cast(in_reply_to_id as varchar) as in_reply_to_comment_id,
        user__login as commenter_login,
        user__type as commenter_type,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
