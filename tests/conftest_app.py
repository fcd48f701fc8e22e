"""Test fixture for the app: a tiny warehouse with the public marts' columns and hand-written rows.

Not the real marts. `marts.dora_summary` here is a deliberately simple STAND-IN for the real table macro
(it shares only its signature and columns), so the app can be tested before and apart from the dbt
project. The expected numbers in the app tests are worked out by hand from the rows below:

Default window: 2026-03-07 .. 2026-05-29 (twelve weeks ending on the last deployment day).
- payments (checkout-api): production successes on 05-04, 05-11 (failed, restored in 120 min), 05-18,
  05-29; a staging deployment on 05-20 and a failed rollout on 05-21 that do not count.
  Changes with lead times 60, 180, 300 minutes.
- search (search-api): production successes on 04-01 and 04-15 (failed, restored in 60 min).
  One change with a lead time of 1440 minutes.
- org: 6 deployments (0.5 / week), 2 failed (33.3 %), lead time median 240 min (4.0 h), time to restore
  median 90 min (1.5 h).
Previous window 2025-12-13 .. 2026-03-06: payments deployed on 01-05 (baseline) and 02-02 with one change
of 600 minutes; no failures.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

FIXTURE_LAST_DAY = "2026-05-29"
FIXTURE_DEFAULT_START = "2026-03-07"

_TABLES = """
create schema marts;

create table marts.dim_teams (team varchar, service_count integer);
insert into marts.dim_teams values ('payments', 1), ('platform', 0), ('search', 1);

create table marts.dim_services (service varchar, team varchar, repository varchar,
    pagerduty_service_ids varchar[]);
insert into marts.dim_services values
    ('checkout-api', 'payments', 'acme/checkout-api', ['PCHECK1']),
    ('search-api', 'search', 'acme/search-api', ['PSRCH01']);

create table marts.fct_deployments (
    deployment_id varchar, source_system varchar, source_deployment_id varchar, service varchar,
    team varchar, repository varchar, environment varchar, source_environment varchar,
    environment_rank integer, is_production boolean, commit_sha varchar, created_at timestamp,
    deployed_at timestamp, status varchar, is_baseline boolean, is_rollback boolean, is_failure boolean,
    has_incident_failure boolean, has_rollback_failure boolean, recovered_at timestamp,
    time_to_restore_minutes double, commit_count integer, pr_count integer
);
insert into marts.fct_deployments
select
    'github:' || id, 'github', id::varchar, service,
    case service when 'checkout-api' then 'payments' else 'search' end,
    'acme/' || service, environment, case environment when 'production' then 'prod' else 'stg' end,
    case environment when 'production' then 1 else 0 end, environment = 'production',
    repeat(id::varchar, 40)[1:40], deployed_at - interval 5 minute, deployed_at, status,
    is_baseline, false, is_failure, is_failure, false,
    case when is_failure then deployed_at + to_minutes(ttr) end, ttr, 2, 1
from (values
    (1, 'checkout-api', 'production', timestamp '2026-01-05 10:00', 'success', true, false, null),
    (2, 'checkout-api', 'production', timestamp '2026-02-02 10:00', 'success', false, false, null),
    (3, 'search-api', 'production', timestamp '2025-11-01 10:00', 'success', true, false, null),
    (4, 'checkout-api', 'production', timestamp '2026-05-04 10:00', 'success', false, false, null),
    (5, 'checkout-api', 'production', timestamp '2026-05-11 10:00', 'success', false, true, 120),
    (6, 'checkout-api', 'production', timestamp '2026-05-18 10:00', 'success', false, false, null),
    (7, 'checkout-api', 'production', timestamp '2026-05-29 10:00', 'success', false, false, null),
    (8, 'checkout-api', 'staging', timestamp '2026-05-20 10:00', 'success', false, false, null),
    (9, 'checkout-api', 'production', timestamp '2026-05-21 10:00', 'failure', false, false, null),
    (10, 'search-api', 'production', timestamp '2026-04-01 10:00', 'success', false, false, null),
    (11, 'search-api', 'production', timestamp '2026-04-15 10:00', 'success', false, true, 60)
) as rows(id, service, environment, deployed_at, status, is_baseline, is_failure, ttr);

