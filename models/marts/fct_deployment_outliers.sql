-- Each successful, non-baseline production deployment's batch and restore against its team's and its
-- service's normal (docs/metrics.md, "Normal and outliers"): one row per deployment, measure and baseline
-- grouping. Measures: commits and pull requests it shipped, and for a failed deployment that recovered, its
-- time to restore. Each value is judged when it becomes known (`judged_at`: the deployment for what it
-- shipped, the recovery for a time to restore) against the same measure of the group's deployments known in
-- the 90 days strictly before (a RANGE frame over judged_at, as in fct_change_outliers): a restore still
-- open when another failure recovers is not in that one's baseline. Baseline deployments ship the whole
-- history behind them, so they are neither judged nor part of any baseline.
with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

judged as (

    select
        deployment_id,
        team,
        service,
        environment,
        deployed_at,
        is_failure,
        commit_count,
        pr_count,
        time_to_restore_minutes,
        recovered_at,

    from deployments
    where status = 'success'
        and is_production
        and not is_baseline
        and team is not null
        and deployed_at is not null

),

measures as (

    select *, 'commit_count' as measure, cast(commit_count as double) as value, deployed_at as judged_at,
    from judged
    union all
    select *, 'pr_count' as measure, cast(pr_count as double) as value, deployed_at as judged_at,
    from judged
    union all
    select *, 'time_to_restore_minutes' as measure, time_to_restore_minutes as value, recovered_at as judged_at,
    from judged
    where time_to_restore_minutes is not null
        and recovered_at is not null

),

grouped as (

    select 'team' as baseline_grouping, team as baseline_group, * from measures
    union all
    select 'service' as baseline_grouping, service as baseline_group, * from measures
    where service is not null

),

baselines as (

    select
        *,
        {{ trailing_baseline('value') }},

    from grouped
    window baseline_window as (
        partition by baseline_grouping, baseline_group, measure
        order by judged_at
        range between interval {{ baseline_days() }} day preceding and interval 1 microsecond preceding
    )

),

final as (

    select
        deployment_id,
        measure,
        baseline_grouping,
        baseline_group,
        team,
        service,
        environment,
        deployed_at,
        judged_at,
        is_failure,
        value,
        baseline_median,
        baseline_mad,
        baseline_stddev,
        baseline_count,
        {{ baseline_method('baseline_median', 'baseline_mad', 'baseline_stddev', 'baseline_count',
                           outlier_min_history()) }} as baseline_method,
        {{ robust_z('value', 'baseline_median', 'baseline_mad', 'baseline_stddev',
                    'baseline_count', outlier_min_history()) }} as robust_z,
        {{ is_outlier('value', 'baseline_median', 'baseline_mad', 'baseline_stddev',
                      'baseline_count', outlier_min_history()) }} as is_outlier,
        {{ outlier_direction('value', 'baseline_median') }} as outlier_direction,

    from baselines

)

select * from final
