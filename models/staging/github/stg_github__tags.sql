{#- Tags are optional (see stg_github__releases): without the raw table this model is empty. -#}

with

source as (

    {{ optional_source('github', 'tags') }}

),

renamed as (

    select
        repository,
        name as tag_name,
        object_sha,
        -- an annotated tag is an object of its own; a lightweight tag names the commit directly
        object_type = 'tag' as is_annotated,
        commit_sha,
        tagger_name,
        tagger_email,
        timezone('UTC', cast(tagged_at as timestamptz)) as tagged_at

    from source

)

select * from renamed
