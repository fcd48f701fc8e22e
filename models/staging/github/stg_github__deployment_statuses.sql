with

source as (

    select * from {{ source('github', 'deployment_statuses') }}

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
