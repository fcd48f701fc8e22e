{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}
{%- set raw = source('gitlab', 'merge_request_approvals') -%}
{%- set raw_exists = (load_relation(raw) is not none) if execute else true -%}

with

source as (

    {% if raw_exists -%}
    select * from {{ raw }}
    {%- else -%}
    select
        null::varchar as project,
        null::bigint as merge_request_iid,
        null::bigint as approver_id,
        null::varchar as approver_username,
        null::timestamptz as approved_at
    where false
    {%- endif %}

),

renamed as (

    select
        project,
        cast(merge_request_iid as integer) as mr_iid,
        cast(approver_id as varchar) as approver_id,
        approver_username,
        timezone('UTC', cast(approved_at as timestamptz)) as approved_at

    from source

)

select * from renamed
