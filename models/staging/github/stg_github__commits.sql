{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'commits') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::varchar as sha,
        null::json as parents,
        null::varchar as author__login,
        null::varchar as commit__author__email,
        null::timestamptz as commit__author__date,
        null::timestamptz as commit__committer__date,
        null::varchar as commit__message
    where false
    {%- endif %}

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
