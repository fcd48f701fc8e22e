{#-
    The DORA rollups: weekly (dora_team_weekly, dora_org_weekly) and over any period (the DuckDB table
    macro marts.dora_summary). Both aggregate the same facts with the formulas of dora_metrics.sql.
-#}

{#- Weekly rollup per team (by_team) or for the whole org. Every week between the group's first and last
    week with data appears, with zero deployments where none. -#}
{% macro dora_weekly_sql(deployments_relation, changes_relation, bands_relation, by_team=true) -%}
{%- set group_key = 'team' if by_team else "'(org)'" -%}
with

deployments as (

    select * from {{ deployments_relation }}

),

changes as (

    select * from {{ changes_relation }}

),

dora_bands as (

    select * from {{ bands_relation }}

),

production_deployments as (

    select
        {{ group_key }} as team,
        {{ deploy_day('deployed_at') }} as deploy_day,
        {{ week_start('deployed_at') }} as week_start,
        is_failure,
        time_to_restore_minutes,

    from deployments
    where status = 'success'
        and is_production
        and team is not null
        and deployed_at is not null

),

measured_changes as (

    select
        {{ group_key }} as team,
        {{ week_start('deployed_at') }} as week_start,
        lead_time_minutes,

    from changes
    where lead_time_minutes is not null
        and team is not null

),

deployment_weeks as (

    select
        team,
        week_start,
        count(*) as deployments,
        count(distinct deploy_day) as deploy_days,
        count(*) filter (where is_failure) as failed_deployments,
        {{ percentile('time_to_restore_minutes', 0.5) }} as time_to_restore_median_minutes,
        avg(time_to_restore_minutes) as time_to_restore_mean_minutes,

    from production_deployments
    group by team, week_start

),

change_weeks as (

    select
        team,
        week_start,
        count(*) as changes,
        {{ lead_time_statistics('lead_time_minutes') }},

    from measured_changes
    group by team, week_start

),

data_weeks as (

    select team, week_start from deployment_weeks
    union
    select team, week_start from change_weeks

),

spans as (

    select
        team,
        min(week_start) as first_week,
        max(week_start) as last_week,

    from data_weeks
    group by team

),

calendar as (

    select
        team,
        cast(
            unnest(generate_series(cast(first_week as timestamp), cast(last_week as timestamp), interval 7 day))
            as date
        ) as week_start,

    from spans

),

-- Deploy days in the 30 days ending with the week: decides medium vs low for a week without deployments.
trailing_deploy_days as (

    select
        calendar.team,
        calendar.week_start,
        count(distinct production_deployments.deploy_day) as trailing_30_day_deploy_days,

    from calendar
    left join production_deployments
        on calendar.team = production_deployments.team
        and production_deployments.deploy_day >= calendar.week_start + 7 - 30
        and production_deployments.deploy_day < calendar.week_start + 7
    group by calendar.team, calendar.week_start

),

weekly as (

    select
        calendar.team,
        calendar.week_start,
        coalesce(deployment_weeks.deployments, 0) as deployments,
        coalesce(deployment_weeks.deploy_days, 0) as deploy_days,
        coalesce(deployment_weeks.failed_deployments, 0) as failed_deployments,
        {{ change_failure_rate('deployment_weeks.failed_deployments', 'deployment_weeks.deployments') }}
            as change_failure_rate,
        coalesce(change_weeks.changes, 0) as changes,
        change_weeks.lead_time_median_minutes,
        change_weeks.lead_time_p75_minutes,
        change_weeks.lead_time_p90_minutes,
        change_weeks.lead_time_mean_minutes,
        deployment_weeks.time_to_restore_median_minutes,
        deployment_weeks.time_to_restore_mean_minutes,
        trailing_deploy_days.trailing_30_day_deploy_days,

    from calendar
    left join deployment_weeks
        on calendar.team = deployment_weeks.team
        and calendar.week_start = deployment_weeks.week_start
    left join change_weeks
        on calendar.team = change_weeks.team
        and calendar.week_start = change_weeks.week_start
    left join trailing_deploy_days
        on calendar.team = trailing_deploy_days.team
        and calendar.week_start = trailing_deploy_days.week_start

),

final as (

    select
        {%- if by_team %}
        team,
        {%- endif %}
        week_start,
        deployments,
        deploy_days,
        failed_deployments,
        change_failure_rate,
        changes,
        lead_time_median_minutes,
        lead_time_p75_minutes,
        lead_time_p90_minutes,
        lead_time_mean_minutes,
        time_to_restore_median_minutes,
        time_to_restore_mean_minutes,
        {{ deployment_frequency_level('deploy_days', 'trailing_30_day_deploy_days', 'dora_bands') }}
            as deployment_frequency_level_2023,
        {{ dora_level('lead_time', 'lead_time_median_minutes', 'dora_bands') }} as lead_time_level_2023,
        {{ dora_level('change_failure_rate', 'change_failure_rate', 'dora_bands') }}
            as change_failure_rate_level_2023,
        {{ dora_level('time_to_restore', 'time_to_restore_median_minutes', 'dora_bands') }}
            as time_to_restore_level_2023,

    from weekly

)

select * from final
{%- endmacro %}


{#- The body of marts.dora_summary(start_date, end_date, teams): one row per selected team and one org row
    (team = '(org)') over the selected teams. Dates are inclusive; a deployment, failure or change counts in
    the period of its deployed_at. Relations are schema-qualified without a database name so the macro
    keeps working in the published copy of the build file. -#}
{% macro dora_summary_sql(marts_schema='marts', bands_relation='reference.dora_bands') -%}
with

period as (

    select
        cast(start_date as date) as period_start,
        cast(end_date as date) as period_end,

),

dora_bands as (

    select * from {{ bands_relation }}

),

selected_teams as (

    select team
    from {{ marts_schema }}.dim_teams
    where teams is null or coalesce(list_contains(teams, team), false)

),

summary_rows as (

    select team, 0 as row_order from selected_teams
    union all
    select '(org)' as team, 1 as row_order

),

period_deployments as (

    select
        fct_deployments.team,
        {{ deploy_day('fct_deployments.deployed_at') }} as deploy_day,
        fct_deployments.is_failure,
        fct_deployments.time_to_restore_minutes,

    from {{ marts_schema }}.fct_deployments as fct_deployments
    inner join selected_teams
        on fct_deployments.team = selected_teams.team
    cross join period
    where fct_deployments.status = 'success'
        and fct_deployments.is_production
        and {{ deploy_day('fct_deployments.deployed_at') }} between period.period_start and period.period_end

),

scoped_deployments as (

    select * from period_deployments
    union all
    select * replace ('(org)' as team) from period_deployments

),

period_changes as (

    select
        fct_changes.team,
        fct_changes.lead_time_minutes,

    from {{ marts_schema }}.fct_changes as fct_changes
    inner join selected_teams
        on fct_changes.team = selected_teams.team
    cross join period
    where fct_changes.lead_time_minutes is not null
        and {{ deploy_day('fct_changes.deployed_at') }} between period.period_start and period.period_end

),

scoped_changes as (

    select * from period_changes
    union all
    select * replace ('(org)' as team) from period_changes

),

weeks as (

    select
        cast(
            unnest(generate_series(
                date_trunc('week', period_start), date_trunc('week', period_end), interval 7 day
            )) as date
        ) as week_start,

    from period

),

months as (

    select
        cast(
            unnest(generate_series(
                date_trunc('month', period_start), date_trunc('month', period_end), interval 1 month
            )) as date
        ) as month_start,

    from period

),

weekly_deploy_days as (

    select
        summary_rows.team,
        weeks.week_start,
        count(distinct scoped_deployments.deploy_day) as deploy_days,

    from summary_rows
    cross join weeks
    left join scoped_deployments
        on summary_rows.team = scoped_deployments.team
        and {{ week_start('scoped_deployments.deploy_day') }} = weeks.week_start
    group by summary_rows.team, weeks.week_start

),

monthly_deploy_days as (

    select
        summary_rows.team,
        months.month_start,
        count(distinct scoped_deployments.deploy_day) as deploy_days,

    from summary_rows
    cross join months
    left join scoped_deployments
        on summary_rows.team = scoped_deployments.team
        and cast(date_trunc('month', scoped_deployments.deploy_day) as date) = months.month_start
    group by summary_rows.team, months.month_start

),

frequency as (

    select
        weekly_deploy_days.team,
        {{ percentile('weekly_deploy_days.deploy_days', 0.5) }} as deploy_days_per_week_median,

    from weekly_deploy_days
    group by weekly_deploy_days.team

),

monthly_frequency as (

    select
        team,
        {{ percentile('deploy_days', 0.5) }} as deploy_days_per_month_median,

    from monthly_deploy_days
    group by team

),

deployment_totals as (

    select
        team,
        count(*) as deployments,
        count(*) filter (where is_failure) as failed_deployments,
        {{ percentile('time_to_restore_minutes', 0.5) }} as time_to_restore_median_minutes,

    from scoped_deployments
    group by team

),

change_totals as (

    select
        team,
        count(*) as changes,
        {{ lead_time_statistics('lead_time_minutes') }},

    from scoped_changes
    group by team

),

summary as (

    select
        summary_rows.team,
        summary_rows.row_order,
        coalesce(deployment_totals.deployments, 0) as deployments,
        coalesce(deployment_totals.deployments, 0)
            / ((date_diff('day', period.period_start, period.period_end) + 1) / 7.0) as deployments_per_week,
        frequency.deploy_days_per_week_median,
        monthly_frequency.deploy_days_per_month_median,
        coalesce(deployment_totals.failed_deployments, 0) as failed_deployments,
        {{ change_failure_rate('deployment_totals.failed_deployments', 'deployment_totals.deployments') }}
            as change_failure_rate,
        coalesce(change_totals.changes, 0) as changes,
        change_totals.lead_time_median_minutes,
        change_totals.lead_time_p75_minutes,
        change_totals.lead_time_p90_minutes,
        change_totals.lead_time_mean_minutes,
        deployment_totals.time_to_restore_median_minutes,

    from summary_rows
    cross join period
    left join frequency
        on summary_rows.team = frequency.team
    left join monthly_frequency
        on summary_rows.team = monthly_frequency.team
    left join deployment_totals
        on summary_rows.team = deployment_totals.team
    left join change_totals
        on summary_rows.team = change_totals.team

),

final as (

    select
        team,
        deployments,
        deployments_per_week,
        deploy_days_per_week_median,
        failed_deployments,
        change_failure_rate,
        changes,
        lead_time_median_minutes,
        lead_time_p75_minutes,
        lead_time_p90_minutes,
        lead_time_mean_minutes,
        time_to_restore_median_minutes,
        {{ deployment_frequency_level('deploy_days_per_week_median', 'deploy_days_per_month_median', 'dora_bands') }}
            as deployment_frequency_level_2023,
        {{ dora_level('lead_time', 'lead_time_median_minutes', 'dora_bands') }} as lead_time_level_2023,
        {{ dora_level('change_failure_rate', 'change_failure_rate', 'dora_bands') }}
            as change_failure_rate_level_2023,
        {{ dora_level('time_to_restore', 'time_to_restore_median_minutes', 'dora_bands') }}
            as time_to_restore_level_2023,

    from summary
    order by row_order, team

)

select * from final
{%- endmacro %}


{#- Called from on-run-end (transform/dbt_project.yml): (re)creates marts.dora_summary once the facts it
    reads exist. DuckDB binds a table macro when it is created, so on a run that has not built them yet it
    is skipped with a log line instead of failing the run. -#}
{% macro create_dora_summary() %}
    {% if execute %}
        {% set needed = [('marts', 'dim_teams'), ('marts', 'fct_deployments'), ('marts', 'fct_changes'),
                         ('reference', 'dora_bands')] %}
        {% set missing = [] %}
        {% for schema_name, table_name in needed %}
            {% if adapter.get_relation(database=target.database, schema=schema_name, identifier=table_name) is none %}
                {% do missing.append(schema_name ~ '.' ~ table_name) %}
            {% endif %}
        {% endfor %}
        {% if missing %}
            {% do log('marts.dora_summary not created yet; missing: ' ~ missing | join(', '), info=true) %}
        {% else %}
            {% do run_query('create schema if not exists marts') %}
            {% do run_query('create or replace macro marts.dora_summary(start_date, end_date, teams) as table '
                            ~ dora_summary_sql()) %}
        {% endif %}
    {% endif %}
{% endmacro %}
