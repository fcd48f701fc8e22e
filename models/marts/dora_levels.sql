-- The DORA level of each of the four metrics, per rollup group and period, for every report year of the
-- dora_bands seed: docs/metrics.md ("Benchmark levels"). The rule is transform/macros/dora_banding.sql,
-- which also bands the app's chosen periods (marts.dora_period_levels).
{{ dora_banding_sql(
    '(' ~ rollup_periods([
        'grouping', 'group_value', 'period_grain', 'period_start', 'loaded_days', 'deployments', 'deploy_days',
        'change_failure_rate', 'lead_time_median_minutes', 'time_to_restore_median_minutes',
    ]) ~ ')',
    ['grouping', 'group_value', 'period_grain', 'period_start'],
    ref('dora_bands'),
) }}
