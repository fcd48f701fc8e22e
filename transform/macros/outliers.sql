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

{#- Incremental trailing baselines (fct_change_outliers, fct_deployment_outliers; docs/architecture.md,
    "Incremental models and full rebuilds"). A row's baseline reads its group's values strictly before it
    and within the baseline's length, so a value that arrives, changes or leaves at time t changes only the
    rows of its group at t or later. Every built row carries the values it was judged from (`columns`: the
    group, the row's key, its time and the value), so today's values compared with the built rows give, per
    group, the earliest such t: `replace_from`. `values` is a relation or a parenthesised query of today's
    values with `columns`; the model is `this`. -#}
{% macro trailing_replace_from(values, partition_by, order_by, columns) -%}
    select {{ partition_by | join(', ') }}, min({{ order_by }}) as replace_from
    from (
        (select {{ columns | join(', ') }} from {{ values }}
         except
         select {{ columns | join(', ') }} from {{ this }})
        union all
        (select {{ columns | join(', ') }} from {{ this }}
         except
         select {{ columns | join(', ') }} from {{ values }})
    ) as changed
    group by {{ partition_by | join(', ') }}
{%- endmacro %}

{#- The pre-hook of an incremental trailing baseline: deletes each group's rows from its `replace_from` on
    (in the transaction that appends their new rows). After it, today's values differ from the kept rows
    only from the same point on, so the model computes the same `replace_from` whether it runs before or
    after this. Nothing on a build from scratch. -#}
{% macro delete_trailing_rows(values, partition_by, order_by, columns) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    using ({{ trailing_replace_from('(' ~ values ~ ')', partition_by, order_by, columns) }}) as changed
    where
        {%- for column in partition_by %}
        built.{{ column }} = changed.{{ column }} and
        {%- endfor %}
        built.{{ order_by }} >= changed.replace_from
    {%- endif -%}
{%- endmacro %}
