-- Each successful, non-baseline production deployment's batch and restore against its team's and its
-- service's normal (docs/metrics.md, "Normal and outliers"): one row per deployment, measure and baseline
-- grouping. Measures: commits and pull requests it shipped, and for a failed deployment that recovered, its
-- time to restore. Each value is judged when it becomes known (`judged_at`: the deployment for what it
-- shipped, the recovery for a time to restore) against the same measure of the group's deployments known in
-- the 90 days strictly before (a RANGE frame over judged_at, as in fct_change_outliers): a restore still
-- open when another failure recovers is not in that one's baseline. Baseline deployments ship the whole
-- history behind them, so they are neither judged nor part of any baseline.
-- Incremental as fct_change_outliers: each group and measure's rows from the first time whose values changed
-- are judged again (transform/macros/outliers.sql); the others are kept as built.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_trailing_rows(deployment_outlier_values(), ['baseline_grouping', 'baseline_group', 'measure'],
                                      'judged_at', deployment_outlier_value_columns()) }}",
) }}
with

grouped as (

    {{ deployment_outlier_values() }}

),

{% if is_incremental() %}

replace_from as (

    {{ trailing_replace_from('grouped', ['baseline_grouping', 'baseline_group', 'measure'], 'judged_at',
                             deployment_outlier_value_columns()) }}

),

-- the rows judged again, and the values their baselines can read (the frame is bounded by judged_at)
window_values as (

    select
        grouped.*,
        grouped.judged_at >= replace_from.replace_from as is_judged,

    from grouped
    inner join replace_from
        on grouped.baseline_grouping = replace_from.baseline_grouping
        and grouped.baseline_group = replace_from.baseline_group
        and grouped.measure = replace_from.measure
    where grouped.judged_at >= replace_from.replace_from - interval {{ baseline_days() }} day

),

{% else %}

window_values as (

    select *, true as is_judged from grouped

),

{% endif %}

baselines as (

    select
        *,
        {{ trailing_baseline('value') }},

    from window_values
    window baseline_window as (
        partition by baseline_grouping, baseline_group, measure
        order by judged_at
        range between interval {{ baseline_days() }} day preceding and interval 1 microsecond preceding
    )
    qualify is_judged

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
