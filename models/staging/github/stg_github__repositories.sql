{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'repositories') }}

),

renamed as (

    select
        cast(id as varchar) as repository_id,
        full_name as repository,
        name as repository_name,
        default_branch,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
