-- The DORA level of each of the four metrics, per rollup group and period, for every report year of the
-- dora_bands seed: docs/metrics.md ("Benchmark levels").
with

dora_bands as (

    select * from {{ ref('dora_bands') }}

),

rollups as (

    {{ rollup_periods([
        'grouping', 'group_value', 'period_grain', 'period_start', 'loaded_days', 'deployments', 'deploy_days',
        'change_failure_rate', 'lead_time_median_minutes', 'time_to_restore_median_minutes',
    ]) }}

),

-- Each metric's value in every unit some report year bands it in. Deployment frequency is a rate over the
-- period's loaded days (a month is 30 days, six months 180), so partial periods are not penalised.
measures as (

    {%- set rates = [
        ('deploy_days', 7, 'deploy_days_per_week'),
        ('deploy_days', 30, 'deploy_days_per_month'),
        ('deploy_days', 180, 'deploy_days_per_six_months'),
        ('deployments', 1, 'deployments_per_day'),
        ('deployments', 30, 'deployments_per_month'),
    ] %}
    {%- for count, days, unit in rates %}
    select
        grouping,
        group_value,
        period_grain,
        period_start,
        'deployment_frequency' as metric,
        '{{ unit }}' as unit,
        case when loaded_days > 0 then cast({{ count }} as double) * {{ days }} / loaded_days end as value,
    from rollups
    union all
    {%- endfor %}
    select grouping, group_value, period_grain, period_start, 'lead_time' as metric, 'minutes' as unit,
        lead_time_median_minutes as value,
    from rollups
    union all
    select grouping, group_value, period_grain, period_start, 'change_failure_rate' as metric, 'ratio' as unit,
        change_failure_rate as value,
    from rollups
    union all
    select grouping, group_value, period_grain, period_start, 'time_to_restore' as metric, 'minutes' as unit,
        time_to_restore_median_minutes as value,
    from rollups

),

-- Where a metric is banded in several units (deployment frequency: deploy days per week for elite, per
-- month below), each band is tried in its own unit and the best level met wins.
banded as (

    select
        measures.grouping,
        measures.group_value,
        measures.period_grain,
        measures.period_start,
        dora_band.report_year,
        measures.metric,
        measures.value,
        measures.unit,
        dora_band.level,

    from measures
    inner join dora_bands as dora_band
        on measures.metric = dora_band.metric
        and measures.unit = dora_band.unit
        and {{ in_dora_band('dora_band', 'measures.value') }}
    qualify row_number() over (
        partition by
            measures.grouping,
            measures.group_value,
            measures.period_grain,
            measures.period_start,
            dora_band.report_year,
            measures.metric
        order by
            case dora_band.level when 'elite' then 1 when 'high' then 2 when 'medium' then 3 else 4 end
    ) = 1

),

-- Every group, period, report year and metric, with no level where the period does not measure it.
expected as (

    select
        rollups.grouping,
        rollups.group_value,
        rollups.period_grain,
        rollups.period_start,
        band_keys.report_year,
        band_keys.metric,

    from rollups
    cross join (select distinct report_year, metric from dora_bands) as band_keys

),

final as (

    select
        expected.grouping,
        expected.group_value,
        expected.period_grain,
        expected.period_start,
        expected.report_year,
        expected.metric,
        banded.value,
        banded.unit,
        banded.level,

    from expected
    left join banded
        on expected.grouping = banded.grouping
        and expected.group_value = banded.group_value
        and expected.period_grain = banded.period_grain
        and expected.period_start = banded.period_start
        and expected.report_year = banded.report_year
        and expected.metric = banded.metric

)

select * from final
