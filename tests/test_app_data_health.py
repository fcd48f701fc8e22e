"""The Data health page: publish time, stale sources, warned and failed checks, quarantined records.

The fixture warehouse (conftest_app.py) gets health tables written here by hand, so each expectation is a
row the test wrote, not something read back through the app's own queries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from conftest_app import build_fixture_warehouse
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
PAGE = "app_pages/data_health.py"


def _open_page() -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=60)
    app_test.run()
    app_test.switch_page(PAGE).run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.title[0].value == "Data health"
    return app_test


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def _write_health(path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    connection = duckdb.connect(str(path))
    try:
        connection.execute("create schema meta")
        connection.execute("create table meta.refreshes (published_at timestamp, run_id varchar)")
        connection.execute("insert into meta.refreshes values (?, 'run-2')", [now])
        connection.execute(
            """create table meta.source_loads (run_id varchar, source varchar, started_at timestamp,
            finished_at timestamp, status varchar, error varchar, rows_loaded bigint)"""
        )
        yesterday = now - dt.timedelta(days=3)
        connection.executemany(
            "insert into meta.source_loads values (?, ?, ?, ?, ?, ?, ?)",
            [
                ["run-1", "github", yesterday, yesterday, "ok", None, 120],
                ["run-1", "pagerduty", yesterday, yesterday, "ok", None, 7],
                ["run-2", "github", now, now, "failed", "GitHub GET /repos/acme/api/pulls: gave up", 0],
                ["run-2", "pagerduty", now, now, "ok", None, 3],
            ],
        )
        connection.execute(
            """create table meta.check_results (run_id varchar, checked_at timestamp, check_name varchar,
            severity varchar, passed boolean, details varchar)"""
        )
        connection.executemany(
            "insert into meta.check_results values (?, ?, ?, ?, ?, ?)",
            [
                ["run-1", yesterday, "old_check", "error", False, "from an older run: not shown"],
                ["run-2", now, "deployment_id is unique", "error", True, "passed"],
                ["run-2", now, "a production deployment exists", "warn", False, "no production yet"],
            ],
        )
        connection.execute("create schema health")
        connection.execute(
            "create table health.health_quarantine_summary (source varchar, resource varchar, reason varchar,"
            " records bigint)"
        )
        connection.execute(
            "insert into health.health_quarantine_summary values ('gitlab', 'deployments', 'null id', 2)"
        )
    finally:
        connection.close()


def test_stale_source_warned_check_and_quarantine_are_shown(warehouse: Path) -> None:
    _write_health(warehouse)
    app_test = _open_page()

    errors = [item.value for item in app_test.error]
    assert len(errors) == 1 and "**github** is stale" in errors[0] and "gave up" in errors[0]
    assert "3.0 days ago" in errors[0]  # its last good load, not the failed attempt
    warnings = [item.value for item in app_test.warning]
    assert warnings == ["**a production deployment exists**: no production yet"]

    sources = app_test.dataframe[0].value
    assert list(sources["source"]) == ["github", "pagerduty"]
    assert list(sources["status"]) == ["failed", "ok"]
    assert list(sources["rows_loaded"]) == [0, 3]
    checks = app_test.dataframe[1].value
    assert sorted(checks["check_name"]) == ["a production deployment exists", "deployment_id is unique"]
    quarantine = app_test.dataframe[2].value
    assert quarantine.to_dict("records") == [
        {"source": "gitlab", "resource": "deployments", "reason": "null id", "records": 2}
    ]


def test_a_warehouse_without_health_tables_explains_itself(warehouse: Path) -> None:
    app_test = _open_page()
    infos = " ".join(item.value for item in app_test.info)
    assert "no publish time" in infos
    assert "No source load is recorded" in infos
    assert "No check results are recorded" in infos
    assert any("No record was set aside" in item.value for item in app_test.success)
