{#- Releases are optional (a repository without them, or a warehouse loaded before they were read, has no
    raw table): this model is then empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'releases') }}

),

renamed as (

    select
        repository,
        cast(id as varchar) as release_id,
        tag_name,
        target_commitish,
        name as release_name,
        author__login as author_login,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(published_at as timestamptz)) as published_at,
        coalesce(draft, false) as is_draft,
        coalesce(prerelease, false) as is_prerelease

    from source

)

select * from renamed
