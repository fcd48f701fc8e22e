{#- Jenkins is optional: without its raw table this model is empty, with the same columns. -#}

with

source as (

    {{ optional_source('jenkins', 'builds') }}

),

renamed as (

    select
        job_full_name as job,
        cast(number as integer) as build_number,
        result,
        coalesce(cast(building as boolean), false) as is_building,
        -- Jenkins reports epoch milliseconds; epoch_ms gives a naive UTC timestamp
        epoch_ms(cast(timestamp as bigint)) as started_at,
        -- a running build reports duration 0: it has no end yet
        case
            when not coalesce(cast(building as boolean), false)
                then epoch_ms(cast(timestamp as bigint) + cast(duration as bigint))
        end as finished_at,
        case
            when not coalesce(cast(building as boolean), false)
                then cast(duration as double) / 1000
        end as duration_seconds,
        commit_sha,
        branch,
        cast(parameters as json) as parameters,
        -- Who started the build, from its first cause: a user's id for `UserIdCause`, else the automation
        -- that did (an upstream job, an SCM poll, a timer, a remote call); NULL when Jenkins says nothing.
        case
            when cast(causes as json) -> 0 ->> '_class' like '%UserIdCause'
                then cast(causes as json) -> 0 ->> 'userId'
            when cast(causes as json) -> 0 ->> '_class' like '%UpstreamCause'
                then 'jenkins:' || coalesce(cast(causes as json) -> 0 ->> 'upstreamProject', 'upstream')
            when cast(causes as json) -> 0 ->> '_class' like '%SCMTrigger%' then 'jenkins:scm'
            when cast(causes as json) -> 0 ->> '_class' like '%TimerTrigger%' then 'jenkins:timer'
            when cast(causes as json) -> 0 ->> '_class' like '%RemoteCause' then 'jenkins:remote'
        end as triggered_by,
        case
            when cast(causes as json) -> 0 ->> '_class' is not null
                then cast(causes as json) -> 0 ->> '_class' not like '%UserIdCause'
        end as is_triggered_by_automation,
        url as build_url

    from source

)

select * from renamed
