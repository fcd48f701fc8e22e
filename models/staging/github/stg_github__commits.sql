{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('github', 'commits') }}

),

renamed as (

    select
        repository,
        sha as commit_sha,
        cast(json_extract_string(parents, '$[*].sha') as varchar[]) as parent_shas,
        author__login as author_login,
        commit__author__email as author_email,
        timezone('UTC', cast(commit__author__date as timestamptz)) as authored_at,
        timezone('UTC', cast(commit__committer__date as timestamptz)) as committed_at,
        commit__message as message

    from source

)

select * from renamed