create table marts.fct_changes (
    change_id varchar, change_kind varchar, service varchar, team varchar, repository varchar,
    pr_number integer,
    title varchar, author_login varchar, first_commit_at timestamp, opened_at timestamp,
    first_review_at timestamp, merged_at timestamp, deployment_id varchar, deployed_at timestamp,
    coding_minutes double, pickup_minutes double, review_minutes double, deploy_minutes double,
    lead_time_minutes double, commit_count integer
);
insert into marts.fct_changes
select
    repository || '#' || pr_number, 'pull_request', service, team, repository, pr_number,
    'change ' || pr_number, 'dev',
    deployed_at - to_minutes(coalesce(lead, 0)), null, null, null, deployment_id, deployed_at,
    null, null, null, null, lead, 1
from (values
    (100, 'github:1', null),
    (101, 'github:2', 600),
    (102, 'github:4', 60),
    (103, 'github:5', 180),
    (104, 'github:6', 300),
    (105, 'github:10', 1440)
) as changes(pr_number, deployment_id, lead)
join marts.fct_deployments using (deployment_id);

create table marts.fct_commits (
    commit_sha varchar, service varchar, team varchar, repository varchar, authored_at timestamp,
    committed_at timestamp, author_login varchar, pr_number integer, deployment_id varchar,
    deployed_at timestamp
);
insert into marts.fct_commits values
    (repeat('c', 40), 'checkout-api', 'payments', 'acme/checkout-api', timestamp '2026-05-04 08:00',
     timestamp '2026-05-04 08:00', 'dev', 102, 'github:4', timestamp '2026-05-04 10:00');

-- Environments (staging -> production) of checkout-api; search-api deploys to production only: no rows.
-- Commit e reached staging with github:8 (05-20 10:00) and production with github:7 (05-29 10:00): a
-- promotion lag of 216 h. Commit d (PR 104) reached staging with github:8 and waits: at the end of 05-29,
-- one commit waits, the oldest for 230 h. (Stand-in rows: the real walk would ship d and e together.)
insert into marts.fct_commits values
    (repeat('d', 40), 'checkout-api', 'payments', 'acme/checkout-api', timestamp '2026-05-19 08:00',
     timestamp '2026-05-19 08:00', 'dev', 104, null, null);

create table marts.fct_commit_promotions (
    service varchar, upstream_environment varchar, downstream_environment varchar, commit_sha varchar,
    upstream_deployment_id varchar, reached_upstream_at timestamp, is_upstream_baseline boolean,
    downstream_deployment_id varchar, reached_downstream_at timestamp, promotion_status varchar,
    promotion_wait_minutes double
);
insert into marts.fct_commit_promotions values
    ('checkout-api', 'staging', 'production', repeat('d', 40), 'github:8', timestamp '2026-05-20 10:00',
     false, null, null, 'waiting', null),
    ('checkout-api', 'staging', 'production', repeat('e', 40), 'github:8', timestamp '2026-05-20 10:00',
     false, 'github:7', timestamp '2026-05-29 10:00', 'promoted', 12960);

create table marts.fct_promotions (
    service varchar, upstream_environment varchar, downstream_environment varchar, deployment_id varchar,
    commit_sha varchar, deployed_at timestamp, commits_shipped integer, commits_promoted integer,
    commits_not_from_upstream integer, promoted_deployment_id varchar, promoted_commit_sha varchar,
    promoted_deployed_at timestamp, is_same_sha boolean, promotion_lag_minutes double,
    longest_commit_wait_minutes double
);
insert into marts.fct_promotions values
    ('checkout-api', 'staging', 'production', 'github:7', repeat('7', 40), timestamp '2026-05-29 10:00',
     1, 1, 0, 'github:8', repeat('8', 40), timestamp '2026-05-20 10:00', false, 12960, 12960);

create table marts.drift_daily as
select
    'checkout-api' as service,
    'staging' as upstream_environment,
    'production' as downstream_environment,
    day::date as day,
    case when day::date < date '2026-05-29' then 2 else 1 end as commits_waiting,
    timestamp '2026-05-20 10:00' as oldest_waiting_commit_at,
    datediff('second', timestamp '2026-05-20 10:00', day::date + interval 1 day) / 3600.0
        as oldest_waiting_age_hours,
