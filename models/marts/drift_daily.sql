-- One row per (service, upstream environment, downstream environment, day): the commits the upstream
-- environment had shipped and the downstream one had not, at the end of that day (UTC), and the oldest of
-- them. A commit waits from when it reached upstream until it reaches downstream; one that reached
-- downstream first (or the same day) never waits. Days run from the first day anything reached upstream to
-- the last day any deployment of the organisation succeeded, so a stuck commit's age keeps growing.
-- Set-based, no per-day join: counts are a running sum of arrivals minus departures per day, and the oldest
-- waiting commit at day t is the earliest arrival among commits leaving after t (a running minimum from the
-- future backwards), which is waiting at t exactly when it arrived by t. docs/metrics.md, "Drift".
with

commit_promotions as (

    select * from {{ ref('fct_commit_promotions') }}

),

deployments as (

    select * from {{ ref('int_deployments_mapped_to_environments') }}

),

last_day as (

    select max(cast(deployed_at as date)) as day from deployments where is_successful

),

-- Commits that wait at least one day end: arrive upstream on one day, leave on a later day or never.
waits as (

    select
        service,
        upstream_environment,
        downstream_environment,
        reached_upstream_at,
        cast(reached_upstream_at as date) as arrival_day,
        coalesce(cast(reached_downstream_at as date), date '9999-12-31') as departure_day,

    from commit_promotions
    where reached_downstream_at is null
        or cast(reached_downstream_at as date) > cast(reached_upstream_at as date)

),

spans as (

    select
        service,
        upstream_environment,
        downstream_environment,
        min(cast(reached_upstream_at as date)) as first_day,

    from commit_promotions
    group by service, upstream_environment, downstream_environment

),

spine as (

    select
        spans.service,
        spans.upstream_environment,
        spans.downstream_environment,
        cast(unnest(generate_series(spans.first_day, greatest(last_day.day, spans.first_day), interval 1 day)) as date)
            as day,

    from spans
    cross join last_day

),

-- +1 on the day a commit arrives, -1 on the day it leaves.
moves as (

    select service, upstream_environment, downstream_environment, arrival_day as day, 1 as move from waits
    union all
    select service, upstream_environment, downstream_environment, departure_day as day, -1 as move
    from waits
    where departure_day < date '9999-12-31'

),

daily_moves as (

    select
        service,
        upstream_environment,
        downstream_environment,
        day,
        sum(move) as net_move,

    from moves
    group by service, upstream_environment, downstream_environment, day

),

-- Earliest arrival among the commits leaving on each day (or never).
departures as (

    select
        service,
        upstream_environment,
        downstream_environment,
        departure_day,
        min(reached_upstream_at) as earliest_arrival_at,

    from waits
    group by service, upstream_environment, downstream_environment, departure_day

),

-- Spine days and departure days in one stream, latest first; on the same date the spine row comes first,
-- so the running minimum it sees covers departures strictly after its day.
stream as (

    select
        service,
        upstream_environment,
        downstream_environment,
        day,
        true as is_spine,
        cast(null as timestamp) as earliest_arrival_at,

    from spine

    union all

    select
        service,
        upstream_environment,
        downstream_environment,
        departure_day as day,
        false as is_spine,
        earliest_arrival_at,

    from departures

),

oldest as (

    select
        service,
        upstream_environment,
        downstream_environment,
        day,
        is_spine,
        min(earliest_arrival_at) over (
            partition by service, upstream_environment, downstream_environment
            order by day desc, is_spine desc
            rows between unbounded preceding and current row
        ) as earliest_arrival_leaving_later_at,

    from stream

),

counted as (

    select
        spine.service,
        spine.upstream_environment,
        spine.downstream_environment,
        spine.day,
        sum(coalesce(daily_moves.net_move, 0)) over (
            partition by spine.service, spine.upstream_environment, spine.downstream_environment
            order by spine.day
            rows between unbounded preceding and current row
        ) as commits_waiting,

    from spine
    left join daily_moves
        on spine.service = daily_moves.service
        and spine.upstream_environment = daily_moves.upstream_environment
        and spine.downstream_environment = daily_moves.downstream_environment
        and spine.day = daily_moves.day

),

final as (

    select
        counted.service,
        counted.upstream_environment,
        counted.downstream_environment,
        counted.day,
        cast(counted.commits_waiting as integer) as commits_waiting,
        case
            when cast(oldest.earliest_arrival_leaving_later_at as date) <= counted.day
                then oldest.earliest_arrival_leaving_later_at
        end as oldest_waiting_commit_at,
        case
            when cast(oldest.earliest_arrival_leaving_later_at as date) <= counted.day
                then datediff(
                    'second', oldest.earliest_arrival_leaving_later_at, cast(counted.day + 1 as timestamp)
                ) / 3600.0
        end as oldest_waiting_age_hours,

    from counted
    inner join oldest
        on counted.service = oldest.service
        and counted.upstream_environment = oldest.upstream_environment
        and counted.downstream_environment = oldest.downstream_environment
        and counted.day = oldest.day
        and oldest.is_spine

)

select * from final
