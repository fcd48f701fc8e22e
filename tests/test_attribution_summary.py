"""marts.dora_summary against hand-computed values and against the weekly marts it must agree with.

The facts are written by hand into a throwaway DuckDB file; dbt then builds only the weekly rollups on top
of them, and its on-run-end hook creates the table macro, exactly as a refresh does. Expected numbers are
worked out in the comments, not computed by the code under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "transform"
SEED = DBT_PROJECT / "seeds" / "dora_bands.csv"

# (team, deployed_at, status, is_production, is_failure, time_to_restore_minutes)
DEPLOYMENTS = [
    ("payments", "2026-05-31 23:00:00", "success", True, False, None),  # the Sunday before: out of period
    ("payments", "2026-06-01 10:00:00", "success", True, True, 30.0),
    ("payments", "2026-06-01 12:00:00", "success", True, False, None),
    ("payments", "2026-06-02 10:00:00", "success", True, True, 90.0),
    ("payments", "2026-06-04 10:00:00", "success", True, False, None),
    ("payments", "2026-06-05 10:00:00", "success", True, False, None),
    ("payments", "2026-06-07 23:59:00", "success", True, False, None),
    ("payments", "2026-06-03 10:00:00", "success", False, False, None),  # staging: not counted
    ("payments", "2026-06-03 11:00:00", "failure", True, False, None),  # failed to deploy: not counted
    ("payments", "2026-06-08 00:30:00", "success", True, False, None),  # the Monday after: out of period
    ("search", "2026-06-03 09:00:00", "success", True, False, None),
    # staging, not counted; the data loaded reaches July, so every June day counts as loaded
    ("search", "2026-07-15 09:00:00", "success", False, False, None),
]
# (team, deployed_at, lead_time_minutes)
CHANGES = [
    ("payments", "2026-06-01 10:00:00", 100.0),
    ("payments", "2026-06-02 10:00:00", 200.0),
    ("payments", "2026-06-04 10:00:00", 300.0),
    ("payments", "2026-06-05 10:00:00", 400.0),
    ("payments", "2026-06-05 10:00:00", None),  # shipped by a baseline: not measured
    ("payments", "2026-06-08 00:30:00", 10.0),  # out of period
    ("search", "2026-06-03 09:00:00", 2000.0),
]
TEAMS = [("payments", 1), ("search", 1), ("idle", 0)]


def _write_facts(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute("create schema reference")
        con.execute("create table marts.dim_teams (team varchar, service_count bigint)")
        con.executemany("insert into marts.dim_teams values (?, ?)", TEAMS)
        con.execute(
            "create table marts.fct_deployments (team varchar, deployed_at timestamp, status varchar, "
            "is_production boolean, is_failure boolean, time_to_restore_minutes double)"
        )
        con.executemany("insert into marts.fct_deployments values (?, ?, ?, ?, ?, ?)", DEPLOYMENTS)
        con.execute("alter table marts.fct_deployments add column created_at timestamp")
        con.execute("update marts.fct_deployments set created_at = deployed_at")
        con.execute("create table marts.fct_incidents (service varchar, created_at timestamp)")
        con.execute(
            "create table marts.fct_changes (team varchar, deployed_at timestamp, lead_time_minutes double)"
        )
        con.executemany("insert into marts.fct_changes values (?, ?, ?)", CHANGES)
        # the weekly marts count changes per team through the change-service bridge: here, as in an org
        # without monorepos, each change counts for one service of its own team
        con.execute(
            "create table marts.fct_change_services as select "
            "'change-' || row_number() over () as change_id, team || '-service' as service, team, "
            "deployed_at, lead_time_minutes from marts.fct_changes"
        )
        con.execute(
            "create table reference.dora_bands as select * from read_csv(?, header = true, columns = {"
            "'report_year': 'integer', 'metric': 'varchar', 'level': 'varchar', 'lower_bound': 'double', "
            "'upper_bound': 'double', 'upper_inclusive': 'boolean', 'unit': 'varchar'})",
            [str(SEED)],
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dora-summary")
    path = root / "deploylens.duckdb"
    _write_facts(path)
    env = {**os.environ, "DEPLOYLENS_BUILD_DB": str(path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        "run",
        "--select",
        "dora_team_weekly",
        "dora_org_weekly",
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root / "logs"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"dbt run failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return path


def _rows(path: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def _summary(path: Path, start: str, end: str, teams: list[str] | None) -> dict[str, dict]:
    rows = _rows(path, "select * from marts.dora_summary(?, ?, ?)", [start, end, teams])
    return {row["team"]: row for row in rows}


def test_one_week_matches_hand_computed_values(warehouse):
    summary = _summary(warehouse, "2026-06-01", "2026-06-07", None)
    assert list(summary) == ["idle", "payments", "search", "(org)"]

    payments = summary["payments"]
    # Six production successes from Mon 06-01 to Sun 06-07 23:59, on five days (Mon, Tue, Thu, Fri, Sun).
    assert payments["deployments"] == 6
    assert payments["deployments_per_week"] == pytest.approx(6.0)
    assert payments["deploy_days_per_week_median"] == 5
    assert payments["failed_deployments"] == 2
    assert payments["change_failure_rate"] == pytest.approx(2 / 6)
    # Lead times 100, 200, 300, 400: median 250, p75 = 300 + 0.25 * 100, p90 = 300 + 0.7 * 100, mean 250.
    assert payments["changes"] == 4
    assert payments["lead_time_median_minutes"] == pytest.approx(250)
    assert payments["lead_time_p75_minutes"] == pytest.approx(325)
    assert payments["lead_time_p90_minutes"] == pytest.approx(370)
    assert payments["lead_time_mean_minutes"] == pytest.approx(250)
    assert payments["time_to_restore_median_minutes"] == pytest.approx(60)
    assert payments["deployment_frequency_level_2023"] == "elite"
    assert payments["lead_time_level_2023"] == "elite"
    assert payments["change_failure_rate_level_2023"] == "low"
    assert payments["time_to_restore_level_2023"] == "high"

    search = summary["search"]
    assert (search["deployments"], search["failed_deployments"], search["changes"]) == (1, 0, 1)
    assert search["change_failure_rate"] == 0
    assert search["lead_time_median_minutes"] == pytest.approx(2000)
    assert search["deployment_frequency_level_2023"] == "high"
    assert search["lead_time_level_2023"] == "high"
    assert search["change_failure_rate_level_2023"] == "elite"
    assert search["time_to_restore_level_2023"] is None

    idle = summary["idle"]
    assert (idle["deployments"], idle["changes"], idle["failed_deployments"]) == (0, 0, 0)
    assert idle["change_failure_rate"] is None
    assert idle["deployment_frequency_level_2023"] == "low"

    org = summary["(org)"]
    # Seven deployments on six distinct days; lead times 100, 200, 300, 400, 2000.
    assert org["deployments"] == 7
    assert org["deploy_days_per_week_median"] == 6
    assert org["failed_deployments"] == 2
    assert org["change_failure_rate"] == pytest.approx(2 / 7)
    assert org["changes"] == 5
    assert org["lead_time_median_minutes"] == pytest.approx(300)
    assert org["lead_time_p90_minutes"] == pytest.approx(400 + 0.6 * 1600)
    assert org["lead_time_mean_minutes"] == pytest.approx(600)
    assert org["deployment_frequency_level_2023"] == "elite"


def test_one_week_agrees_with_the_weekly_marts(warehouse):
    summary = _summary(warehouse, "2026-06-01", "2026-06-07", None)
    first_week = "where week_start = date '2026-06-01'"
    weekly = {
        row["team"]: row for row in _rows(warehouse, f"select * from marts.dora_team_weekly {first_week}")
    }
    org_weekly = _rows(warehouse, f"select * from marts.dora_org_weekly {first_week}")
    assert set(weekly) == {"payments", "search"}
    assert len(org_weekly) == 1
    pairs = [(summary[team], weekly[team]) for team in weekly] + [(summary["(org)"], org_weekly[0])]
    same = [
        "deployments",
        "failed_deployments",
        "change_failure_rate",
        "changes",
        "lead_time_median_minutes",
        "lead_time_p75_minutes",
        "lead_time_p90_minutes",
        "lead_time_mean_minutes",
        "time_to_restore_median_minutes",
        "deployment_frequency_level_2023",
        "lead_time_level_2023",
        "change_failure_rate_level_2023",
        "time_to_restore_level_2023",
    ]
    for period_row, week_row in pairs:
        for column in same:
            assert period_row[column] == pytest.approx(week_row[column]), (period_row["team"], column)
        assert period_row["deploy_days_per_week_median"] == week_row["deploy_days"]


def test_teams_filter_limits_team_rows_and_the_org_row(warehouse):
    summary = _summary(warehouse, "2026-06-01", "2026-06-07", ["search"])
    assert list(summary) == ["search", "(org)"]
    assert summary["(org)"]["deployments"] == 1
    assert summary["(org)"]["lead_time_median_minutes"] == pytest.approx(2000)


def test_month_long_period_uses_monthly_deploy_days_below_weekly(warehouse):
    # June 2026 spans the weeks of 06-01, 06-08, 06-15, 06-22 and 06-29: search deployed in one of them,
    # so the median week has 0 deploy days; its one deploy day in June makes it medium, not low.
    summary = _summary(warehouse, "2026-06-01", "2026-06-30", ["search"])
    search = summary["search"]
    assert search["deploy_days_per_week_median"] == 0
    assert search["deployments_per_week"] == pytest.approx(1 / (30 / 7))
    assert search["deployment_frequency_level_2023"] == "medium"


def test_reversed_period_is_a_clear_error(warehouse):
    with pytest.raises(duckdb.Error, match="end_date 2026-06-01 is before start_date 2026-06-07"):
        _summary(warehouse, "2026-06-07", "2026-06-01", None)


def test_weekend_only_period_is_not_rated(warehouse):
    # Saturday 06-06 and Sunday 06-07: payments deployed once (06-07 23:59). No whole week: the frequency
    # level is NULL rather than "low" for a team that deploys five days a week; the rate counts the 2 days.
    payments = _summary(warehouse, "2026-06-06", "2026-06-07", ["payments"])["payments"]
    assert payments["deployments"] == 1
    assert payments["deployments_per_week"] == pytest.approx(1 / (2 / 7))
    assert payments["deploy_days_per_week_median"] is None
    assert payments["deployment_frequency_level_2023"] is None


def test_period_reaching_past_the_loaded_data_counts_only_loaded_days(warehouse):
    # The data loaded ends 2026-07-15 (the staging deployment), so 06-01..12-31 counts 30 + 15 = 45 days.
    # Payments deployed 7 times in it (06-01 twice, 06-02, 06-04, 06-05, 06-07, 06-08).
    payments = _summary(warehouse, "2026-06-01", "2026-12-31", ["payments"])["payments"]
    assert payments["deployments"] == 7
    assert payments["deployments_per_week"] == pytest.approx(7 / (45 / 7))
    # Whole weeks 06-01 .. 07-06 (the week of 07-13 is cut by the data's end): deploy days 5, 1, 0, 0, 0, 0.
    assert payments["deploy_days_per_week_median"] == 0
    # Whole months: June only (6 deploy days), not the empty months after the data ends: medium, not low.
    assert payments["deployment_frequency_level_2023"] == "medium"
