-- Each change with a lead time against its team's and its services' normals (docs/metrics.md, "Normal and
-- outliers"): one row per change and team, and one per change and service it counts for (fct_change_services:
-- a monorepo change touching two services is judged against each service's normal, with that service's
-- first production deployment and lead time). The team is judged once per change (fct_changes: its first
-- service's deployment and lead time). The baseline is the lead times of the group's changes first deployed
-- to production in the 90 days strictly before this change's deployment; changes shipped by the same
-- deployment are not in each other's baseline. A RANGE frame over deployed_at keeps this one sort per group
-- (DuckDB's windowed median and MAD reuse a sorted tree across frames) instead of a self-join that would
-- materialise every pair of changes 90 days apart; the frame is evaluated once per group and deployment time
-- (frame_rows below).
with

changes as (

    select * from {{ ref('fct_changes') }}

),

change_services as (

    select * from {{ ref('fct_change_services') }}

),

by_team as (

    select
        'team' as baseline_grouping,
        team as baseline_group,
        change_id,
        team,
        service,
        deployment_id,
        deployed_at,
        lead_time_minutes,

    from changes
    where lead_time_minutes is not null
        and deployed_at is not null
        and team is not null

),

by_service as (

    select
        'service' as baseline_grouping,
        service as baseline_group,
        change_id,
        team,
        service,
        deployment_id,
        deployed_at,
        lead_time_minutes,

    from change_services
    where lead_time_minutes is not null
        and deployed_at is not null
        and service is not null

),

grouped as (

    select * from by_team
    union all
    select * from by_service

),

-- One row per group and deployment time besides the changes' rows: the changes of that time share its frame,
-- so the window's median and MAD are evaluated once per frame (the probe row's) instead of once per change
-- (about 8 changes a frame in a large org's team groups); a change's own row gets an empty frame, which costs
-- nothing, and takes its probe's baseline. The probe rows hold no lead time, so no frame counts them.
frame_rows as (

    select baseline_grouping, baseline_group, deployed_at, lead_time_minutes, false as is_probe
    from grouped

    union all

    select distinct baseline_grouping, baseline_group, deployed_at, null, true
    from grouped

),

frame_baselines as (

    select
        baseline_grouping,
        baseline_group,
        deployed_at,
        {{ trailing_baseline('lead_time_minutes') }},

    from frame_rows
    window baseline_window as (
        partition by baseline_grouping, baseline_group
        order by deployed_at
        range between (case when is_probe then interval {{ baseline_days() }} day else interval 0 day end) preceding
            and interval 1 microsecond preceding
    )
    qualify is_probe

),

baselines as (

    select
        grouped.*,
        frame_baselines.baseline_median,
        frame_baselines.baseline_mad,
        frame_baselines.baseline_stddev,
        frame_baselines.baseline_count,

    from grouped
    inner join frame_baselines
        on grouped.baseline_grouping = frame_baselines.baseline_grouping
        and grouped.baseline_group = frame_baselines.baseline_group
        and grouped.deployed_at = frame_baselines.deployed_at

),

final as (

    select
        change_id,
        baseline_grouping,
        baseline_group,
        team,
        service,
        deployment_id,
        deployed_at,
        lead_time_minutes,
        baseline_median as baseline_median_minutes,
        baseline_mad as baseline_mad_minutes,
        baseline_stddev as baseline_stddev_minutes,
        baseline_count,
        {{ baseline_method('baseline_median', 'baseline_mad', 'baseline_stddev', 'baseline_count',
                           outlier_min_history()) }} as baseline_method,
        {{ robust_z('lead_time_minutes', 'baseline_median', 'baseline_mad', 'baseline_stddev',
                    'baseline_count', outlier_min_history()) }} as robust_z,
        {{ is_outlier('lead_time_minutes', 'baseline_median', 'baseline_mad', 'baseline_stddev',
                      'baseline_count', outlier_min_history()) }} as is_outlier,
        {{ outlier_direction('lead_time_minutes', 'baseline_median') }} as outlier_direction,

    from baselines

)

select * from final
