{#-
    Metric formulas, defined once. The weekly marts (dora_team_weekly, dora_org_weekly), the facts and the
    table macro marts.dora_summary all call these, so a formula cannot drift between them.
    docs/metrics.md describes each one.
-#}

{#- Minutes from start_at to end_at as a double; signed (a commit authored after its PR opened gives a
    negative coding time). Microsecond epochs keep it exact, so phases add up to the total. -#}
{% macro minutes_between(start_at, end_at) -%}
    ((epoch_us({{ end_at }}) - epoch_us({{ start_at }})) / 60000000.0)
{%- endmacro %}

{#- A share in 0..1, NULL when there is nothing to divide by (no deployments: no rate, not 0 %). -#}
{% macro safe_ratio(numerator, denominator) -%}
    (case when {{ denominator }} > 0 then cast({{ numerator }} as double) / {{ denominator }} end)
{%- endmacro %}

{#- Change failure rate: distinct failed production deployments / production deployments. -#}
{% macro change_failure_rate(failed_deployments, deployments) -%}
    {{ safe_ratio(failed_deployments, deployments) }}
{%- endmacro %}

{#- Rework rate (DORA 2024): production deployments made to fix a failure (rollbacks, reverts, hotfixes)
    / production deployments. -#}
{% macro rework_rate(rework_deployments, deployments) -%}
    {{ safe_ratio(rework_deployments, deployments) }}
{%- endmacro %}

{#- Continuous (interpolated) percentile; the median is percentile 0.5. -#}
{% macro percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- The percentiles the rollups report of a duration (median, p75, p90), one of them: each is an item of one
    `quantile_cont` over the three fractions, written the same way for all three, which DuckDB computes once
    per group (one sort of the group's values instead of one a percentile; the same values as
    `percentile`). -#}
{% macro reported_percentile(expression, fraction) -%}
    {%- set fractions = [0.5, 0.75, 0.9] -%}
    {%- if fraction not in fractions -%}
        {{ exceptions.raise_compiler_error("reported_percentile: " ~ fraction ~ " is none of " ~ fractions) }}
    {%- endif -%}
    (quantile_cont({{ expression }}, [{{ fractions | join(', ') }}]))[{{ fractions.index(fraction) + 1 }}]
{%- endmacro %}

{#- The lead time statistics every rollup reports, as select-list items. -#}
{% macro lead_time_statistics(lead_time_column) -%}
    {{ reported_percentile(lead_time_column, 0.5) }} as lead_time_median_minutes,
    {{ reported_percentile(lead_time_column, 0.75) }} as lead_time_p75_minutes,
    {{ reported_percentile(lead_time_column, 0.9) }} as lead_time_p90_minutes,
    avg({{ lead_time_column }}) as lead_time_mean_minutes
{%- endmacro %}

{#- The day a deployment counts for in deploy-day counts (UTC calendar day). -#}
{% macro deploy_day(deployed_at) -%}
    cast({{ deployed_at }} as date)
{%- endmacro %}

{#- The ISO week (Monday start) an event counts for. -#}
{% macro week_start(event_at) -%}
    cast(date_trunc('week', {{ event_at }}) as date)
{%- endmacro %}

{#- The DORA level of a value, looked up in the versioned bands seed (never hard-coded numbers).
    `bands` is the relation holding transform/seeds/dora_bands.csv; `unit` narrows the rows for metrics
    whose bands mix units (deployment frequency). NULL value → NULL level. -#}
{% macro dora_level(metric, value, bands, report_year=2023, unit=none) -%}
    (
        select dora_band.level
        from {{ bands }} as dora_band
        where dora_band.report_year = {{ report_year }}
            and dora_band.metric = '{{ metric }}'
            {%- if unit is not none %}
            and dora_band.unit = '{{ unit }}'
            {%- endif %}
            and {{ in_dora_band('dora_band', value) }}
        limit 1
    )
{%- endmacro %}

{#- True when `value` (not null) lies in the band row `band` of dora_bands: [lower, upper), or (lower, upper]
    when upper_inclusive; an empty bound is open. dora_level and the dora_levels mart both band through it. -#}
{% macro in_dora_band(band, value) -%}
    (
        {{ value }} is not null
        and case
            when {{ band }}.upper_inclusive
                then ({{ band }}.lower_bound is null or {{ value }} > {{ band }}.lower_bound)
                and ({{ band }}.upper_bound is null or {{ value }} <= {{ band }}.upper_bound)
            else ({{ band }}.lower_bound is null or {{ value }} >= {{ band }}.lower_bound)
                and ({{ band }}.upper_bound is null or {{ value }} < {{ band }}.upper_bound)
        end
    )
{%- endmacro %}

{#- Deployment frequency level (2023 bands): elite/high from deploy days per week; below that, medium or
    low from deploy days per month. Weekly marts pass the week's deploy days and the deploy days of the 30
    days ending with the week; dora_summary passes the median weekly and median monthly deploy days. -#}
{% macro deployment_frequency_level(deploy_days_per_week, deploy_days_per_month, bands, report_year=2023) -%}
    coalesce(
        {{ dora_level('deployment_frequency', deploy_days_per_week, bands, report_year, 'deploy_days_per_week') }},
        {{ dora_level('deployment_frequency', deploy_days_per_month, bands, report_year, 'deploy_days_per_month') }}
    )
{%- endmacro %}

{#- The first day of the period (`day`, `week` = ISO week from Monday, `month`) a UTC day counts for. -#}
{% macro period_start(grain, day) -%}
    cast(date_trunc('{{ grain }}', {{ day }}) as date)
{%- endmacro %}

{#- The last day of a period, inclusive. -#}
{% macro period_end(grain, period_start_day) -%}
    cast({{ period_start_day }} + interval 1 {{ grain }} as date) - 1
{%- endmacro %}

{#- Days of [first_day, last_day] that are also inside [loaded_from, loaded_through]: what a period counts
    when it reaches past the loaded data (0 when they do not meet). -#}
{% macro loaded_days(first_day, last_day, loaded_from, loaded_through) -%}
    greatest(
        0,
        date_diff('day', greatest({{ first_day }}, {{ loaded_from }}), least({{ last_day }}, {{ loaded_through }})) + 1
    )
{%- endmacro %}

{#- Deployments per week over the loaded days of a period (never over days not loaded). -#}
{% macro deployments_per_week(deployments, loaded_days) -%}
    (case when {{ loaded_days }} > 0 then cast({{ deployments }} as double) * 7 / {{ loaded_days }} end)
{%- endmacro %}

{#- The loaded data, as a one-row select: the first and last UTC day holding any deployment (any
    environment, any status; its created_at when it has no deployed_at) or incident. -#}
{% macro loaded_range_sql(deployments_relation, incidents_relation) -%}
    select
        min(loaded_day) as loaded_from,
        max(loaded_day) as loaded_through,
    from (
        select cast(coalesce(deployed_at, created_at) as date) as loaded_day from {{ deployments_relation }}
        union all
        select cast(created_at as date) as loaded_day from {{ incidents_relation }}
    ) as loaded_days
{%- endmacro %}
