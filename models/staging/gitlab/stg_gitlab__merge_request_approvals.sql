{#- GitLab is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('gitlab', 'merge_request_approvals') }}

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
