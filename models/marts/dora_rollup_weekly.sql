-- The cross-team rollups per week: transform/macros/dora_rollups.sql, docs/metrics.md ("Cross-team rollups").
{{ dora_rollup_sql('week') }}
