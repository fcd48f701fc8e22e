-- Where each team stands on the path from the seed, weekly → daily → a hundred a day (docs/metrics.md, "The
-- path from the seed"): one row per team and calendar month of dora_rollup_monthly. A month is long enough
-- to judge a change failure rate and short enough to move; the app shows the latest complete one. Each
-- criterion of the milestones is a column (NULL: not measured), the phase is the last milestone whose
-- measured criteria are all met, and the advice follows the lead-time phase that takes the most time.
with

monthly as (

    select * from {{ ref('dora_rollup_monthly') }}

),

weekly as (

    select * from {{ ref('dora_rollup_weekly') }}

),

changes as (

    select * from {{ ref('fct_changes') }}

),

team_months as (

    select
        group_value as team,
        period_start,
        period_end,
        is_complete_period,
        deployments,
        deployments_per_week,
        failed_deployments,
        change_failure_rate,
        changes,
        lead_time_median_minutes,
        time_to_restore_median_minutes,
        pipeline_duration_median_minutes,

    from monthly
    where grouping = 'team'

),

org_months as (

    select
        period_start,
        case when loaded_days > 0 then cast(deployments as double) / loaded_days end as org_deployments_per_day,

    from monthly
    where grouping = 'org'

),

-- Deploy days per week: the median over the ISO weeks wholly inside the month and the loaded data (the
-- org's complete weeks), zeros included, as marts.dora_summary counts them: a week cut by the month's edge
-- would count its missing days as days without deployments.
month_weeks as (

    select
        team_months.team,
        team_months.period_start,
        org_weeks.period_start as week_start,

    from team_months
    inner join weekly as org_weeks
        on org_weeks.grouping = 'org'
        and org_weeks.is_complete_period
        and org_weeks.period_start >= team_months.period_start
        and org_weeks.period_end <= team_months.period_end

),

weekly_deploy_days as (

    select
        month_weeks.team,
        month_weeks.period_start,
        {{ percentile('coalesce(team_weeks.deploy_days, 0)', 0.5) }} as deploy_days_per_week_median,

    from month_weeks
    left join weekly as team_weeks
        on team_weeks.grouping = 'team'
        and team_weeks.group_value = month_weeks.team
        and team_weeks.period_start = month_weeks.week_start
    group by month_weeks.team, month_weeks.period_start

),

-- Mean minutes of each phase over the month's changes that have all four: means of phases that add up add
-- up to the mean lead time, so each phase's share of it is exact (medians would not add up).
phases as (

    select
        team,
        {{ period_start('month', deploy_day('deployed_at')) }} as period_start,
        count(*) as changes_with_phases,
        avg(coding_minutes) as coding_mean_minutes,
        avg(pickup_minutes) as pickup_mean_minutes,
        avg(review_minutes) as review_mean_minutes,
        avg(deploy_minutes) as deploy_mean_minutes,

    from changes
    where lead_time_minutes is not null
        and coding_minutes is not null
        and pickup_minutes is not null
        and review_minutes is not null
        and deploy_minutes is not null
        and team is not null
    group by all

),

measured as (

    select
        team_months.*,
        weekly_deploy_days.deploy_days_per_week_median,
        org_months.org_deployments_per_day,
        coalesce(phases.changes_with_phases, 0) as changes_with_phases,
        phases.coding_mean_minutes,
        phases.pickup_mean_minutes,
        phases.review_mean_minutes,
        phases.deploy_mean_minutes,

    from team_months
    left join weekly_deploy_days
        on team_months.team = weekly_deploy_days.team
        and team_months.period_start = weekly_deploy_days.period_start
    left join org_months
        on team_months.period_start = org_months.period_start
    left join phases
        on team_months.team = phases.team
        and team_months.period_start = phases.period_start

),

-- The criteria (METRICS.md, "The path from the seed"). A missing figure misses its criterion, except time
-- to restore, which a month without failures meets: there was nothing to restore.
criteria as (

    select
        *,
        coalesce(deploy_days_per_week_median >= 1, false) as meets_weekly_frequency,
        coalesce(lead_time_median_minutes <= 5 * 1440, false) as meets_weekly_lead_time,
        changes_with_phases > 0 as meets_weekly_phase_breakdown,
        coalesce(deploy_days_per_week_median >= 5, false) as meets_daily_frequency,
        coalesce(lead_time_median_minutes <= 2 * 1440, false) as meets_daily_lead_time,
        coalesce(change_failure_rate < 0.15, false) as meets_daily_change_failure_rate,
        failed_deployments = 0 or coalesce(time_to_restore_median_minutes < 1440, false)
            as meets_daily_time_to_restore,
        failed_deployments = 0 or coalesce(time_to_restore_median_minutes < 60, false)
            as meets_ideal_time_to_restore,
        pipeline_duration_median_minutes <= 120 as meets_daily_pipeline_duration,
        case when pipeline_duration_median_minutes is null then 'not measured'
            when pipeline_duration_median_minutes <= 120 then 'met' else 'missed' end
            as pipeline_duration_criterion,
        coalesce(org_deployments_per_day >= 100, false) as meets_hundred_a_day_org_frequency,

    from measured

),

staged as (

    select
        *,
        meets_weekly_frequency and meets_weekly_lead_time and meets_weekly_phase_breakdown
            as has_weekly_milestone,
        -- A criterion not measured neither meets nor blocks a milestone; it is listed as unmeasured.
        meets_daily_frequency and meets_daily_lead_time and meets_daily_change_failure_rate
            and meets_daily_time_to_restore and coalesce(meets_daily_pipeline_duration, true)
            as has_daily_criteria,

    from criteria

),

phased as (

    select
        *,
        case
            when has_weekly_milestone and has_daily_criteria then 'daily'
            when has_weekly_milestone then 'weekly'
            else 'getting started'
        end as phase,

    from staged

),

advised as (

    select
        *,
        case phase
            when 'getting started' then 'deploy once a week'
            when 'weekly' then 'deploy once a day'
            else 'a hundred a day'
        end as next_milestone,
        case phase
            when 'getting started' then list_filter([
                case when not meets_weekly_frequency then 'deploy at least one day a week' end,
                case when not meets_weekly_lead_time then 'lead time at most 5 days' end,
                case when not meets_weekly_phase_breakdown then 'lead time phases measured' end
            ], lambda criterion: criterion is not null)
            when 'weekly' then list_filter([
                case when not meets_daily_frequency then 'deploy at least five days a week' end,
                case when not meets_daily_lead_time then 'lead time at most 2 days' end,
                case when not meets_daily_change_failure_rate then 'change failure rate under 15 %' end,
                case when not meets_daily_time_to_restore then 'time to restore under 1 day' end,
                case when not meets_daily_pipeline_duration then 'deploy pipeline at most 2 hours' end
            ], lambda criterion: criterion is not null)
            else list_filter([
                case when not meets_hundred_a_day_org_frequency then 'the org deploys 100 times a day' end
            ], lambda criterion: criterion is not null)
        end as missed_criteria,
        case
            when phase in ('weekly', 'daily') and meets_daily_pipeline_duration is null
                then ['deploy pipeline at most 2 hours']
            else cast([] as varchar[])
        end as unmeasured_criteria,
        -- The largest mean phase; ties go to the earlier phase.
        case
            when changes_with_phases = 0 then null
            when coding_mean_minutes >= greatest(pickup_mean_minutes, review_mean_minutes, deploy_mean_minutes)
                then 'coding'
            when pickup_mean_minutes >= greatest(review_mean_minutes, deploy_mean_minutes) then 'pickup'
            when review_mean_minutes >= deploy_mean_minutes then 'review'
            else 'deploy'
        end as biggest_lead_time_phase,

    from phased

),

final as (

    select
        team,
        period_start,
        period_end,
        is_complete_period,
        coalesce(period_start = max(period_start) filter (where is_complete_period) over (), false)
            as is_latest_complete_period,
        period_start = max(period_start) over () as is_latest_period,
        deployments,
        deployments_per_week,
        deploy_days_per_week_median,
        changes,
        lead_time_median_minutes,
        failed_deployments,
        change_failure_rate,
        time_to_restore_median_minutes,
        pipeline_duration_median_minutes,
        org_deployments_per_day,
        meets_weekly_frequency,
        meets_weekly_lead_time,
        meets_weekly_phase_breakdown,
        meets_daily_frequency,
        meets_daily_lead_time,
        meets_daily_change_failure_rate,
        meets_daily_time_to_restore,
        meets_ideal_time_to_restore,
        meets_daily_pipeline_duration,
        pipeline_duration_criterion,
        meets_hundred_a_day_org_frequency,
        phase,
        next_milestone,
        missed_criteria,
        unmeasured_criteria,
        changes_with_phases,
        coding_mean_minutes,
        pickup_mean_minutes,
        review_mean_minutes,
        deploy_mean_minutes,
        biggest_lead_time_phase,
        case biggest_lead_time_phase
            when 'coding' then coding_mean_minutes
            when 'pickup' then pickup_mean_minutes
            when 'review' then review_mean_minutes
            when 'deploy' then deploy_mean_minutes
        end / nullif(coding_mean_minutes + pickup_mean_minutes + review_mean_minutes + deploy_mean_minutes, 0)
            as biggest_lead_time_phase_share,
        {{ lead_time_phase_advice('biggest_lead_time_phase') }} as advice,

    from advised

)

select * from final
