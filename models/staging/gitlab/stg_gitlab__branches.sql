{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'branches') }}

),

renamed as (

    select
        project,
        name as branch,
        commit_sha,
        timezone('UTC', cast(committed_at as timestamptz)) as committed_at,
        cast(is_default as boolean) as is_default,
        cast(protected as boolean) as is_protected

    from source

)

select * from renamed
