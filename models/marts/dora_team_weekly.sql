-- The four keys per team and ISO week (Monday). Formulas: transform/macros/dora_metrics.sql.
-- A change counts once for each team whose services it touches (fct_change_services; docs/metrics.md,
-- "Services by path").
{{ dora_weekly_sql(ref('fct_deployments'), ref('fct_change_services'), ref('dora_bands'), by_team=true) }}
