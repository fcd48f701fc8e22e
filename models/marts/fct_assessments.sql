-- The teams' baseline self-assessments, one row per team, date and answered item: docs/metrics.md
-- ("Baseline self-assessment").
with

scores as (

    select * from {{ ref('stg_assessments__scores') }}

),

items as (

    select * from {{ ref('assessment_items') }}

),

final as (

    select
        scores.team,
        scores.assessed_on,
        items.section,
        scores.item,
        items.title as item_title,
        scores.score,

    from scores
    inner join items
        on scores.item = items.item

)

select * from final
