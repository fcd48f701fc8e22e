with

source as (

    select * from {{ source('github', 'repositories') }}

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
