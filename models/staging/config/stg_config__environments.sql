with

source as (

    select * from {{ source('org_config', 'environments') }}

),

renamed as (

    select
        environment,
        cast(environment_rank as integer) as environment_rank,
        match_pattern,
        cast(is_production as boolean) as is_production

    from source

)

select * from renamed