from generate_series(timestamp '2026-05-20', timestamp '2026-05-29', interval 1 day) as days(day);

create table marts.fct_incidents (
    incident_id varchar, source_system varchar, source_incident_id varchar, service varchar, team varchar,
    title varchar, urgency varchar, created_at timestamp, acknowledged_at timestamp,
    resolved_at timestamp, deployment_id varchar, time_to_resolve_minutes double
);
insert into marts.fct_incidents values
    ('pagerduty:Q1', 'pagerduty', 'Q1', 'checkout-api', 'payments', 'checkout errors', 'high',
     timestamp '2026-05-11 10:30', timestamp '2026-05-11 10:40', timestamp '2026-05-11 12:00',
     'github:5', 90),
    ('pagerduty:Q2', 'pagerduty', 'Q2', 'search-api', 'search', 'slow search', 'low',
     timestamp '2026-04-15 10:20', null, timestamp '2026-04-15 11:00', 'github:11', 40);
"""

# The failure signals, recovery, rework, batch and deployer columns of fct_deployments: both failures are
# incident failures detected by their incident (Q1 30 min after github:5, Q2 20 min after github:11) and
# recovered by its resolution; github:6 (05-18) shipped a hotfix, so it is rework: a rework rate of 1 in 6
# production deployments in the default window, none in the previous one.
_FAILURE_COLUMNS = """
alter table marts.fct_deployments add column failure_signals varchar[];
alter table marts.fct_deployments add column has_revert_failure boolean;
alter table marts.fct_deployments add column has_hotfix_failure boolean;
alter table marts.fct_deployments add column has_alert_failure boolean;
alter table marts.fct_deployments add column first_failure_signal_at timestamp;
alter table marts.fct_deployments add column time_to_detect_minutes double;
alter table marts.fct_deployments add column recovery_kind varchar;
alter table marts.fct_deployments add column is_recovered boolean;
alter table marts.fct_deployments add column is_rework boolean;
alter table marts.fct_deployments add column batch_pr_count integer;
alter table marts.fct_deployments add column batch_author_count integer;
alter table marts.fct_deployments add column batch_lines_changed integer;
alter table marts.fct_deployments add column batch_size_class varchar;
alter table marts.fct_deployments add column deployed_by varchar;
alter table marts.fct_deployments add column is_deployed_by_automation boolean;
alter table marts.fct_deployments add column pipeline_duration_minutes double;
update marts.fct_deployments set
    failure_signals = case when is_failure then ['incident'] else [] end,
    has_revert_failure = false, has_hotfix_failure = false, has_alert_failure = false,
    first_failure_signal_at = case deployment_id
        when 'github:5' then timestamp '2026-05-11 10:30'
        when 'github:11' then timestamp '2026-04-15 10:20' end,
    time_to_detect_minutes = case deployment_id when 'github:5' then 30 when 'github:11' then 20 end,
    recovery_kind = case when is_failure then 'incident_resolved' end,
    is_recovered = case when is_failure then true end,
    is_rework = deployment_id = 'github:6',
    batch_pr_count = 1, batch_author_count = 1, batch_lines_changed = 40, batch_size_class = 'Small',
    deployed_by = 'deploy-bot', is_deployed_by_automation = true, pipeline_duration_minutes = 5;
-- Changes: PR 103 (payments, in the default window) was merged without a review by someone else; PR 104
-- was deployed by its own author; the others are reviewed and deployed by someone else.
alter table marts.fct_changes add column is_reviewed_by_other boolean;
alter table marts.fct_changes add column is_deployed_by_author boolean;
update marts.fct_changes set is_reviewed_by_other = pr_number <> 103, is_deployed_by_author = pr_number = 104;
"""

# The bridge of changes and services: no repository here has services by path, so each change counts for
# its one service with its own figures, as the real mart has it for such repositories. A view, so a test
# that edits a change edits its bridge row too.
_CHANGE_SERVICES = """
create view marts.fct_change_services as
select
    change_id, service, team, repository, change_kind, 'repository' as matched_by, true as is_change_service,
    deployment_id, deployed_at, first_commit_at as started_at, merged_at, coding_minutes, pickup_minutes,
    review_minutes, deploy_minutes, lead_time_minutes, is_reviewed_by_other, is_deployed_by_author,
    false as is_shipped_by_baseline,
