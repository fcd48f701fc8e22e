-- One row per named reference of a repository's graph, in one vocabulary: branches (a local clone's, local
-- and remote; GitHub's; GitLab's), a clone's tags and the pull request heads a clone keeps
-- (`refs/pull/N/head`). A GitLab project is a repository named by its path. When two sources name the same
-- reference, the best wins (docs/architecture.md, "The unified layer"): a local clone, then GitHub, then
-- GitLab. `is_default_branch`: the host names this branch its repository's default branch.
with

git_branches as (

    select * from {{ ref('stg_git__branches') }}

),

git_tags as (

    select * from {{ ref('stg_git__tags') }}

),

git_pull_request_heads as (

    select * from {{ ref('stg_git__pull_request_heads') }}

),

github_branches as (

    select * from {{ ref('stg_github__branches') }}

),

gitlab_branches as (

    select * from {{ ref('stg_gitlab__branches') }}

),

github_repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

gitlab_projects as (

    select * from {{ ref('stg_gitlab__projects') }}

),

default_branches as (

    select repository, default_branch from github_repositories where default_branch is not null
    union
    select project as repository, default_branch from gitlab_projects where default_branch is not null

),

-- `tip_at`: when the reference's commit was made (a tag: when it was tagged), where the source says.
all_refs as (

    select
        repository,
        'branch' as ref_kind,
        branch as ref_name,
        commit_sha,
        committed_at as tip_at,
        cast(null as integer) as pr_number,
        'git' as source,
        1 as source_priority,

    from git_branches

    union all

    select
        repository,
        'tag' as ref_kind,
        tag as ref_name,
        commit_sha,
        tagged_at as tip_at,
        cast(null as integer) as pr_number,
        'git' as source,
        1 as source_priority,

    from git_tags

    union all

    select
        repository,
        'pull_request_head' as ref_kind,
        'refs/pull/' || pr_number || '/head' as ref_name,
        head_sha as commit_sha,
        cast(null as timestamp) as tip_at,
        pr_number,
        'git' as source,
        1 as source_priority,

    from git_pull_request_heads

    union all

    select
        repository,
        'branch' as ref_kind,
        branch as ref_name,
        commit_sha,
        cast(null as timestamp) as tip_at,
        cast(null as integer) as pr_number,
        'github' as source,
        2 as source_priority,

    from github_branches

    union all

    select
        project as repository,
        'branch' as ref_kind,
        branch as ref_name,
        commit_sha,
        cast(null as timestamp) as tip_at,
        cast(null as integer) as pr_number,
        'gitlab' as source,
        3 as source_priority,

    from gitlab_branches

),

final as (

    select
        all_refs.repository,
        all_refs.ref_kind,
        all_refs.ref_name,
        all_refs.commit_sha,
        all_refs.tip_at,
        all_refs.pr_number,
        all_refs.ref_kind = 'branch' and default_branches.default_branch is not null as is_default_branch,
        all_refs.source,

    from all_refs
    left join default_branches
        on all_refs.repository = default_branches.repository
        and all_refs.ref_name = default_branches.default_branch
    qualify row_number() over (
        partition by all_refs.repository, all_refs.ref_kind, all_refs.ref_name order by all_refs.source_priority
    ) = 1

)

select * from final
