{#- The incremental build of int_commits_unioned (docs/architecture.md, "Incremental models and full
    rebuilds"). -#}

{#- Every (repository, commit) some source lists: the keys of the sources int_commits_unioned unions. -#}
{% macro listed_commit_keys() -%}
    select repository, commit_sha from {{ ref('stg_git__commits') }}
    union all
    select repository, commit_sha from {{ ref('stg_github__commits') }}
    union all
    select project as repository, commit_sha from {{ ref('stg_gitlab__commits') }}
    union all
    select repository, commit_sha from {{ ref('stg_github__pull_request_commits') }}
    union all
    select project as repository, commit_sha from {{ ref('stg_gitlab__merge_request_commits') }}
{%- endmacro %}

{#- The pre-hook of an incremental build: delete the built commits no source lists any more (a pull
    request's commit list read again without a commit a force-push dropped). The model builds again only
    the commits whose listings changed, so without this their rows would stay. -#}
{% macro delete_unlisted_commits() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    using (
        select repository, commit_sha from {{ this }}
        except
        ({{ listed_commit_keys() }})
    ) as unlisted
    where built.repository is not distinct from unlisted.repository
        and built.commit_sha is not distinct from unlisted.commit_sha
    {%- endif -%}
{%- endmacro %}

{#- Whether the built table has `column` (false outside an incremental build): a table built before the
    model kept it is built whole once, and dbt adds the column (on_schema_change='append_new_columns'). -#}
{% macro built_has_column(column) -%}
    {%- if execute and is_incremental() -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {{- return(column | lower in names) -}}
    {%- endif -%}
    {{- return(false) -}}
{%- endmacro %}

{#- A commit's fingerprint from the sum of its listings' hashes (hugeint), their number and its landing's
    pull request: the same expression wherever it is computed, so the types agree. -#}
{% macro commit_fingerprint(listing_hash_sum, listings, landing_pr_number) -%}
    hash(cast({{ listing_hash_sum }} as hugeint), cast({{ listings }} as bigint), {{ landing_pr_number }})
{%- endmacro %}
