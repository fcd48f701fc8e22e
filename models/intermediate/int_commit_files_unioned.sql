-- One row per (commit, path) a commit changes, in one vocabulary (docs/architecture.md, "The unified
-- layer"): the files of the possible direct pushes GitHub's commit detail and GitLab's commit diff gave
-- (read only in repositories where a service owns paths; a GitLab project is a repository named by its
-- path) and those a local clone's history gives (every non-merge commit of such a repository). A renamed
-- file touches both its paths: the old one's owner sees it leave.
with

github_files as (

    select * from {{ ref('stg_github__commit_files') }}

),

gitlab_files as (

    select * from {{ ref('stg_gitlab__commit_files') }}

),

git_files as (

    select * from {{ ref('stg_git__commit_files') }}

),

files as (

    select repository, commit_sha, file_path, previous_file_path, 'github' as source, from github_files
    union all
    select
        project as repository, commit_sha, file_path, previous_file_path, 'gitlab' as source,
    from gitlab_files
    union all
    select repository, commit_sha, file_path, previous_file_path, 'git' as source, from git_files

),

paths as (

    select repository, commit_sha, file_path, source, from files where file_path is not null
    union
    select repository, commit_sha, previous_file_path as file_path, source, from files
    where previous_file_path is not null

),

final as (

    select
        repository || '@' || commit_sha as change_id,
        repository,
        commit_sha,
        file_path,
        source,

    from paths

)

select * from final
