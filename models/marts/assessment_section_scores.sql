-- Each self-assessment's section averages (0-3) per team and date, for tracking over time: docs/metrics.md
-- ("Baseline self-assessment").
with

assessments as (

    select * from {{ ref('fct_assessments') }}

),

items as (

    select * from {{ ref('assessment_items') }}

),

section_sizes as (

    select
        section,
        count(*) as section_items,

    from items
    group by section

),

final as (

    select
        assessments.team,
        assessments.assessed_on,
        assessments.section,
        count(*) as items_scored,
        section_sizes.section_items,
        avg(assessments.score) as average_score,

    from assessments
    inner join section_sizes
        on assessments.section = section_sizes.section
    group by assessments.team, assessments.assessed_on, assessments.section, section_sizes.section_items

)

select * from final
