{#- Records the git source left out, changed or counted (ingestion/quarantine.py); empty without any. -#}
{{ stg_quarantine('git') }}
