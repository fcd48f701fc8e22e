{#- Assessment files and answers the loader set aside (ingestion/assessments); empty without any. -#}
{{ stg_quarantine('assessments') }}
