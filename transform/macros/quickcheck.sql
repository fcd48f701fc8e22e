{#-
    DORA Quick Check scoring, defined once (docs/metrics.md, "DORA Quick Check score"). The Quick Check asks
    for lead time, deployment frequency and failed deployment recovery time as one of six answers (bucket 1
    worst ... 6 best) and for the change failure and rework rates as percentages; each becomes a 0-10 score.
-#}

{#- DORA's metric keys and ours. -#}
{% macro quickcheck_metric_name(dora_key) -%}
    case {{ dora_key }}
        when 'leadtime' then 'lead_time'
        when 'deployfreq' then 'deployment_frequency'
        when 'changefailure' then 'change_failure_rate'
        when 'failurerecovery' then 'time_to_restore'
        when 'rework' then 'rework_rate'
        else {{ dora_key }}
    end
{%- endmacro %}

{#- Lead time and recovery time (minutes) as the Quick Check's answers: < 1 hour (6), < 1 day (5),
    < 1 week (4), < 1 month of 30 days (3), < 6 months of 30 days (2), longer (1). NULL stays NULL. -#}
{% macro quickcheck_duration_bucket(minutes) -%}
    case
        when {{ minutes }} is null then null
        when {{ minutes }} < 60 then 6
        when {{ minutes }} < 1440 then 5
        when {{ minutes }} < 10080 then 4
        when {{ minutes }} < 43200 then 3
        when {{ minutes }} < 259200 then 2
        else 1
    end
{%- endmacro %}

{#- Deployment frequency (production deployments over the period's loaded days) as the Quick Check's
    answers: at least two a day on average, "on demand, multiple deploys per day" (6); at least five a week,
    about once every working day (5); at least once a week (4); at least once in 30 days (3); at least once
    in 180 days (2); less (1). Integer comparisons, so an edge (exactly once a week) is exact. NULL without
    loaded days. -#}
{% macro quickcheck_frequency_bucket(deployments, loaded_days) -%}
    case
        when coalesce({{ loaded_days }}, 0) <= 0 or {{ deployments }} is null then null
        when {{ deployments }} >= 2 * {{ loaded_days }} then 6
        when {{ deployments }} * 7 >= 5 * {{ loaded_days }} then 5
        when {{ deployments }} * 7 >= {{ loaded_days }} then 4
        when {{ deployments }} * 30 >= {{ loaded_days }} then 3
        when {{ deployments }} * 180 >= {{ loaded_days }} then 2
        else 1
    end
{%- endmacro %}

{#- An answer bucket 1..6 as DORA scores it: (bucket - 1) / 5 * 10, so 0, 2, 4, 6, 8, 10. -#}
{% macro quickcheck_bucket_score(bucket) -%}
    (cast({{ bucket }} as double) - 1) * 2
{%- endmacro %}

{#- A rate (ratio 0..1) as DORA scores the percentage answers: 10 - percent / 10. -#}
{% macro quickcheck_rate_score(ratio) -%}
    (10 - cast({{ ratio }} as double) * 10)
{%- endmacro %}
