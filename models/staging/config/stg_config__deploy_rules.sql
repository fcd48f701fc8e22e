with

source as (

    select * from {{ source('org_config', 'deploy_rules') }}

),

renamed as (

    select
        service,
        cast(rule_index as integer) as rule_index,
        kind as rule_kind,
        environment,
        pattern as match_pattern,
        branch_pattern,
        -- workflow rules: the run events they count (lower case) and whether runs from forks count
        cast(events as varchar[]) as workflow_events,
        cast(include_forks as boolean) as is_fork_run_counted,
        cast(is_default as boolean) as is_default

    from source

)

select * from renamed
