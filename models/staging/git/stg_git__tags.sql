{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('git', 'tags') }}

),

renamed as (

    select
        repository,
        tag,
        sha as commit_sha,
        cast(is_annotated as boolean) as is_annotated,
        timezone('UTC', cast(tagged_at as timestamptz)) as tagged_at

    from source

)

select * from renamed
