{#- No assessment file yet: this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('assessments', 'scores') }}

),

renamed as (

    select
        cast(file_name as varchar) as file_name,
        cast(team as varchar) as team,
        cast(assessed_on as date) as assessed_on,
        cast(item as varchar) as item,
        cast(score as integer) as score

    from source

)

select * from renamed
