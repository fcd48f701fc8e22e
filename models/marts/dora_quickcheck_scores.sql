-- Each team's DORA Quick Check scores per period, beside the means of the chosen edition's industry and
-- organisation size: docs/metrics.md ("DORA Quick Check score"); formulas in transform/macros/quickcheck.sql.
with

benchmark_choice as (

    select * from {{ ref('stg_config__benchmarks') }}

),

benchmarks as (

    select * from {{ ref('stg_dora_quickcheck__benchmarks') }}

),

answers as (

    select * from {{ ref('stg_dora_quickcheck__answers') }}

),

-- The rework rate (rework deployments / deployments) joins the 2025 edition's average.
team_periods as (

    {{ rollup_periods([
        'group_value as team', 'period_grain', 'period_start', 'loaded_days', 'deployments',
        'deployments_per_week', 'lead_time_median_minutes', 'change_failure_rate',
        'time_to_restore_median_minutes', 'rework_rate',
    ], where="grouping = 'team'") }}

),

bucketed as (

    select
        team, period_grain, period_start, 'lead_time' as metric,
        lead_time_median_minutes as measured_value, 'minutes' as measured_unit,
        {{ quickcheck_duration_bucket('lead_time_median_minutes') }} as bucket,
    from team_periods
    union all
    select
        team, period_grain, period_start, 'deployment_frequency' as metric,
        deployments_per_week as measured_value, 'deployments_per_week' as measured_unit,
        {{ quickcheck_frequency_bucket('deployments', 'loaded_days') }} as bucket,
    from team_periods
    union all
    select
        team, period_grain, period_start, 'time_to_restore' as metric,
        time_to_restore_median_minutes as measured_value, 'minutes' as measured_unit,
        {{ quickcheck_duration_bucket('time_to_restore_median_minutes') }} as bucket,
    from team_periods

),

scored as (

    select
        *,
        {{ quickcheck_bucket_score('bucket') }} as score,
    from bucketed
    union all
    select
        team, period_grain, period_start, 'change_failure_rate' as metric,
        change_failure_rate as measured_value, 'ratio' as measured_unit,
        cast(null as integer) as bucket,
        {{ quickcheck_rate_score('change_failure_rate') }} as score,
    from team_periods
    union all
    -- Rework is part of the Quick Check from its 2025 edition on.
    select
        team, period_grain, period_start, 'rework_rate' as metric,
        rework_rate as measured_value, 'ratio' as measured_unit,
        cast(null as integer) as bucket,
        {{ quickcheck_rate_score('rework_rate') }} as score,
    from team_periods
    where (select edition from benchmark_choice) >= 2025

),

-- As the Quick Check does: the mean of the metric scores there are (a metric not measured in the period
-- is left out, not counted as 0); NULL when none is.
with_average as (

    select
        team, period_grain, period_start, metric, measured_value, measured_unit, bucket, score,
    from scored
    union all
    select
        team, period_grain, period_start, 'performance_average' as metric,
        cast(null as double) as measured_value, cast(null as varchar) as measured_unit,
        cast(null as integer) as bucket,
        avg(score) as score,
    from scored
    group by team, period_grain, period_start

),

-- The chosen edition's industry and organisation-size segments, as the Quick Check shows them: change
-- failure and rework means are stored as percent / 10 and shown as 10 - mean.
chosen_benchmarks as (

    select
        benchmarks.comparison,
        benchmarks.segment,
        benchmarks.metric,
        case
            when benchmarks.metric in ('change_failure_rate', 'rework_rate') then 10 - benchmarks.published_mean
            else benchmarks.published_mean
        end as shown_mean,
        benchmarks.published_std as shown_std,

    from benchmarks
    inner join benchmark_choice
        on benchmarks.edition = benchmark_choice.edition
        and benchmarks.segment = case benchmarks.comparison
            when 'industry' then benchmark_choice.industry
            else benchmark_choice.organization_size
        end

),

-- The performance average's mean is recomputed from the metric means shown (as the Quick Check does);
-- its standard deviation is the published one.
shown_benchmarks as (

    select comparison, metric, shown_mean, shown_std,
    from chosen_benchmarks
    where metric in ('lead_time', 'deployment_frequency', 'change_failure_rate', 'time_to_restore', 'rework_rate')
    union all
    select
        averaged.comparison,
        'performance_average' as metric,
        averaged.shown_mean,
        published.shown_std,
    from (
        select comparison, avg(shown_mean) as shown_mean,
        from chosen_benchmarks
        where metric in (
            'lead_time', 'deployment_frequency', 'change_failure_rate', 'time_to_restore', 'rework_rate'
        )
        group by comparison
    ) as averaged
    inner join chosen_benchmarks as published
        on averaged.comparison = published.comparison
        and published.metric = 'performance_average'

),

final as (

    select
        with_average.team,
        with_average.period_grain,
        with_average.period_start,
        benchmark_choice.edition,
        with_average.metric,
        with_average.measured_value,
        with_average.measured_unit,
        with_average.bucket,
        answers.answer,
        with_average.score,
        benchmark_choice.industry,
        industry.shown_mean as industry_mean,
        industry.shown_std as industry_std,
        (with_average.score - industry.shown_mean) / nullif(industry.shown_std, 0) as industry_distance_sd,
        benchmark_choice.organization_size,
        organization_size.shown_mean as organization_size_mean,
        organization_size.shown_std as organization_size_std,
        (with_average.score - organization_size.shown_mean) / nullif(organization_size.shown_std, 0)
            as organization_size_distance_sd,

    from with_average
    cross join benchmark_choice
    left join answers
        on with_average.metric = answers.metric
        and with_average.bucket = answers.bucket
    left join shown_benchmarks as industry
        on industry.comparison = 'industry'
        and with_average.metric = industry.metric
    left join shown_benchmarks as organization_size
        on organization_size.comparison = 'organization_size'
        and with_average.metric = organization_size.metric

)

select * from final
