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
-- Incremental: a refresh judges again only each group's rows from the first deployment time whose values
-- changed (replace_from, transform/macros/outliers.sql), reading the values of the baseline's length
-- before it; the pre-hook deletes those rows and the rest are kept as built.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_trailing_rows(change_outlier_values(), ['baseline_grouping', 'baseline_group'],
                                      'deployed_at', change_outlier_value_columns()) }}",
) }}
with

grouped as (

    {{ change_outlier_values() }}

),

{% if is_incremental() %}

replace_from as (

    {{ trailing_replace_from('grouped', ['baseline_grouping', 'baseline_group'], 'deployed_at',
                             change_outlier_value_columns()) }}

),

-- the rows judged again, and the values their baselines can read
judged as (

    select grouped.*
    from grouped
    inner join replace_from
        on grouped.baseline_grouping = replace_from.baseline_grouping
        and grouped.baseline_group = replace_from.baseline_group
    where grouped.deployed_at >= replace_from.replace_from

),

window_values as (

    select grouped.*
    from grouped
    inner join replace_from
        on grouped.baseline_grouping = replace_from.baseline_grouping
        and grouped.baseline_group = replace_from.baseline_group
    where grouped.deployed_at >= replace_from.replace_from - interval {{ baseline_days() }} day

),

{% else %}

judged as (

    select * from grouped

),

window_values as (

    select * from grouped

),

{% endif %}

-- One row per group and deployment time besides the changes' rows: the changes of that time share its frame,
-- so the window's median and MAD are evaluated once per frame (the probe row's) instead of once per change
-- (about 8 changes a frame in a large org's team groups); a change's own row gets an empty frame, which costs
-- nothing, and takes its probe's baseline. The probe rows hold no lead time, so no frame counts them.
frame_rows as (

    select baseline_grouping, baseline_group, deployed_at, lead_time_minutes, false as is_probe
    from window_values

    union all

    select distinct baseline_grouping, baseline_group, deployed_at, null, true
    from judged

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
        judged.*,
        frame_baselines.baseline_median,
        frame_baselines.baseline_mad,
        frame_baselines.baseline_stddev,
        frame_baselines.baseline_count,

    from judged
    inner join frame_baselines
        on judged.baseline_grouping = frame_baselines.baseline_grouping
        and judged.baseline_group = frame_baselines.baseline_group
        and judged.deployed_at = frame_baselines.deployed_at

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
