{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'pull_request_reviews') }}

),

renamed as (

    select
        repository,
        cast(pull_number as integer) as pr_number,
        cast(id as varchar) as review_id,
        user__login as reviewer_login,
        -- `Bot` for an app's account (GitHub's user type)
        user__type as reviewer_type,
        state,
        timezone('UTC', cast(submitted_at as timestamptz)) as submitted_at

    from source

)

select * from renamed
