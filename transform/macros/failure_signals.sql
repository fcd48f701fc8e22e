{#- The one-row setting of a failure signal (org.yml `failure_signals:`, stg_config__settings): the window
    after a deployment within which it blames the deployment (failure_window_hours; the incident window in
    a settings row written before it existed; else 24) and whether the signal is on (default on). -#}
{% macro failure_signal_setting(settings_relation, enabled_column) -%}
    select
        coalesce(max(failure_window_hours), max(incident_window_hours), 24) as window_hours,
        coalesce(bool_and({{ enabled_column }}), true) as is_enabled,

    from {{ settings_relation }}
{%- endmacro %}
