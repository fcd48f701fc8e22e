with

source as (

    select * from {{ source('github', 'deployments') }}

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
        creator__login as creator_login

    from source

)

select * from renamed
