{#- additions, deletions and changed_files come from each pull request's own page; a warehouse loaded
    before they were read lacks the raw columns, and they are then null. -#}

with

source as (

    {{ optional_source('github', 'pull_requests') }}

),

renamed as (

    select
        repository,
        cast(number as integer) as pr_number,
        cast(id as varchar) as pr_id,
        title,
        user__login as author_login,
        state,
        timezone('UTC', cast(created_at as timestamptz)) as opened_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        timezone('UTC', cast(merged_at as timestamptz)) as merged_at,
        timezone('UTC', cast(closed_at as timestamptz)) as closed_at,
        merge_commit_sha,
        head__sha as head_sha,
        base__ref as base_ref,
        head__ref as head_ref,
        -- label names, a json list in the raw table; none: []
        coalesce(cast(json_extract_string(labels, '$[*]') as varchar[]), []) as labels,
        merged_at is not null as is_merged,
        cast(additions as integer) as additions,
        cast(deletions as integer) as deletions,
        cast(changed_files as integer) as changed_files

    from source

)

select * from renamed
