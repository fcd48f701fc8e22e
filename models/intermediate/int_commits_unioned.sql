-- One row per (repository, commit): every commit any source knows, in one vocabulary. A GitLab project is a
-- repository named by its path. Sources, best first (docs/architecture.md, "The unified layer"): a local
-- clone (`git`), GitHub's commit list (`github`), GitLab's (`gitlab`), then the commits GitHub lists for a
-- pull request (`github_pull_request`) and GitLab for a merge request (`gitlab_merge_request`), which are
-- the only record of the branches a squash or rebase left behind. A commit is immutable, so sources agree
-- on it; each column takes the best source that has a value, and the parent lists are merged (best source's
-- order first) so any one source is enough to place a commit in the graph. The pull request a commit
-- landed (its merge or squash commit): the host's record wins over the number a clone reads in the message.
-- Incremental by commit: each row keeps `input_fingerprint`, a hash of every source's listing of the commit
-- and of its landing. A refresh computes today's fingerprints and builds again only the commits whose
-- fingerprint is new or differs (dbt's delete+insert on the key); the pre-hook deletes the commits no source
-- lists any more. The others are kept as built (docs/architecture.md, "Incremental models and full rebuilds").
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['repository', 'commit_sha'],
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_unlisted_commits() }}",
) }}
{%- set builds_changed_only = built_has_column('input_fingerprint') %}
with

git_commits as (

    select * from {{ ref('stg_git__commits') }}

),

github_commits as (

    select * from {{ ref('stg_github__commits') }}

),

gitlab_commits as (

    select * from {{ ref('stg_gitlab__commits') }}

),

pull_request_commits as (

    select * from {{ ref('stg_github__pull_request_commits') }}

),

merge_request_commits as (

    select * from {{ ref('stg_gitlab__merge_request_commits') }}

),

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

merge_requests as (

    select * from {{ ref('stg_gitlab__merge_requests') }}

),

-- The hosts' word on which commit landed a merged pull (merge) request: its merge or squash commit.
host_landings as (

    select
        repository,
        merge_commit_sha as commit_sha,
        pr_number,
        1 as landing_priority,

    from pull_requests
    where is_merged and merge_commit_sha is not null

    union all

    select
        project as repository,
        merge_commit_sha as commit_sha,
        mr_iid as pr_number,
        2 as landing_priority,

    from merge_requests
    where is_merged and merge_commit_sha is not null

    union all

    select
        project as repository,
        squash_commit_sha as commit_sha,
        mr_iid as pr_number,
        3 as landing_priority,

    from merge_requests
    where is_merged and squash_commit_sha is not null

),

landings as (

    select
        repository,
        commit_sha,
        arg_min(pr_number, (landing_priority, pr_number)) as pr_number,

    from host_landings
    group by repository, commit_sha

),

-- `is_on_branch`: the source lists the repository's branch history (not only a pull request's commits).
-- `landing_pr_number`: the pull request a clone's merge or squash message names (`Merge pull request #N`,
-- `... (#N)`), read by the git source.
all_commits as (

    select
        repository,
        commit_sha,
        parent_shas,
        authored_at,
        committed_at,
        cast(null as varchar) as author_login,
        author_name,
        author_email,
        message,
        pr_number as landing_pr_number,
        true as is_on_branch,
        'git' as source,
        1 as source_priority,

    from git_commits

    union all

    select
        repository,
        commit_sha,
        parent_shas,
        authored_at,
        committed_at,
        author_login,
        cast(null as varchar) as author_name,
        author_email,
        message,
        cast(null as integer) as landing_pr_number,
        true as is_on_branch,
        'github' as source,
        2 as source_priority,

    from github_commits

    union all

    select
        project as repository,
        commit_sha,
        parent_shas,
        authored_at,
        committed_at,
        cast(null as varchar) as author_login,
        author_name,
        author_email,
        message,
        cast(null as integer) as landing_pr_number,
        true as is_on_branch,
        'gitlab' as source,
        3 as source_priority,

    from gitlab_commits

    union all

    select
        repository,
        commit_sha,
        parent_shas,
        authored_at,
        committed_at,
        cast(null as varchar) as author_login,
        cast(null as varchar) as author_name,
        cast(null as varchar) as author_email,
        message,
        cast(null as integer) as landing_pr_number,
        false as is_on_branch,
        'github_pull_request' as source,
        4 as source_priority,

    from pull_request_commits

    union all

    select
        project as repository,
        commit_sha,
        parent_shas,
        authored_at,
        committed_at,
        cast(null as varchar) as author_login,
        cast(null as varchar) as author_name,
        cast(null as varchar) as author_email,
        message,
        cast(null as integer) as landing_pr_number,
        false as is_on_branch,
        'gitlab_merge_request' as source,
        5 as source_priority,

    from merge_request_commits

),

-- Each listing's hash: every value the commit's row is built from, and its source. A commit's fingerprint
-- (`final`) is a hash of the sum of its listings' hashes, their number (a commit in two pull requests'
-- commit lists is listed twice) and the pull request the hosts say it landed: an unchanged fingerprint
-- means an unchanged row.
hashed_commits as (

    select
        *,
        cast(hash(
            parent_shas, authored_at, committed_at, author_login, author_name, author_email, message,
            landing_pr_number, is_on_branch, source_priority
        ) as hugeint) as listing_hash,

    from all_commits

),

-- The commits to build: all of them, or in a refresh those whose fingerprint the built row does not have
-- (all of them once, when the table was built before rows kept their fingerprint).
{%- if builds_changed_only %}
key_listings as (

    select
        repository,
        commit_sha,
        sum(listing_hash) as listing_hash_sum,
        count(*) as listings,

    from hashed_commits
    group by repository, commit_sha

),

