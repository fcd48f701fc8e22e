"""The refresh's last lines say what the GitHub source spent of its rate budget, from meta.source_loads."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from ingestion.http import ApiUsage
from orchestration.assets import api_spent, record_source_load
from orchestration.report import RefreshReport, budget_lines, read_budget

STARTED = datetime(2026, 11, 2, 15, 0)
RESET = datetime(2026, 11, 2, 16, 4, 30)


def test_budget_columns_are_added_to_an_existing_table_and_read_back(tmp_path) -> None:
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:  # a table as refreshes wrote it before the budget columns
        con.execute("create schema meta")
        con.execute(
            "create table meta.source_loads (run_id varchar, source varchar, started_at timestamp,"
            " finished_at timestamp, status varchar, error varchar, rows_loaded bigint)"
        )
        con.execute("insert into meta.source_loads values ('old', 'github', null, null, 'ok', null, 3)")
    spent = {"api_requests": 812, "api_points": 9340, "api_rate_remaining": 4188, "api_rate_reset_at": RESET}
    record_source_load(db, "r1", "github", STARTED, "ok", rows_loaded=10, spent=spent)
    record_source_load(db, "r1", "pagerduty", STARTED, "ok", rows_loaded=5)
    rows = read_budget([tmp_path / "missing.duckdb", db], "r1")
    assert rows == [("github", 812, 9340, 4188, RESET)]
    assert budget_lines(rows) == [
        "github: 812 requests, 9,340 GraphQL points (rate limit 4,188 left, resets 16:04 UTC)"
    ]
    with duckdb.connect(str(db), read_only=True) as con:
        old = con.execute("select api_requests, api_points from meta.source_loads where run_id = 'old'")
        assert old.fetchall() == [(None, None)]


def test_a_rest_load_shows_requests_only() -> None:
    assert budget_lines([("github", 1072, 0, 3928, RESET)]) == [
        "github: 1,072 requests (rate limit 3,928 left, resets 16:04 UTC)"
    ]
    assert budget_lines([("github", 1, None, None, None)]) == ["github: 1 request"]


def test_budget_lines_come_last() -> None:
    report = RefreshReport(run_id="r1", warnings=["check x warned"], budget=["github: 3 requests"])
    assert report.lines() == ["warning: check x warned", "github: 3 requests"]


def test_spent_is_what_the_load_added_and_the_budget_it_left() -> None:
    usage = ApiUsage("GitHub")
    usage.requests, usage.points = 100, 40
    before = usage.snapshot()
    usage.requests, usage.points = 130, 58
    reset = int(RESET.replace(tzinfo=UTC).timestamp())
    usage.note("core", 4000, reset, 5000)
    usage.note("graphql", 4188, reset, 5000)
    assert api_spent(usage, before) == {
        "api_requests": 30,
        "api_points": 18,
        "api_rate_remaining": 4188,
        "api_rate_reset_at": RESET,
    }
    usage.requests += 5  # a REST-only load: the REST budget is the one reported
    assert api_spent(usage, usage.snapshot() | {"requests": 130})["api_rate_remaining"] == 4000
    assert api_spent(None, None) == {}


def test_the_tiny_orgs_refresh_reports_its_github_budget(tiny_org) -> None:
    usage = tiny_org.emulator.usage()["github"]
    with duckdb.connect(str(tiny_org.workdir.warehouse), read_only=True) as con:
        row = con.execute(
            "select api_requests, api_points from meta.source_loads where source = 'github' and run_id = ?",
            [tiny_org.refresh["run_id"]],
        ).fetchone()
    # the emulator served this refresh and nothing else before the first tests read from it
    assert row is not None and 0 < row[0] <= usage["requests"] and 0 < row[1] <= usage["graphql_points"]
    last = tiny_org.refresh["report"].lines()[-1]
    assert last.startswith(f"github: {row[0]:,} requests, {row[1]:,} GraphQL points (rate limit ")
