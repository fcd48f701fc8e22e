{#- Warns (data health) when an edition's industry and organisation-size files disagree on their 'all'
    segment, which both files describe (every respondent): one of them is then stored differently. DORA's
    2025 organisation-size file holds 10 - mean for failed deployment recovery time in every segment (its
    'all' is 2.6 where the industry file says 7.4); the Quick Check shows it as published, and so do we,
    with this warning beside it (docs/metrics.md, "DORA Quick Check score"). -#}
{{ config(severity='warn') }}

with

benchmarks as (

    select * from {{ ref('stg_dora_quickcheck__benchmarks') }}

),

everyone as (

    select edition, comparison, metric, published_mean,
    from benchmarks
    where segment = 'all'

)

select
    industry.edition,
    industry.metric,
    industry.published_mean as industry_all_mean,
    organization_size.published_mean as organization_size_all_mean,
from everyone as industry
inner join everyone as organization_size
    on industry.edition = organization_size.edition
    and industry.metric = organization_size.metric
    and industry.comparison = 'industry'
    and organization_size.comparison = 'organization_size'
where abs(industry.published_mean - organization_size.published_mean) > 0.05
