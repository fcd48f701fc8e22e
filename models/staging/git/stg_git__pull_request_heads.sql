{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('git', 'pull_request_heads') }}

),

renamed as (

    select
        repository,
        cast(pr_number as integer) as pr_number,
        head_sha

    from source

)

select * from renamed
