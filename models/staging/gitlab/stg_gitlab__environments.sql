{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'environments') }}

),

renamed as (

    select
        project,
        cast(id as varchar) as environment_id,
        name as environment,
        tier as environment_tier,
        state,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at

    from source

)

select * from renamed
