{#- Jenkins is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('jenkins', 'jobs') }}

),

renamed as (

    select
        full_name as job,
        name as job_name,
        folder,
        job_class,
        url as job_url,
        cast(buildable as boolean) as is_buildable

    from source

)

select * from renamed
