-- The four keys per team and ISO week (Monday). Formulas: transform/macros/dora_metrics.sql.
{{ dora_weekly_sql(ref('fct_deployments'), ref('fct_changes'), ref('dora_bands'), by_team=true) }}
