{#-
    The banding rule of the DORA levels over a period, defined once: the dora_levels mart bands every
    rollup period with it, and the table macro marts.dora_period_levels (created at the end of every run,
    below) bands the figures of any period the app chooses with the same SQL. docs/metrics.md, "Benchmark
    levels".
-#}

{#- Every key of `figures_relation` × report year × metric of `bands_relation`, with the best level the
    period meets (NULL where it measures nothing in that year's units), the value banded and its unit.
    `figures_relation` holds the `keys` columns and the period's figures: loaded_days, deployments,
    deploy_days, change_failure_rate, lead_time_median_minutes, time_to_restore_median_minutes. -#}
{% macro dora_banding_sql(figures_relation, keys, bands_relation) -%}
{%- set key_list = keys | join(', ') -%}
with

figures as (

    select * from {{ figures_relation }}

),

dora_bands as (

    select * from {{ bands_relation }}

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
        {{ key_list }},
        'deployment_frequency' as metric,
        '{{ unit }}' as unit,
        case when loaded_days > 0 then cast({{ count }} as double) * {{ days }} / loaded_days end as value,
    from figures
    union all
    {%- endfor %}
    select {{ key_list }}, 'lead_time' as metric, 'minutes' as unit, lead_time_median_minutes as value,
    from figures
    union all
    select {{ key_list }}, 'change_failure_rate' as metric, 'ratio' as unit, change_failure_rate as value,
    from figures
    union all
    select {{ key_list }}, 'time_to_restore' as metric, 'minutes' as unit, time_to_restore_median_minutes as value,
    from figures

),

-- Where a metric is banded in several units (deployment frequency: deploy days per week for elite, per
-- month below), each band is tried in its own unit and the best level met wins.
banded as (

    select
        {%- for key in keys %}
        measures.{{ key }},
        {%- endfor %}
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
            {%- for key in keys %}
            measures.{{ key }},
            {%- endfor %}
            dora_band.report_year,
            measures.metric
        order by
            case dora_band.level when 'elite' then 1 when 'high' then 2 when 'medium' then 3 else 4 end
    ) = 1

),

-- Every key, report year and metric, with no level where the period does not measure it.
expected as (

    select
        {%- for key in keys %}
        figures.{{ key }},
        {%- endfor %}
        band_keys.report_year,
        band_keys.metric,

    from figures
    cross join (select distinct report_year, metric from dora_bands) as band_keys

),

final as (

    select
        {%- for key in keys %}
        expected.{{ key }},
        {%- endfor %}
        expected.report_year,
        expected.metric,
        banded.value,
        banded.unit,
        banded.level,

    from expected
    left join banded
        on
        {%- for key in keys %}
        expected.{{ key }} = banded.{{ key }} and
        {%- endfor %}
        expected.report_year = banded.report_year
        and expected.metric = banded.metric

)

select * from final
{%- endmacro %}


{#- Called from on-run-end (transform/dbt_project.yml): (re)creates the table macro
    marts.dora_period_levels(requested_report_year, period_figures): `period_figures` is a list of structs,
    one per group, with `group_value` and the figures dora_banding_sql reads; one row per group and metric
    of that report year comes back. The app bands a chosen period with it. Skipped with a log line until
    the bands seed exists (DuckDB binds a table macro when it is created). -#}
{% macro create_dora_period_levels() %}
    {% if execute %}
        {% if adapter.get_relation(database=target.database, schema='reference', identifier='dora_bands') is none %}
            {% do log('marts.dora_period_levels not created yet; missing: reference.dora_bands', info=true) %}
        {% else %}
            {% do run_query('create schema if not exists marts') %}
            {% do run_query(
                'create or replace macro marts.dora_period_levels(requested_report_year, period_figures) as table '
                ~ dora_banding_sql(
                    '(select unnest(period_figures, recursive := true))',
                    ['group_value'],
                    '(select * from reference.dora_bands where report_year = requested_report_year)',
                )
            ) %}
        {% endif %}
    {% endif %}
{% endmacro %}
