{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'deployments') }}

),

renamed as (

    select
        repository,
        cast(id as varchar) as deployment_id,
        sha as commit_sha,
        ref,
        environment,
        task,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        creator__login as creator_login,
        -- `Bot` when an app created it (GitHub's user type)
        creator__type as creator_type

    from source

)

select * from renamed
