"""The app's query module: one read-only database per published file, a cursor per query, parameters,
and cache freshness."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
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


def test_queries_share_one_database_on_the_file_until_it_is_closed(warehouse: Path) -> None:
    queries.dora_summary(warehouse, START, END, None)
    queries.org_weekly(warehouse, START, END)
    queries.team_weekly(warehouse, START, END, ["payments"])
    queries.deployments(warehouse, START, END, ["payments"], ["production"], ["success"])
    queries.team_names(warehouse)
    queries.data_bounds(warehouse)
    assert warehouse.absolute() in queries.open_files()
    # The app holds the file between queries: DuckDB refuses a writer on a file this process has open.
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(warehouse)).close()
    queries.close_all()
    assert warehouse.absolute() not in queries.open_files()
    writer = duckdb.connect(str(warehouse))
    try:
        writer.execute("create table marts.written_after_queries as select 1 as one")
    finally:
        writer.close()


def test_one_read_only_database_and_a_cursor_per_query(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries.close_all()
    databases: list[dict] = []
    cursors: list[dict] = []
    real_connect = duckdb.connect

    class Recording:
        """Wraps a real connection (or cursor) to see what the query module opens and closes."""

        def __init__(self, real: duckdb.DuckDBPyConnection, records: list[dict]) -> None:
            self._real = real
            self.record = {"closed": False}
            records.append(self.record)

        def execute(self, *args: object):
            return self._real.execute(*args)

        def cursor(self) -> Recording:
            return Recording(self._real.cursor(), cursors)

        def close(self) -> None:
            self.record["closed"] = True
            self._real.close()

    monkeypatch.setattr(queries.duckdb, "connect", lambda *args: Recording(real_connect(*args), databases))
    queries.dora_summary(warehouse, START, END, ["search"])
    queries.deployments(warehouse, START, END, None)
    with pytest.raises(queries.WarehouseUnavailable):
        queries.run_query(warehouse, "select * from marts.no_such_table")
    attached = queries.run_query(
        warehouse, "select database_name, readonly from duckdb_databases() where not internal"
    )
    assert attached.to_dict("records") == [{"database_name": "warehouse", "readonly": True}]
    assert databases == [{"closed": False}]
    assert cursors == [{"closed": True}] * 4
    queries.close_all()
    assert databases == [{"closed": True}]


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


def _one_by_one(path: Path) -> tuple[queries.DataBounds | None, dict[str, list[str]]]:
    return queries.data_bounds(path), {
        "teams": queries.team_names(path),
        "services": queries.service_names(path),
        "environments": queries.environment_names(path),
        "departments": queries.department_names(path),
        "languages": queries.language_names(path),
        "labels": queries.label_names(path),
    }


def test_the_filter_choices_query_answers_as_the_one_by_one_queries(warehouse: Path) -> None:
    bounds, choices = queries.filter_choices(warehouse)
    assert (bounds, choices) == _one_by_one(warehouse)
    assert bounds == queries.DataBounds(dt.date(2025, 11, 1), dt.date(2026, 5, 29))
    assert choices["teams"] == ["payments", "platform", "search"]
    assert choices["environments"] == ["staging", "production"]
    assert all(choices[name] for name in queries.FILTER_CHOICES)


def test_the_filter_choices_of_an_empty_warehouse(warehouse: Path) -> None:
    writer = duckdb.connect(str(warehouse))
    for table in ("fct_deployments", "dim_teams", "dim_services"):
        writer.execute(f"delete from marts.{table}")
    writer.close()
    assert queries.filter_choices(warehouse) == (None, dict.fromkeys(queries.FILTER_CHOICES, []))
    assert queries.filter_choices(warehouse) == _one_by_one(warehouse)


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


def test_a_new_publish_is_seen_despite_the_cache(warehouse: Path, tmp_path: Path) -> None:
    before = _org(queries.dora_summary(warehouse, START, END, None))["deployments"]
    build = tmp_path / "build.duckdb"
    shutil.copyfile(warehouse, build)
    writer = duckdb.connect(str(build))
    writer.execute(
        """
        insert into marts.fct_deployments
        select * replace ('github:12' as deployment_id, '12' as source_deployment_id,
            timestamp '2026-05-27 10:00' as deployed_at)
        from marts.fct_deployments where deployment_id = 'github:7'
        """
    )
    writer.close()
    # As the publish does: the new file is renamed over the one the app has open.
    os.replace(build, warehouse)
    after = _org(queries.dora_summary(warehouse, START, END, None))["deployments"]
    assert (before, after) == (6, 7)


def test_a_query_the_replaced_file_cannot_answer_runs_once_more_on_the_new_file(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = tmp_path / "build.duckdb"
    shutil.copyfile(warehouse, build)
    writer = duckdb.connect(str(build))
    writer.execute("create table marts.added_by_the_next_publish as select 42 as answer")
    writer.close()
    queries.run_query(warehouse, "select 1 as one")
    checkouts: list[Path] = []
    real_checkout = queries._checkout

    def publish_after_the_first_checkout(path: Path, identity: queries.FileIdentity):
        opened = real_checkout(path, identity)
        checkouts.append(path)
        if len(checkouts) == 1:
            os.replace(build, warehouse)  # the publish lands between the file's check and the query
        return opened

    monkeypatch.setattr(queries, "_checkout", publish_after_the_first_checkout)
    frame = queries.run_query(warehouse, "select answer from marts.added_by_the_next_publish")
    assert frame["answer"].tolist() == [42]
    assert len(checkouts) == 2
    # On a file that was not replaced the same error is the answer, not a second try.
    with pytest.raises(queries.WarehouseUnavailable, match="no_such_table"):
        queries.run_query(warehouse, "select * from marts.no_such_table")
    assert len(checkouts) == 3


def test_queries_on_threads_during_publishes_see_one_file_or_the_next(
    warehouse: Path, tmp_path: Path
) -> None:
    """Sessions query on threads while files are renamed over the warehouse: every answer is one whole
    publish's, none fails, and what stays open afterwards is the last file only."""
    counts = [11]
    publishes = []
    for extra in (1, 2, 3):
        build = tmp_path / f"build{extra}.duckdb"
        shutil.copyfile(warehouse, build)
        writer = duckdb.connect(str(build))
        writer.execute(
            """
            insert into marts.fct_deployments
            select * replace (deployment_id || ?::varchar as deployment_id) from marts.fct_deployments limit ?
            """,
            [f"-copy{extra}", extra],
        )
        writer.close()
        counts.append(11 + extra)
        publishes.append(build)
    sql = "select count(*) as n from marts.fct_deployments"
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def session() -> None:
        try:
            while not done.is_set():
                seen.append(int(queries.run_query(warehouse, sql).loc[0, "n"]))
        except BaseException as error:  # noqa: BLE001 - every failure is reported below
            errors.append(error)

    threads = [threading.Thread(target=session) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        for build in publishes:
            time.sleep(0.2)
            os.replace(build, warehouse)
        time.sleep(0.2)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert set(seen) <= set(counts)
    assert counts[0] in seen and len(seen) > 20
    assert int(queries.run_query(warehouse, sql).loc[0, "n"]) == counts[-1]
    assert queries.open_files().count(warehouse.absolute()) == 1


def test_unreadable_file_raises_a_clear_error_after_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "warehouse.duckdb"
    broken.write_bytes(b"not a database" * 100)
    monkeypatch.setattr(queries, "OPEN_BACKOFF_SECONDS", 0.0)
    attempts: list[str] = []
    real_open = queries._open_database

    def counting_open(path: Path):
        attempts.append(str(path))
        return real_open(path)

    monkeypatch.setattr(queries, "_open_database", counting_open)
    with pytest.raises(queries.WarehouseUnavailable, match="after 5 attempts"):
        queries.run_query(broken, "select 1")
    assert len(attempts) == queries.OPEN_ATTEMPTS
    assert broken.absolute() not in queries.open_files()


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
