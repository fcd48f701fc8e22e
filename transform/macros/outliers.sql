{#-
    Normals and outliers (docs/metrics.md, "Normal and outliers"): a value is compared with the trailing
    baseline of its group, the values strictly before it. Defined once here; fct_change_outliers,
    fct_deployment_outliers and team_weekly_anomalies call these macros.
-#}

{#- The baseline's length in days for single changes and deployments. Weekly figures use the 13 whole weeks
    before the week (91 days), the same quarter in whole weeks. -#}
{% macro baseline_days() -%}90{%- endmacro %}

{% macro baseline_weeks() -%}13{%- endmacro %}

{#- The fewest earlier values a baseline needs before it may judge a value: 10 changes or deployments, or 8
    of the 13 weekly figures. With fewer, robust_z is NULL and nothing is flagged. -#}
{% macro outlier_min_history() -%}10{%- endmacro %}

{% macro anomaly_min_weeks() -%}8{%- endmacro %}

{#- |robust z| above this is beyond the normal. -#}
{% macro outlier_threshold() -%}3{%- endmacro %}

{#- 0.6745 is the 0.75 quantile of the standard normal: 0.6745 · (x − median) / MAD reads as standard
    deviations for normally distributed data (Iglewicz and Hoaglin's modified z-score). -#}
{% macro robust_z_constant() -%}0.6745{%- endmacro %}

{#- The trailing-baseline statistics as select-list items over the named window `baseline_window`. -#}
{% macro trailing_baseline(value) -%}
    {{ percentile(value, 0.5) }} over baseline_window as baseline_median,
    cast(mad({{ value }}) over baseline_window as double) as baseline_mad,
    stddev_samp({{ value }}) over baseline_window as baseline_stddev,
    count({{ value }}) over baseline_window as baseline_count
{%- endmacro %}

{#- How the spread of the baseline is measured: the MAD when it is positive; when more than half the baseline
    is one value the MAD is 0 and the standard deviation of the same values takes its place; a baseline whose
    values are all equal has no spread ('constant'); too few values judge nothing. -#}
{% macro baseline_method(median, mad, stddev, count, min_count) -%}
    case
        when {{ count }} < {{ min_count }} or {{ median }} is null then 'too little history'
        when {{ mad }} > 0 then 'mad'
        when {{ stddev }} > 0 then 'standard deviation'
        else 'constant'
    end
{%- endmacro %}

{#- Robust z: 0.6745 · (x − median) / MAD; (x − median) / standard deviation when the MAD is 0; NULL when
    the baseline is constant or too short, or the value is NULL. -#}
{% macro robust_z(value, median, mad, stddev, count, min_count) -%}
    case
        when {{ count }} < {{ min_count }} or {{ value }} is null or {{ median }} is null then null
        when {{ mad }} > 0 then {{ robust_z_constant() }} * ({{ value }} - {{ median }}) / {{ mad }}
        when {{ stddev }} > 0 then ({{ value }} - {{ median }}) / {{ stddev }}
    end
{%- endmacro %}

{#- Beyond the normal: |robust z| > 3; against a constant baseline, any other value (nothing in the
    baseline moved, so any move is beyond it). False when the baseline is too short or the value NULL. -#}
{% macro is_outlier(value, median, mad, stddev, count, min_count) -%}
    coalesce(
        case
            when {{ count }} < {{ min_count }} or {{ value }} is null or {{ median }} is null then false
            when {{ mad }} > 0 or {{ stddev }} > 0
                then abs({{ robust_z(value, median, mad, stddev, count, min_count) }}) > {{ outlier_threshold() }}
            else {{ value }} <> {{ median }}
        end,
        false
    )
{%- endmacro %}

{#- Which side of the median a value lies on: 'high', 'low', or NULL on it or without a baseline. -#}
{% macro outlier_direction(value, median) -%}
    case
        when {{ value }} > {{ median }} then 'high'
        when {{ value }} < {{ median }} then 'low'
    end
{%- endmacro %}

{#- What to do about the lead-time phase that takes the most time (METRICS.md, "The path from the seed"). -#}
{% macro lead_time_phase_advice(phase) -%}
    case {{ phase }}
        when 'coding' then 'Coding takes the most time: ship smaller batches behind feature flags, so work merges before it is finished.'
        when 'pickup' then 'Pickup takes the most time: agree a review SLA (a first review within a few working hours) and open smaller pull requests, which are quicker to pick up.'
        when 'review' then 'Review takes the most time: keep pull requests small, review together (pairing or a short call) and agree when a review is done, to cut the rounds.'
        when 'deploy' then 'Deploy takes the most time: automate the pipeline so every merge deploys, or run release trains on a fixed cadence until it can.'
        else 'No change of the period has all four lead-time phases: load the pull requests and their reviews from the code host to see where lead time goes.'
    end
{%- endmacro %}
