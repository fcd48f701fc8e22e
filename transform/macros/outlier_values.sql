{#-
    The values the trailing baselines judge, one query each: the model reads them, and its pre-hook compares
    them with the built rows (transform/macros/outliers.sql, `delete_trailing_rows`).
-#}

{#- fct_change_outliers: each change's lead time for its team (fct_changes: its first service's deployment
    and lead time), and for each service it counts for (fct_change_services). -#}
{% macro change_outlier_values() -%}
    select
        'team' as baseline_grouping,
        team as baseline_group,
        change_id,
        team,
        service,
        deployment_id,
        deployed_at,
        lead_time_minutes,

    from {{ ref('fct_changes') }}
    where lead_time_minutes is not null
        and deployed_at is not null
        and team is not null

    union all

    select
        'service' as baseline_grouping,
        service as baseline_group,
        change_id,
        team,
        service,
        deployment_id,
        deployed_at,
        lead_time_minutes,

    from {{ ref('fct_change_services') }}
    where lead_time_minutes is not null
        and deployed_at is not null
        and service is not null
{%- endmacro %}

{% macro change_outlier_value_columns() -%}
    {{ return(['baseline_grouping', 'baseline_group', 'change_id', 'team', 'service', 'deployment_id',
               'deployed_at', 'lead_time_minutes']) }}
{%- endmacro %}

{#- fct_deployment_outliers: each successful, non-baseline production deployment's measures (what it shipped,
    judged when it deployed; its time to restore, judged when it recovered), for its team and its service. -#}
{% macro deployment_outlier_values() -%}
    with

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

        from {{ ref('fct_deployments') }}
        where status = 'success'
            and is_production
            and not is_baseline
            and team is not null
            and deployed_at is not null

    ),

    measures as (

        select
            deployment_id, team, service, environment, deployed_at, is_failure,
            'commit_count' as measure, cast(commit_count as double) as value, deployed_at as judged_at,
        from judged
        union all
        select
            deployment_id, team, service, environment, deployed_at, is_failure,
            'pr_count' as measure, cast(pr_count as double) as value, deployed_at as judged_at,
        from judged
        union all
        select
            deployment_id, team, service, environment, deployed_at, is_failure,
            'time_to_restore_minutes' as measure, time_to_restore_minutes as value, recovered_at as judged_at,
        from judged
        where time_to_restore_minutes is not null
            and recovered_at is not null

    )

    select 'team' as baseline_grouping, team as baseline_group, * from measures
    union all
    select 'service' as baseline_grouping, service as baseline_group, * from measures
    where service is not null
{%- endmacro %}

{% macro deployment_outlier_value_columns() -%}
    {{ return(['baseline_grouping', 'baseline_group', 'deployment_id', 'measure', 'team', 'service', 'environment',
               'deployed_at', 'judged_at', 'is_failure', 'value']) }}
{%- endmacro %}
