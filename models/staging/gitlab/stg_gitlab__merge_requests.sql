{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'merge_requests') }}

),

renamed as (

    select
        project,
        cast(iid as integer) as mr_iid,
        cast(id as varchar) as mr_id,
        title,
        author__username as author_username,
        state,
        coalesce(draft, false) as is_draft,
        source_branch,
        target_branch,
        timezone('UTC', cast(created_at as timestamptz)) as opened_at,
        timezone('UTC', cast(updated_at as timestamptz)) as updated_at,
        timezone('UTC', cast(merged_at as timestamptz)) as merged_at,
        timezone('UTC', cast(closed_at as timestamptz)) as closed_at,
        merge_commit_sha,
        squash_commit_sha,
        sha as head_sha,
        -- label names, a json list in the raw table; none: []
        coalesce(cast(json_extract_string(labels, '$[*]') as varchar[]), []) as labels,
        state = 'merged' as is_merged

    from source

)

select * from renamed
