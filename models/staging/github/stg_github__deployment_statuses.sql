{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'deployment_statuses') }}

),

renamed as (

    select
        repository,
        cast(deployment_id as varchar) as deployment_id,
        cast(id as varchar) as status_id,
        state,
        environment,
        timezone('UTC', cast(created_at as timestamptz)) as created_at

    from source

)

select * from renamed
