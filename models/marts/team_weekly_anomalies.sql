-- Each team's weekly figures against its own normal (docs/metrics.md, "Normal and outliers"): one row per
-- team, ISO week and metric, from the team rows of dora_rollup_weekly. The normal is the median and MAD of
-- the metric over the 13 weeks strictly before the week (91 days: the 90-day baseline in whole weeks),
-- complete weeks only. The rollup has a row for every week of a team, zeros included, so a RANGE frame of
-- 91 days over week_start is exactly those 13 rows: one sorted pass per team and metric.
with

weekly as (

    select * from {{ ref('dora_rollup_weekly') }}

),

team_weeks as (

    select
        group_value as team,
        period_start as week_start,
        is_complete_period,
        deployments_per_week,
        previous_deployments_per_week,
        lead_time_median_minutes,
        previous_lead_time_median_minutes,
        change_failure_rate,
        previous_change_failure_rate,
        time_to_restore_median_minutes,
        previous_time_to_restore_median_minutes,

    from weekly
    where grouping = 'team'

),

-- One row per metric; higher_is_better says which way is worse.
metrics as (

    select
        team, week_start, is_complete_period,
        'deployments_per_week' as metric, true as higher_is_better,
        deployments_per_week as value, previous_deployments_per_week as previous_value,
    from team_weeks
    union all
    select
        team, week_start, is_complete_period,
        'lead_time_median_minutes' as metric, false as higher_is_better,
        lead_time_median_minutes as value, previous_lead_time_median_minutes as previous_value,
    from team_weeks
    union all
    select
        team, week_start, is_complete_period,
        'change_failure_rate' as metric, false as higher_is_better,
        change_failure_rate as value, previous_change_failure_rate as previous_value,
    from team_weeks
    union all
    select
        team, week_start, is_complete_period,
        'time_to_restore_median_minutes' as metric, false as higher_is_better,
        time_to_restore_median_minutes as value, previous_time_to_restore_median_minutes as previous_value,
    from team_weeks

),

baselines as (

    select
        *,
        -- A partial week (the edges of the loaded data) is not normal: it stays out of every baseline.
        case when is_complete_period then value end as baseline_value,

    from metrics

),

normals as (

    select
        *,
        {{ trailing_baseline('baseline_value') }},

    from baselines
    window baseline_window as (
        partition by team, metric
        order by week_start
        range between interval {{ (baseline_weeks() | int) * 7 }} day preceding and interval 1 day preceding
    )

),

judged as (

    select
        *,
        {{ robust_z('value', 'baseline_median', 'baseline_mad', 'baseline_stddev', 'baseline_count',
                    anomaly_min_weeks()) }} as robust_z,
        -- Only complete weeks are judged: a partial week's medians rest on a few days.
        is_complete_period
            and {{ is_outlier('value', 'baseline_median', 'baseline_mad', 'baseline_stddev', 'baseline_count',
                              anomaly_min_weeks()) }} as is_anomaly,

    from normals

),

final as (

    select
        team,
        week_start,
        metric,
        higher_is_better,
        is_complete_period,
        value,
        previous_value,
        value - previous_value as week_over_week_change,
        baseline_median,
        baseline_mad,
        baseline_stddev,
        baseline_count as baseline_weeks,
        {{ baseline_method('baseline_median', 'baseline_mad', 'baseline_stddev', 'baseline_count',
                           anomaly_min_weeks()) }} as baseline_method,
        robust_z,
        is_anomaly,
        {{ outlier_direction('value', 'baseline_median') }} as direction,
        case
            when value is null or baseline_median is null or value = baseline_median then null
            when higher_is_better then value < baseline_median
            else value > baseline_median
        end as is_worse,

    from judged

)

select * from final
