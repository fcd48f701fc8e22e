-- The cross-team rollups per month: transform/macros/dora_rollups.sql, docs/metrics.md ("Cross-team rollups").
{{ dora_rollup_sql('month') }}
