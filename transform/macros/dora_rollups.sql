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
    {%- if by_team %}
    -- per team, `changes_relation` is the bridge fct_change_services: a change counts once for each team
    -- whose services it touches, at the first of their production deployments of it
    qualify row_number() over (partition by change_id, team order by deployed_at, service) = 1
    {%- endif %}

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

requested as (

    select
        cast(start_date as date) as requested_start,
        case
            when cast(end_date as date) < cast(start_date as date)
                then error(
                    'dora_summary: end_date ' || cast(end_date as varchar) || ' is before start_date '
                    || cast(start_date as varchar) || ' (dates are inclusive: give the earlier one first)'
                )
            else cast(end_date as date)
        end as requested_end,

),

loaded as (

    {{ loaded_range_sql(marts_schema ~ '.fct_deployments', marts_schema ~ '.fct_incidents') }}

),

-- The requested period cut to the loaded data: days not loaded (the future, before the first load) are not
-- counted as days without deployments. A period entirely outside the data keeps its dates and has no
-- loaded days.
period as (

    select
        greatest(requested.requested_start, coalesce(loaded.loaded_from, requested.requested_start))
            as period_start,
        least(requested.requested_end, coalesce(loaded.loaded_through, requested.requested_end))
            as period_end,
        {{ loaded_days('requested.requested_start', 'requested.requested_end',
                       'loaded.loaded_from', 'loaded.loaded_through') }} as loaded_days,

    from requested
    cross join loaded

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

-- Only the calendar weeks and months wholly inside the (loaded) period count towards the medians: a
-- partial week at an edge would count a weekend as a week without deployments.
touched_weeks as (

    select
        cast(
            unnest(generate_series(
                date_trunc('week', period_start), date_trunc('week', period_end), interval 7 day
            )) as date
        ) as week_start,

    from period
    where loaded_days > 0

),

weeks as (

    select touched_weeks.week_start
    from touched_weeks
    cross join period
    where touched_weeks.week_start >= period.period_start
        and {{ period_end('week', 'touched_weeks.week_start') }} <= period.period_end

),

touched_months as (

    select
        cast(
            unnest(generate_series(
                date_trunc('month', period_start), date_trunc('month', period_end), interval 1 month
            )) as date
        ) as month_start,

    from period
    where loaded_days > 0

),

months as (

    select touched_months.month_start
    from touched_months
    cross join period
    where touched_months.month_start >= period.period_start
        and {{ period_end('month', 'touched_months.month_start') }} <= period.period_end

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
        count(distinct deploy_day) as deploy_days,
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
        {{ deployments_per_week('coalesce(deployment_totals.deployments, 0)', 'period.loaded_days') }}
            as deployments_per_week,
        frequency.deploy_days_per_week_median,
        -- Without a whole month in the period: its deploy days per 30 loaded days.
        coalesce(
            monthly_frequency.deploy_days_per_month_median,
            case when period.loaded_days > 0
                then coalesce(deployment_totals.deploy_days, 0) * 30.0 / period.loaded_days end
        ) as deploy_days_per_month_median,
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
        -- No whole week loaded in the period: too short to rate how often a team deploys (NULL, not low).
        case when deploy_days_per_week_median is not null then
            {{ deployment_frequency_level('deploy_days_per_week_median', 'deploy_days_per_month_median', 'dora_bands') }}
        end as deployment_frequency_level_2023,
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
                         ('marts', 'fct_incidents'), ('reference', 'dora_bands')] %}
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


{#- The measures of the rollup family that get a `previous_<measure>` column (the same group's previous
    period), and the team measures ranked within the org, with the direction that ranks first. -#}
{% macro rollup_measures() -%}
    {{ return(['deployments', 'deployments_per_week', 'deploy_days', 'failed_deployments', 'change_failure_rate',
               'changes', 'lead_time_median_minutes', 'lead_time_p75_minutes', 'lead_time_p90_minutes',
               'lead_time_mean_minutes', 'time_to_restore_median_minutes', 'time_to_restore_mean_minutes',
               'incidents', 'rework_deployments', 'rework_rate', 'time_to_detect_median_minutes',
               'open_failures', 'batch_size_median_lines', 'pipeline_duration_median_minutes',
               'review_compliance_rate', 'deployed_by_author_share'] + rollup_phase_measures()) }}
{%- endmacro %}

{#- The lead-time phases of the rollup family: median, p75, p90 and mean of each, over the period's changes
    counted in `changes` that have the phase. -#}
{% macro rollup_phases() -%}
    {{ return(['coding', 'pickup', 'review', 'deploy']) }}
{%- endmacro %}

{% macro rollup_phase_measures() -%}
    {%- set measures = [] -%}
    {%- for phase in rollup_phases() -%}
        {%- for statistic in ['median', 'p75', 'p90', 'mean'] -%}
            {%- do measures.append(phase ~ '_' ~ statistic ~ '_minutes') -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(measures) }}
{%- endmacro %}