from marts.fct_changes;
"""


# The configuration's dimensions: payments is in commerce, search in discovery, platform in none;
# checkout-api is python with labels api and critical, search-api go with label api.
_DIMENSIONS = """
alter table marts.dim_teams add column department varchar;
update marts.dim_teams
set department = case team when 'payments' then 'commerce' when 'search' then 'discovery' end;
alter table marts.dim_services add column language varchar;
alter table marts.dim_services add column labels varchar[];
update marts.dim_services set
    language = case service when 'checkout-api' then 'python' else 'go' end,
    labels = case service when 'checkout-api' then ['api', 'critical'] else ['api'] end;
"""

# Weekly rows derived from the fixture rows, with every week between a team's first and last data week.
_WEEKLY = """
create table marts.dora_team_weekly as
with deployments as (
    select team, date_trunc('week', deployed_at)::date as week_start, deployed_at::date as day,
        is_failure, time_to_restore_minutes
    from marts.fct_deployments
    where is_production and status = 'success'
),
changes as (
    select team, date_trunc('week', deployed_at)::date as week_start, lead_time_minutes
    from marts.fct_changes
),
spans as (
    select team, min(week_start) as first_week, max(week_start) as last_week from deployments group by team
),
weeks as (
    select team, unnest(generate_series(first_week, last_week, interval 7 day))::date as week_start
    from spans
),
deployment_weeks as (
    select team, week_start, count(*) as deployments, count(distinct day) as deploy_days,
        count(*) filter (where is_failure) as failed_deployments,
        median(time_to_restore_minutes) as time_to_restore_median_minutes,
        avg(time_to_restore_minutes) as time_to_restore_mean_minutes
    from deployments group by all
),
change_weeks as (
    select team, week_start, count(*) as changes,
        median(lead_time_minutes) as lead_time_median_minutes,
        quantile_cont(lead_time_minutes, 0.75) as lead_time_p75_minutes,
        quantile_cont(lead_time_minutes, 0.9) as lead_time_p90_minutes,
        avg(lead_time_minutes) as lead_time_mean_minutes
    from changes group by all
)
select
    weeks.team, weeks.week_start,
    coalesce(deployments, 0) as deployments, coalesce(deploy_days, 0) as deploy_days,
    coalesce(failed_deployments, 0) as failed_deployments,
    failed_deployments / nullif(deployments, 0) as change_failure_rate,
    coalesce(changes, 0) as changes,
    lead_time_median_minutes, lead_time_p75_minutes, lead_time_p90_minutes, lead_time_mean_minutes,
    time_to_restore_median_minutes, time_to_restore_mean_minutes,
    null::varchar as deployment_frequency_level_2023, null::varchar as lead_time_level_2023,
    null::varchar as change_failure_rate_level_2023, null::varchar as time_to_restore_level_2023,
from weeks
left join deployment_weeks using (team, week_start)
left join change_weeks using (team, week_start)
order by weeks.team, weeks.week_start;

create table marts.dora_org_weekly as
select
    week_start, sum(deployments)::bigint as deployments, sum(deploy_days)::bigint as deploy_days,
    sum(failed_deployments)::bigint as failed_deployments,
    sum(failed_deployments) / nullif(sum(deployments), 0) as change_failure_rate,
    sum(changes)::bigint as changes,
    min(lead_time_median_minutes) as lead_time_median_minutes,
    min(lead_time_p75_minutes) as lead_time_p75_minutes,
    min(lead_time_p90_minutes) as lead_time_p90_minutes,
    min(lead_time_mean_minutes) as lead_time_mean_minutes,
    min(time_to_restore_median_minutes) as time_to_restore_median_minutes,
    min(time_to_restore_mean_minutes) as time_to_restore_mean_minutes,
    null::varchar as deployment_frequency_level_2023, null::varchar as lead_time_level_2023,
    null::varchar as change_failure_rate_level_2023, null::varchar as time_to_restore_level_2023,
