"""The app's query module: read-only, short-lived connections, parameters, and cache freshness."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest
from conftest_app import build_fixture_warehouse

from app import formatting, queries

START = dt.date(2026, 3, 7)
END = dt.date(2026, 5, 29)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_fixture_warehouse(tmp_path / "warehouse.duckdb")


def _org(frame) -> dict:
    return frame[frame["team"] == queries.ORG_TEAM].iloc[0].to_dict()


def test_nothing_is_left_open_after_queries(warehouse: Path) -> None:
    queries.dora_summary(warehouse, START, END, None)
    queries.org_weekly(warehouse, START, END)
    queries.team_weekly(warehouse, START, END, ["payments"])
    queries.deployments(warehouse, START, END, ["payments"], ["production"], ["success"])
    queries.team_names(warehouse)
    queries.data_bounds(warehouse)
    # DuckDB refuses a read-write connection while a read-only one to the same file is open in-process.
    writer = duckdb.connect(str(warehouse))
    try:
        writer.execute("create table marts.written_after_queries as select 1 as one")
    finally:
        writer.close()


def test_every_connection_is_read_only_and_closed(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[dict] = []
    real_connect = duckdb.connect

    class RecordingConnection:
        """Wraps a real connection to see whether the query module closes it."""

        def __init__(self, path: str, read_only: bool) -> None:
            self.record = {"read_only": read_only, "closed": False}
            self._connection = real_connect(path, read_only=read_only)
            opened.append(self.record)

        def execute(self, *args: object):
            return self._connection.execute(*args)

        def close(self) -> None:
            self.record["closed"] = True
            self._connection.close()

    monkeypatch.setattr(
        queries.duckdb, "connect", lambda path, read_only=False: RecordingConnection(path, read_only)
    )
    queries.dora_summary(warehouse, START, END, ["search"])
    queries.deployments(warehouse, START, END, None)
    with pytest.raises(queries.WarehouseUnavailable):
        queries.run_query(warehouse, "select * from marts.no_such_table")
    assert opened == [{"read_only": True, "closed": True}] * 3


def test_connections_are_read_only(warehouse: Path) -> None:
    with pytest.raises(queries.WarehouseUnavailable, match="read-only"):
        queries.run_query(warehouse, "delete from marts.fct_deployments")
    frame = queries.run_query(warehouse, "select count(*) as n from marts.fct_deployments")
    assert int(frame.loc[0, "n"]) == 11


def test_summary_passes_dates_and_teams_as_parameters(warehouse: Path) -> None:
    everyone = queries.dora_summary(warehouse, START, END, None)
    assert sorted(everyone["team"]) == ["(org)", "payments", "search"]
    assert _org(everyone)["deployments"] == 6

    search = queries.dora_summary(warehouse, START, END, ["search"])
    assert sorted(search["team"]) == ["(org)", "search"]
    assert _org(search)["deployments"] == 2

    # A hostile team name is just a name that matches nothing.
    hostile = queries.dora_summary(warehouse, START, END, ["x') or true --"])
    assert list(hostile["team"]) == ["(org)"]
    assert _org(hostile)["deployments"] == 0


def test_bounds_teams_and_environments(warehouse: Path) -> None:
    assert queries.data_bounds(warehouse) == queries.DataBounds(dt.date(2025, 11, 1), dt.date(2026, 5, 29))
    assert queries.team_names(warehouse) == ["payments", "platform", "search"]
    assert queries.environment_names(warehouse) == ["staging", "production"]


def test_bounds_of_an_empty_warehouse_are_none(warehouse: Path) -> None:
    writer = duckdb.connect(str(warehouse))
    writer.execute("delete from marts.fct_deployments")
    writer.close()
    assert queries.data_bounds(warehouse) is None


def test_weekly_queries_cover_weeks_overlapping_the_period(warehouse: Path) -> None:
    org = queries.org_weekly(warehouse, dt.date(2026, 5, 6), dt.date(2026, 5, 20))
    # 05-06 is a Wednesday: its week starts on Monday 05-04.
    assert [day.date() for day in org["week_start"]] == [
        dt.date(2026, 5, 4),
        dt.date(2026, 5, 11),
        dt.date(2026, 5, 18),
    ]
    assert list(org["deployments"]) == [1, 1, 1]
    teams = queries.team_weekly(warehouse, dt.date(2026, 3, 30), dt.date(2026, 4, 12), ["search"])
    assert list(teams["team"]) == ["search", "search"]
    assert list(teams["deployments"]) == [1, 0]


def test_deployment_filters(warehouse: Path) -> None:
    rows = queries.deployments(warehouse, dt.date(2026, 5, 11), dt.date(2026, 5, 11), None)
    assert list(rows["deployment_id"]) == ["github:5"]
    staging = queries.deployments(warehouse, START, END, ["payments"], environments=["staging"])
    assert list(staging["deployment_id"]) == ["github:8"]
    limited = queries.deployments(warehouse, START, END, None, limit=3)
    assert list(limited["deployment_id"]) == ["github:7", "github:9", "github:8"]


def test_a_new_publish_is_seen_despite_the_cache(warehouse: Path) -> None:
    before = _org(queries.dora_summary(warehouse, START, END, None))["deployments"]
    writer = duckdb.connect(str(warehouse))
    writer.execute(
        """
        insert into marts.fct_deployments
        select * replace ('github:12' as deployment_id, '12' as source_deployment_id,
            timestamp '2026-05-27 10:00' as deployed_at)
        from marts.fct_deployments where deployment_id = 'github:7'
        """
    )
    writer.close()
    stat = warehouse.stat()
    os.utime(warehouse, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    after = _org(queries.dora_summary(warehouse, START, END, None))["deployments"]
    assert (before, after) == (6, 7)


def test_unreadable_file_raises_a_clear_error_after_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "warehouse.duckdb"
    broken.write_bytes(b"not a database" * 100)
    monkeypatch.setattr(queries, "OPEN_BACKOFF_SECONDS", 0.0)
    attempts: list[str] = []
    real_connect = duckdb.connect

    def counting_connect(path: str, read_only: bool = False):
        attempts.append(path)
        assert read_only is True
        return real_connect(path, read_only=read_only)

    monkeypatch.setattr(queries.duckdb, "connect", counting_connect)
    with pytest.raises(queries.WarehouseUnavailable, match="after 5 attempts"):
        queries.run_query(broken, "select 1")
    assert len(attempts) == queries.OPEN_ATTEMPTS


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(queries.WarehouseUnavailable, match="not there"):
        queries.team_names(tmp_path / "absent.duckdb")


def test_warehouse_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(queries.WAREHOUSE_ENV, raising=False)
    assert queries.warehouse_path() == Path(".deploylens") / "warehouse.duckdb"
    monkeypatch.setenv(queries.WAREHOUSE_ENV, "elsewhere/w.duckdb")
    assert queries.warehouse_path() == Path("elsewhere/w.duckdb")


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(None, "—"), (float("nan"), "—"), (42, "42 min"), (90, "1.5 h"), (2880, "2.0 d"), (-360, "-6.0 h")],
)
def test_format_duration(minutes: object, text: str) -> None:
    assert formatting.format_duration(minutes) == text


def test_formatting_of_rates_and_levels() -> None:
    assert formatting.format_rate(1 / 3) == "33.3 %"
    assert formatting.format_rate_delta(-0.05) == "-5.0 pp"
    assert formatting.format_duration_delta(-360) == "-6.0 h"
    assert formatting.format_duration_delta(None) is None
    assert formatting.format_per_week_delta(1 / 3) == "+0.3 / week"
    assert formatting.level_label("elite") == "Elite"
    assert formatting.level_label(None) == "No data"
    assert formatting.level_color("low") == "red"
    assert formatting.level_color(None) == "gray"
