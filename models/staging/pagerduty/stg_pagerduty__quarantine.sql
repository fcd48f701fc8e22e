{#- Records the pagerduty source left out, changed or counted (ingestion/quarantine.py); empty without any. -#}
{{ stg_quarantine('pagerduty') }}