changed_keys as (

    select key_listings.repository, key_listings.commit_sha
    from key_listings
    left join landings
        on key_listings.repository = landings.repository
        and key_listings.commit_sha = landings.commit_sha
    anti join {{ this }} as built
        on built.repository is not distinct from key_listings.repository
        and built.commit_sha is not distinct from key_listings.commit_sha
        and built.input_fingerprint
            = {{ commit_fingerprint('key_listings.listing_hash_sum', 'key_listings.listings', 'landings.pr_number') }}

),

listed_commits as (

    select hashed_commits.*
    from hashed_commits
    semi join changed_keys
        on changed_keys.repository is not distinct from hashed_commits.repository
        and changed_keys.commit_sha is not distinct from hashed_commits.commit_sha

),
{%- else %}
listed_commits as (

    select * from hashed_commits

),
{%- endif %}

-- Per column the best source that has a value. A window, not a grouped aggregate: DuckDB's window
-- operator spills to disk where the grouped aggregate's list and string states cannot, so the model runs in
-- bounded memory at any history length (docs/architecture.md, "Memory"). Only commits that more than one
-- source lists need it (`shared_keys`, a grouped count of keys alone, which spills too): a commit one source
-- lists is that source's row as it is, which the window would give (a clone's whole history, 3 times faster).
shared_keys as (

    select repository, commit_sha
    from listed_commits
    group by repository, commit_sha
    having count(*) > 1

),

-- The parents are every source's lists merged, best source's order first. Sources almost always list the
-- same parents, and a commit is listed by two sources at most (a host's history and a pull request's
-- commits): then the merge is the best source's non-empty list (`final` drops repeated parents), a
-- `first_value` beside the other columns'. `list(...)` over a window costs more than all the other columns
-- together, so it is kept for the commits where that does not hold (`merged_parents`): more than two rows,
-- or two different non-empty lists.
ranked as (

    select
        repository,
        commit_sha,
        first_value(case when len(parent_shas) > 0 then parent_shas end ignore nulls) over by_source
            as first_parent_shas,
        last_value(case when len(parent_shas) > 0 then parent_shas end ignore nulls) over by_source
            as last_parent_shas,
        count(*) over by_source as listings,
        sum(listing_hash) over by_source as listing_hash_sum,
        first_value(authored_at ignore nulls) over by_source as authored_at,
        first_value(committed_at ignore nulls) over by_source as committed_at,
        first_value(author_login ignore nulls) over by_source as author_login,
        first_value(author_name ignore nulls) over by_source as author_name,
        first_value(author_email ignore nulls) over by_source as author_email,
        first_value(message ignore nulls) over by_source as message,
        first_value(landing_pr_number ignore nulls) over by_source as landing_pr_number,
        bool_or(is_on_branch) over by_source as is_on_branch,
        first_value(source) over by_source as source,
        row_number() over by_source as source_rank,

    from listed_commits
    semi join shared_keys
        on shared_keys.repository is not distinct from listed_commits.repository
        and shared_keys.commit_sha is not distinct from listed_commits.commit_sha
    window by_source as (
        partition by repository, commit_sha
        order by source_priority
        rows between unbounded preceding and unbounded following
    )
    qualify source_rank = 1

),

merged_parents as (

    select
        repository,
        commit_sha,
        flatten(list(coalesce(parent_shas, [])) over by_source) as all_parent_shas,
        row_number() over by_source as source_rank,

    from listed_commits
    semi join ranked
        on ranked.repository is not distinct from listed_commits.repository
        and ranked.commit_sha is not distinct from listed_commits.commit_sha
        and (ranked.listings > 2 or ranked.first_parent_shas is distinct from ranked.last_parent_shas)
    window by_source as (
        partition by repository, commit_sha
        order by source_priority
        rows between unbounded preceding and unbounded following
    )
    qualify source_rank = 1

),

merged as (

    select
        ranked.repository,
        ranked.commit_sha,
        coalesce(merged_parents.all_parent_shas, ranked.first_parent_shas, []) as all_parent_shas,
        ranked.authored_at,
        ranked.committed_at,
        ranked.author_login,
        ranked.author_name,
        ranked.author_email,
        ranked.message,
        ranked.landing_pr_number,
        ranked.is_on_branch,
        ranked.source,
        ranked.listing_hash_sum,
        ranked.listings,

    from ranked
    left join merged_parents
        on merged_parents.repository is not distinct from ranked.repository
        and merged_parents.commit_sha is not distinct from ranked.commit_sha

    union all

    select
        repository,
        commit_sha,
        coalesce(parent_shas, []) as all_parent_shas,
        authored_at,
        committed_at,
        author_login,
        author_name,
        author_email,
        message,
        landing_pr_number,
        is_on_branch,
        source,
        listing_hash as listing_hash_sum,
        1 as listings,

    from listed_commits
    anti join shared_keys
        on shared_keys.repository is not distinct from listed_commits.repository
        and shared_keys.commit_sha is not distinct from listed_commits.commit_sha

),

final as (

    select
        merged.repository,
        merged.commit_sha,
        list_filter(all_parent_shas, lambda parent, i: list_position(all_parent_shas, parent) = i) as parent_shas,
        merged.authored_at,
        merged.committed_at,
        merged.author_login,
        merged.author_name,
        merged.author_email,
        merged.message,
        split_part(merged.message, chr(10), 1) as title,
        coalesce(landings.pr_number, merged.landing_pr_number) as landing_pr_number,
        merged.is_on_branch,
        merged.source,
        {{ commit_fingerprint('merged.listing_hash_sum', 'merged.listings', 'landings.pr_number') }}
            as input_fingerprint,

    from merged
    left join landings
        on merged.repository = landings.repository
        and merged.commit_sha = landings.commit_sha

)

select * from final