{% macro rollup_ranked_measures() -%}
    {{ return([('deployments_per_week', 'desc'), ('lead_time_median_minutes', 'asc'),
               ('change_failure_rate', 'asc'), ('time_to_restore_median_minutes', 'asc')]) }}
{%- endmacro %}

{#- Rank (1 = best, ties share the better rank) and percentile (1.0 = best, 0.0 = worst, a lone team 1.0)
    of a team's measure among the org's teams in the same period; NULL when the team has no value. -#}
{% macro rank_within_org(measure, direction) -%}
    case when {{ measure }} is not null then
        rank() over (
            partition by period_start, {{ measure }} is null order by {{ measure }} {{ direction }}
        )
    end as {{ measure }}_rank,
    case when {{ measure }} is not null then
        1 - percent_rank() over (
            partition by period_start, {{ measure }} is null order by {{ measure }} {{ direction }}
        )
    end as {{ measure }}_percentile
{%- endmacro %}

{#- The cross-team rollup family (dora_rollup_daily, dora_rollup_weekly, dora_rollup_monthly): one row per
    grouping (org, department, team, service, label), group and period of `grain` (day, week, month), from
    the group's first period with data through the period holding the last loaded day, zeros where nothing
    happened. docs/metrics.md ("Cross-team rollups") describes each column. -#}
{% macro dora_rollup_sql(grain) -%}
with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

change_services as (

    select * from {{ ref('fct_change_services') }}

),

incidents as (

    select * from {{ ref('fct_incidents') }}

),

teams as (

    select * from {{ ref('dim_teams') }}

),

services as (

    select * from {{ ref('dim_services') }}

),

loaded as (

    {{ loaded_range_sql('deployments', 'incidents') }}

),

-- Which groups each service's events count for: the org, its team's department, its team, itself and each
-- of its labels. A team without a department, or a service without labels, is in no such group.
service_groups as (

    select service, 'org' as grouping, '(org)' as group_value from services
    union all
    select services.service, 'department' as grouping, teams.department as group_value
    from services
    inner join teams
        on services.team = teams.team
    where teams.department is not null
    union all
    select service, 'team' as grouping, team as group_value from services
    union all
    select service, 'service' as grouping, service as group_value from services
    union all
    select service, 'label' as grouping, unnest(labels) as group_value from services

),

production_deployments as (

    select
        service,
        {{ deploy_day('deployed_at') }} as event_day,
        is_failure,
        time_to_restore_minutes,
        is_rework,
        time_to_detect_minutes,
        -- failed and not recovered (yet): counted as open, never dropped
        is_failure and not coalesce(is_recovered, false) as is_open_failure,
        batch_lines_changed,
        pipeline_duration_minutes,

    from deployments
    where status = 'success'
        and is_production
        and team is not null
        and deployed_at is not null

),

measured_changes as (

    select
        service,
        {{ deploy_day('deployed_at') }} as event_day,
        lead_time_minutes,
        is_reviewed_by_other,
        is_deployed_by_author,
        {%- for phase in rollup_phases() %}
        {{ phase }}_minutes,
        {%- endfor %}

    from changes
    where lead_time_minutes is not null
        and team is not null

),

-- Services by path (docs/metrics.md): a change counts for each service it touches, with that service's
-- first production deployment of it (fct_change_services), and once for each team, department and label
-- its services carry, at the first of those deployments among the group's services. The org counts it
-- once, as fct_changes has it.
measured_change_services as (

    select
        change_id,
        service,
        team,
        deployed_at,
        {{ deploy_day('deployed_at') }} as event_day,
        lead_time_minutes,
        is_reviewed_by_other,
        is_deployed_by_author,
        {%- for phase in rollup_phases() %}
        {{ phase }}_minutes,
        {%- endfor %}

    from change_services
    where lead_time_minutes is not null
        and team is not null

),

grouped_changes as (

    select
        service_groups.grouping,
        service_groups.group_value,
        measured_changes.* exclude (service),

    from measured_changes
    inner join service_groups
        on measured_changes.service = service_groups.service
    where service_groups.grouping = 'org'

    union all by name

    select
        service_groups.grouping,
        service_groups.group_value,
        measured_change_services.* exclude (change_id, service, team, deployed_at),

    from measured_change_services
    inner join service_groups
        on measured_change_services.service = service_groups.service
        and service_groups.grouping != 'org'
    qualify row_number() over (
        partition by service_groups.grouping, service_groups.group_value, measured_change_services.change_id
        order by measured_change_services.deployed_at, measured_change_services.service
    ) = 1

),

started_incidents as (

    select
        service,
        cast(created_at as date) as event_day,

    from incidents
    where service is not null

),

deployment_periods as (

    select
        service_groups.grouping,
        service_groups.group_value,
        {{ period_start(grain, 'production_deployments.event_day') }} as period_start,
        count(*) as deployments,
        count(distinct production_deployments.event_day) as deploy_days,
        count(*) filter (where production_deployments.is_failure) as failed_deployments,
        {{ percentile('production_deployments.time_to_restore_minutes', 0.5) }} as time_to_restore_median_minutes,
        avg(production_deployments.time_to_restore_minutes) as time_to_restore_mean_minutes,
        count(*) filter (where production_deployments.is_rework) as rework_deployments,
        {{ percentile('production_deployments.time_to_detect_minutes', 0.5) }} as time_to_detect_median_minutes,
        count(*) filter (where production_deployments.is_open_failure) as open_failures,
        max(production_deployments.event_day) as last_deploy_day,
        {{ percentile('production_deployments.batch_lines_changed', 0.5) }} as batch_size_median_lines,
        {{ percentile('production_deployments.pipeline_duration_minutes', 0.5) }}
            as pipeline_duration_median_minutes,

    from production_deployments
    inner join service_groups
        on production_deployments.service = service_groups.service
    group by all

),

change_periods as (

    select
        grouping,
        group_value,
        {{ period_start(grain, 'grouped_changes.event_day') }} as period_start,
        count(*) as changes,
        {{ lead_time_statistics('grouped_changes.lead_time_minutes') }},
        {{ safe_ratio('count(*) filter (where grouped_changes.is_reviewed_by_other)',
                      'count(grouped_changes.is_reviewed_by_other)') }} as review_compliance_rate,
        {{ safe_ratio('count(*) filter (where grouped_changes.is_deployed_by_author)',
                      'count(grouped_changes.is_deployed_by_author)') }} as deployed_by_author_share,
        {%- for phase in rollup_phases() %}
        {{ reported_percentile('grouped_changes.' ~ phase ~ '_minutes', 0.5) }} as {{ phase }}_median_minutes,
        {{ reported_percentile('grouped_changes.' ~ phase ~ '_minutes', 0.75) }} as {{ phase }}_p75_minutes,
        {{ reported_percentile('grouped_changes.' ~ phase ~ '_minutes', 0.9) }} as {{ phase }}_p90_minutes,
        avg(grouped_changes.{{ phase }}_minutes) as {{ phase }}_mean_minutes,
        {%- endfor %}

    from grouped_changes
    group by all

),

incident_periods as (

    select
        service_groups.grouping,
        service_groups.group_value,
        {{ period_start(grain, 'started_incidents.event_day') }} as period_start,
        count(*) as incidents,

    from started_incidents
    inner join service_groups
        on started_incidents.service = service_groups.service
    group by all

),

data_periods as (

    select grouping, group_value, period_start from deployment_periods
    union all
    select grouping, group_value, period_start from change_periods
    union all
    select grouping, group_value, period_start from incident_periods

),

spans as (

    select
        grouping,
        group_value,
        min(period_start) as first_period_start,

    from data_periods
    group by grouping, group_value

),

group_last_deploy_days as (

    select
        grouping,
        group_value,
        max(last_deploy_day) as last_deploy_day,

    from deployment_periods
    group by grouping, group_value

),

calendar as (

    select
        spans.grouping,
        spans.group_value,
        cast(
            unnest(generate_series(
                cast(spans.first_period_start as timestamp),
                cast({{ period_start(grain, 'loaded.loaded_through') }} as timestamp),
                interval 1 {{ grain }}
            )) as date
        ) as period_start,

    from spans
    cross join loaded

),

periods as (

    select
        calendar.grouping,
        calendar.group_value,
        calendar.period_start,
        {{ period_end(grain, 'calendar.period_start') }} as period_end,
        {{ loaded_days('calendar.period_start', period_end(grain, 'calendar.period_start'),
                       'loaded.loaded_from', 'loaded.loaded_through') }} as loaded_days,
        group_last_deploy_days.last_deploy_day,

    from calendar
    cross join loaded
    left join group_last_deploy_days
        on calendar.grouping = group_last_deploy_days.grouping
        and calendar.group_value = group_last_deploy_days.group_value

),

measured as (

    select
        periods.grouping,
        periods.group_value,
        '{{ grain }}' as period_grain,
        periods.period_start,
        periods.period_end,
        date_diff('day', periods.period_start, periods.period_end) + 1 as days_in_period,
        periods.loaded_days,
        periods.loaded_days = date_diff('day', periods.period_start, periods.period_end) + 1
            as is_complete_period,
        coalesce(periods.last_deploy_day < periods.period_start, true) as has_stopped_deploying,
        coalesce(deployment_periods.deployments, 0) as deployments,
        {{ deployments_per_week('coalesce(deployment_periods.deployments, 0)', 'periods.loaded_days') }}
            as deployments_per_week,
        coalesce(deployment_periods.deploy_days, 0) as deploy_days,
        coalesce(deployment_periods.failed_deployments, 0) as failed_deployments,
        {{ change_failure_rate('deployment_periods.failed_deployments', 'deployment_periods.deployments') }}
            as change_failure_rate,
        coalesce(change_periods.changes, 0) as changes,
        change_periods.lead_time_median_minutes,
        change_periods.lead_time_p75_minutes,
        change_periods.lead_time_p90_minutes,
        change_periods.lead_time_mean_minutes,
        deployment_periods.time_to_restore_median_minutes,
        deployment_periods.time_to_restore_mean_minutes,
        coalesce(incident_periods.incidents, 0) as incidents,
        coalesce(deployment_periods.rework_deployments, 0) as rework_deployments,
        {{ rework_rate('deployment_periods.rework_deployments', 'deployment_periods.deployments') }}
            as rework_rate,
        deployment_periods.time_to_detect_median_minutes,
        coalesce(deployment_periods.open_failures, 0) as open_failures,
        deployment_periods.batch_size_median_lines,
        deployment_periods.pipeline_duration_median_minutes,
        change_periods.review_compliance_rate,
        change_periods.deployed_by_author_share,
        {%- for measure in rollup_phase_measures() %}
        change_periods.{{ measure }},
        {%- endfor %}

    from periods
    left join deployment_periods
        on periods.grouping = deployment_periods.grouping
        and periods.group_value = deployment_periods.group_value
        and periods.period_start = deployment_periods.period_start
    left join change_periods
        on periods.grouping = change_periods.grouping
        and periods.group_value = change_periods.group_value
        and periods.period_start = change_periods.period_start
    left join incident_periods
        on periods.grouping = incident_periods.grouping
        and periods.group_value = incident_periods.group_value
        and periods.period_start = incident_periods.period_start

),

with_previous as (

    select
        *,
        {%- for measure in rollup_measures() %}
        lag({{ measure }}) over (partition by grouping, group_value order by period_start) as previous_{{ measure }},
        {%- endfor %}

    from measured

),

team_ranks as (

    select
        group_value as team,
        period_start,
        {%- for measure, direction in rollup_ranked_measures() %}
        {{ rank_within_org(measure, direction) }},
        {%- endfor %}

    from measured
    where grouping = 'team'

),

-- Each team's median weighted by its deployments in the period, for the org and each department: a team
-- that deploys more weighs more, unlike the median over the pooled changes or failures.
team_weights as (

    select
        measured.period_start,
        teams.department,
        measured.deployments,
        measured.lead_time_median_minutes,
        measured.time_to_restore_median_minutes,

    from measured
    inner join teams
        on measured.group_value = teams.team
    where measured.grouping = 'team'

),

weighted_groups as (

    select 'org' as grouping, '(org)' as group_value, * exclude (department) from team_weights
    union all
    select 'department' as grouping, department as group_value, * exclude (department) from team_weights
    where department is not null

),

weighted as (

    select
        grouping,
        group_value,
        period_start,
        sum(lead_time_median_minutes * deployments) filter (where lead_time_median_minutes is not null)
            / nullif(sum(deployments) filter (where lead_time_median_minutes is not null), 0)
            as team_lead_time_median_deploy_weighted_minutes,
        sum(time_to_restore_median_minutes * deployments) filter (where time_to_restore_median_minutes is not null)
            / nullif(sum(deployments) filter (where time_to_restore_median_minutes is not null), 0)
            as team_time_to_restore_median_deploy_weighted_minutes,

    from weighted_groups
    group by grouping, group_value, period_start

),

final as (

    select
        with_previous.*,
        {%- for measure, direction in rollup_ranked_measures() %}
        team_ranks.{{ measure }}_rank,
        team_ranks.{{ measure }}_percentile,
        {%- endfor %}
        weighted.team_lead_time_median_deploy_weighted_minutes,
        weighted.team_time_to_restore_median_deploy_weighted_minutes,

    from with_previous
    left join team_ranks
        on with_previous.grouping = 'team'
        and with_previous.group_value = team_ranks.team
        and with_previous.period_start = team_ranks.period_start
    left join weighted
        on with_previous.grouping = weighted.grouping
        and with_previous.group_value = weighted.group_value
        and with_previous.period_start = weighted.period_start

)

select * from final
{%- endmacro %}
