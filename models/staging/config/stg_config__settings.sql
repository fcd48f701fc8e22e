with

source as (

    select * from {{ source('org_config', 'settings') }}

),

renamed as (

    select
        cast(incident_window_hours as double) as incident_window_hours,
        -- org.yml `bots:` (lower-case logins); a list kept as json in the raw table, never NULL here
        coalesce(cast(bot_logins as varchar[]), cast([] as varchar[])) as bot_logins

    from source

)

select * from renamed
