-- Bad records per source, resource, reason and action, over every load (ingestion/quarantine.py,
-- docs/sources.md "Bad records"). A record is its scope and key: one re-read on every refresh (a look-back
-- window) counts once in `records` and once per load in `occurrences`; rows without a key count each.

with

github as (

    select * from {{ ref('stg_github__quarantine') }}

),

gitlab as (

    select * from {{ ref('stg_gitlab__quarantine') }}

),

jenkins as (

    select * from {{ ref('stg_jenkins__quarantine') }}

),

pagerduty as (

    select * from {{ ref('stg_pagerduty__quarantine') }}

),

git as (

    select * from {{ ref('stg_git__quarantine') }}

),

assessments as (

    select * from {{ ref('stg_assessments__quarantine') }}

),

unioned as (

    select * from github
    union all by name
    select * from gitlab
    union all by name
    select * from jenkins
    union all by name
    select * from pagerduty
    union all by name
    select * from git
    union all by name
    select * from assessments

),

identified as (

    select
        *,
        case
            when record_key is null then 'row:' || quarantine_row_id
            else coalesce(scope, '') || ' ' || record_key
        end as record_identity

    from unioned

),

final as (

    select
        source,
        resource,
        reason,
        action,
        count(distinct record_identity) as records,
        count(*) as occurrences,
        count(distinct load_id) as loads,
        min(quarantined_at) as first_quarantined_at,
        max(quarantined_at) as last_quarantined_at,
        max(load_id) as last_load_id,
        min(field_name) as field_name,
        min(coalesce(scope || ' ', '') || record_key) as example_record

    from identified
    group by source, resource, reason, action

)

select * from final
