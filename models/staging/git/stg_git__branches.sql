{#- The git source is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('git', 'branches') }}

),

renamed as (

    select
        repository,
        branch,
        sha as commit_sha,
        cast(is_remote as boolean) as is_remote,
        timezone('UTC', cast(committed_at as timestamptz)) as committed_at

    from source

)

select * from renamed