from marts.dora_team_weekly
group by week_start
order by week_start;
"""

# STAND-IN for the real `marts.dora_summary`: same signature and columns, simplified arithmetic
# (deploy days per week is a plain average here, levels use the 2023 thresholds on the period values).
_SUMMARY_STAND_IN = """
create macro marts.dora_summary(start_date, end_date, teams) as table
with deployments as (
    select team, deployed_at::date as day, is_failure, time_to_restore_minutes
    from marts.fct_deployments
    where is_production and status = 'success'
        and deployed_at::date between start_date and end_date
        and (teams is null or list_contains(teams, team))
),
changes as (
    select team, lead_time_minutes
    from marts.fct_changes
    where deployed_at::date between start_date and end_date
        and lead_time_minutes is not null
        and (teams is null or list_contains(teams, team))
),
deployment_totals as (
    select coalesce(team, '(org)') as team, count(*) as deployments, count(distinct day) as deploy_days,
        count(*) filter (where is_failure) as failed_deployments,
        median(time_to_restore_minutes) as time_to_restore_median_minutes
    from deployments group by grouping sets ((team), ())
),
change_totals as (
    select coalesce(team, '(org)') as team, count(*) as changes,
        median(lead_time_minutes) as lead_time_median_minutes,
        quantile_cont(lead_time_minutes, 0.75) as lead_time_p75_minutes,
        quantile_cont(lead_time_minutes, 0.9) as lead_time_p90_minutes,
        avg(lead_time_minutes) as lead_time_mean_minutes
    from changes group by grouping sets ((team), ())
),
period as (select (end_date::date - start_date::date + 1) / 7.0 as weeks),
joined as (
    select
        team,
        coalesce(deployments, 0) as deployments,
        coalesce(deployments, 0) / period.weeks as deployments_per_week,
        coalesce(deploy_days, 0) / period.weeks as deploy_days_per_week_median,
        coalesce(failed_deployments, 0) as failed_deployments,
        failed_deployments / nullif(deployments, 0) as change_failure_rate,
        coalesce(changes, 0) as changes,
        lead_time_median_minutes, lead_time_p75_minutes, lead_time_p90_minutes, lead_time_mean_minutes,
        time_to_restore_median_minutes,
    from deployment_totals
    full join change_totals using (team)
    cross join period
)
select
    *,
    case when deploy_days_per_week_median >= 5 then 'elite' when deploy_days_per_week_median >= 1 then 'high'
        when deploy_days_per_week_median >= 0.25 then 'medium' else 'low' end
        as deployment_frequency_level_2023,
    case when lead_time_median_minutes is null then null when lead_time_median_minutes < 1440 then 'elite'
        when lead_time_median_minutes < 10080 then 'high' when lead_time_median_minutes < 43200 then 'medium'
        else 'low' end as lead_time_level_2023,
    case when change_failure_rate is null then null when change_failure_rate <= 0.05 then 'elite'
        when change_failure_rate <= 0.10 then 'high' when change_failure_rate <= 0.15 then 'medium'
        else 'low' end as change_failure_rate_level_2023,
    case when time_to_restore_median_minutes is null then null
        when time_to_restore_median_minutes < 60 then 'elite'
        when time_to_restore_median_minutes < 1440 then 'high'
        when time_to_restore_median_minutes < 10080 then 'medium' else 'low' end
        as time_to_restore_level_2023,
from joined
"""


def build_fixture_warehouse(path: Path) -> Path:
    """Write the fixture warehouse to `path` and return it."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(_TABLES)
        connection.execute(_FAILURE_COLUMNS)
        connection.execute(_CHANGE_SERVICES)
        connection.execute(_DIMENSIONS)
        connection.execute(_WEEKLY)
        connection.execute(_SUMMARY_STAND_IN)
    finally:
        connection.close()
    return path


@pytest.fixture(scope="module")
def tiny_warehouse(request: pytest.FixtureRequest) -> Path:
    """The tiny simulated org's published warehouse (built once per test session, tests/conftest.py), or the
    warehouse `DEPLOYLENS_TEST_WAREHOUSE` names (to iterate on the app against a warehouse built earlier).
    Read-only: a test that changes a warehouse copies it first."""
    given = os.environ.get("DEPLOYLENS_TEST_WAREHOUSE")
    if given:
        return Path(given)
    return request.getfixturevalue("tiny_org").workdir.warehouse
