"""meta.check_results: one row per check and run, severities kept, dbt's results read with their severity."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import duckdb
import pytest

from data_tests.check_results import CheckResult, dbt_check_results, write_check_results
from orchestration.checks import record_dbt_checks
from orchestration.workdir import Workdir

AT = dt.datetime(2026, 6, 1, 12, 0)


def _rows(database) -> list[tuple]:
    connection = duckdb.connect(str(database), read_only=True)
    try:
        return connection.execute(
            "select run_id, checked_at, check_name, severity, passed, details from meta.check_results "
            "order by run_id, check_name"
        ).fetchall()
    finally:
        connection.close()


def test_results_are_written_per_run_and_a_rerun_replaces_its_own_rows(tmp_path) -> None:
    database = tmp_path / "build.duckdb"
    first = [CheckResult("a", "error", True, "passed"), CheckResult("b", "warn", False, "observed 0")]
    assert write_check_results(database, "run-1", first, checked_at=AT) == 2
    write_check_results(database, "run-2", [CheckResult("a", "error", False, "1 of 3 rows break it")], AT)
    # The same run checking "b" again (a retried step) replaces its row, and leaves "a" and run-2 alone.
    write_check_results(database, "run-1", [CheckResult("b", "warn", True, "passed")], checked_at=AT)
    assert _rows(database) == [
        ("run-1", AT, "a", "error", True, "passed"),
        ("run-1", AT, "b", "warn", True, "passed"),
        ("run-2", AT, "a", "error", False, "1 of 3 rows break it"),
    ]


def test_a_severity_outside_the_contract_is_refused() -> None:
    with pytest.raises(ValueError, match="severity 'critical'"):
        CheckResult("a", "critical", False)


def test_one_write_cannot_name_a_check_twice(tmp_path) -> None:
    with pytest.raises(ValueError, match="more than once"):
        write_check_results(
            tmp_path / "b.duckdb", "r", [CheckResult("a", "warn", True), CheckResult("a", "warn", False)]
        )


def _dbt_target(tmp_path, results: list[dict], nodes: dict):
    target = tmp_path / "target"
    target.mkdir()
    (target / "run_results.json").write_text(json.dumps({"results": results}))
    manifest = {
        "nodes": {key: value for key, value in nodes.items() if key.startswith("test.")},
        "unit_tests": {key: value for key, value in nodes.items() if key.startswith("unit_test.")},
    }
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_dbt_results_carry_their_configured_severity(tmp_path) -> None:
    nodes = {
        "test.p.unique_x.1": {"name": "unique_x", "config": {"severity": "ERROR"}},
        "test.p.accepted_values_state.2": {"name": "accepted_values_state", "config": {"severity": "warn"}},
        "test.p.accepted_values_result.3": {"name": "accepted_values_result", "config": {"severity": "warn"}},
        "test.p.not_null_y.4": {"name": "not_null_y", "config": {"severity": "error"}},
        "test.p.relationships_z.5": {"name": "relationships_z", "config": {"severity": "error"}},
        "unit_test.p.model.maps_statuses": {"name": "maps_statuses", "config": {}},
    }
    results = [
        {"unique_id": "model.p.fct", "status": "success", "message": "OK"},
        {"unique_id": "test.p.unique_x.1", "status": "pass", "message": None, "failures": 0},
        {
            "unique_id": "test.p.accepted_values_state.2",
            "status": "warn",
            "message": "Got 2 results",
            "failures": 2,
        },
        {"unique_id": "test.p.accepted_values_result.3", "status": "pass", "message": None, "failures": 0},
        {"unique_id": "test.p.not_null_y.4", "status": "fail", "message": "Got 5 results", "failures": 5},
        {"unique_id": "test.p.relationships_z.5", "status": "skipped", "message": None},
        {"unique_id": "unit_test.p.model.maps_statuses", "status": "fail", "message": "actual differs"},
    ]
    found = {result.check_name: result for result in dbt_check_results(_dbt_target(tmp_path, results, nodes))}
    assert found == {
        "dbt test unique_x": CheckResult("dbt test unique_x", "error", True, "passed"),
        "dbt test accepted_values_state": CheckResult(
            "dbt test accepted_values_state", "warn", False, "warn: Got 2 results"
        ),
        "dbt test accepted_values_result": CheckResult(
            "dbt test accepted_values_result", "warn", True, "passed"
        ),
        "dbt test not_null_y": CheckResult("dbt test not_null_y", "error", False, "fail: Got 5 results"),
        "dbt test relationships_z": CheckResult(
            "dbt test relationships_z", "error", False, "skipped: an upstream node failed"
        ),
        "dbt unit_test maps_statuses": CheckResult(
            "dbt unit_test maps_statuses", "error", False, "fail: actual differs"
        ),
    }


def test_no_run_results_means_no_dbt_results(tmp_path) -> None:
    assert dbt_check_results(tmp_path) == []


def test_a_refresh_records_only_the_dbt_results_it_produced(tmp_path) -> None:
    workdir = Workdir.at(tmp_path / "wd").ensure()
    workdir.dbt_target.mkdir(parents=True)
    results = [{"unique_id": "test.p.not_null_y.4", "status": "fail", "message": "Got 5 results"}]
    (workdir.dbt_target / "run_results.json").write_text(json.dumps({"results": results}))
    nodes = {"test.p.not_null_y.4": {"name": "not_null_y", "config": {"severity": "error"}}}
    (workdir.dbt_target / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    written = time.time()
    # A previous refresh's file (dbt failed before writing its own): nothing is recorded for this run.
    os.utime(workdir.dbt_target / "run_results.json", (written - 600, written - 600))
    record_dbt_checks(workdir, "run-old", started=written - 60)
    assert not workdir.build_db.exists() or _rows(workdir.build_db) == []
    # This refresh's file: its failing test is recorded, although the build failed.
    os.utime(workdir.dbt_target / "run_results.json", (written, written))
    record_dbt_checks(workdir, "run-new", started=written - 60)
    assert [row[2:] for row in _rows(workdir.build_db)] == [
        ("dbt test not_null_y", "error", False, "fail: Got 5 results")
    ]
