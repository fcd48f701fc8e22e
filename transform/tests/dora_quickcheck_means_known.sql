{#- Warns (data health) when the Quick Check scores have no industry or organisation-size means to stand
    beside: org.yml names no folder of DORA's published files (`benchmarks: {quickcheck_dir: ...}`), or
    the folder lacks the chosen edition. The scores themselves are computed either way. -#}
{{ config(severity='warn') }}

select
    edition,
    industry,
    organization_size,
    'no DORA Quick Check means for this edition: set benchmarks.quickcheck_dir in org.yml' as problem,
from {{ ref('dora_quickcheck_scores') }}
where metric = 'performance_average'
    and (industry_mean is null or organization_size_mean is null)
limit 1
