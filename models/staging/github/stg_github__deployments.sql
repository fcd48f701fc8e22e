{#- GitHub is optional (a warehouse of local git repositories only has no raw_github): without its
    raw table this model is empty, with the same columns. -#}
{%- set raw = source('github', 'deployments') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as repository,
        null::bigint as id,
        null::varchar as sha,
        null::varchar as ref,
        null::varchar as environment,
        null::varchar as task,
        null::timestamptz as created_at,
        null::timestamptz as updated_at,
        null::varchar as creator__login
    where false
    {%- endif %}

),

renamed as (

    select
        repository,
        cast(id as varchar) as deployment_id,
        sha as commit_sha,
        ref,
        environment,
        task,
        timezone('UTC', cast(created_at as timestamptz)) as created_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        creator__login as creator_login

    from source

)

select * from renamed
