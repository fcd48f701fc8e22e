with

source as (

    select * from {{ source('org_config', 'settings') }}

),

renamed as (

    select
        cast(incident_window_hours as double) as incident_window_hours,
        cast(failure_window_hours as double) as failure_window_hours,
        cast(incident_signal_enabled as boolean) as is_incident_signal_enabled,
        cast(rollback_signal_enabled as boolean) as is_rollback_signal_enabled,
        cast(revert_signal_enabled as boolean) as is_revert_signal_enabled,
        cast(hotfix_signal_enabled as boolean) as is_hotfix_signal_enabled,
        cast(alert_signal_enabled as boolean) as is_alert_signal_enabled,
        hotfix_title_pattern,
        hotfix_label_pattern,
        hotfix_branch_pattern,
        -- org.yml `bots:` (lower-case logins); a list kept as json in the raw table, never NULL here
        coalesce(cast(bot_logins as varchar[]), cast([] as varchar[])) as bot_logins

    from source

)

select * from renamed
