{#- The paths of services that own part of a repository (org.yml `paths:`). A configuration without any
    loads no rows, and dlt creates no table for none: the model is then empty, with the same columns. -#}

with

source as (

    {{ optional_source('org_config', 'service_paths') }}

),

renamed as (

    select
        service,
        cast(path_index as integer) as path_index,
        path_pattern,
        path_regex

    from source

)

select * from renamed
