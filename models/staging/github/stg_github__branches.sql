{#- GitHub is optional, and older servers may not list branches: without the raw table this model is
    empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'branches') }}

),

renamed as (

    select
        repository,
        name as branch,
        commit_sha,
        cast(protected as boolean) as is_protected

    from source

)

select * from renamed
