"""The last lines of a refresh: the reason behind Dagster's step error, and the health tables of the run."""

from __future__ import annotations

import json
import sys

import duckdb
import pytest
from dagster._utils.error import serializable_error_info_from_exc_info

from ingestion.http import ApiAuthError, ApiError, RetryBudgetExhausted
from orchestration.report import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STALE,
    RefreshReport,
    add_check_evaluations,
    add_health,
    dbt_failures,
    explain_step_error,
    read_health,
)


def _wrapped(error: Exception):
    """`error` as Dagster records it from a dlt step: two wrappers around the cause."""
    try:
        try:
            try:
                raise error
            except Exception as cause:
                raise RuntimeError("Pipeline execution failed at stage extract") from cause
        except Exception as cause:
            raise RuntimeError('Error occurred while executing op "load_github":') from cause
    except Exception:
        return serializable_error_info_from_exc_info(sys.exc_info())


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "org.yml"
    path.write_text("sources:\n  github: {token_env: GITHUB_TOKEN}\n  pagerduty: {token: literal}\n")
    return path


def test_a_rejected_token_names_the_source_and_where_the_token_comes_from(config):
    error = _wrapped(ApiAuthError("GitHub GET /repos/acme/api: the token was rejected (401 Unauthorized)"))
    line = explain_step_error("load_github", error, config)
    assert line.startswith("github: the token was rejected (401) — check GITHUB_TOKEN")
    assert "GET /repos/acme/api" in line and "executing op" not in line
    pd_line = explain_step_error(
        "load_pagerduty", _wrapped(ApiAuthError("PagerDuty GET /incidents: 401")), config
    )
    assert "check sources.pagerduty.token in org.yml" in pd_line and "literal" not in pd_line


def test_exhausted_retries_and_missing_endpoints_say_what_to_do(config):
    throttled = _wrapped(
        RetryBudgetExhausted("GitHub GET /repos/acme/api/pulls: gave up after 6 attempts, last status 429")
    )
    line = explain_step_error("load_github", throttled, config)
    assert "gave up after 6 attempts" in line and "rate limit" in line
    missing = _wrapped(ApiError("GitHub GET /repos/acme/gone: failed with status 404 Not Found", status=404))
    line = explain_step_error("load_github", missing, config)
    assert "endpoint missing (404)" in line and "/repos/acme/gone" in line and "base_url" in line


def test_an_unknown_error_shows_its_innermost_cause(config):
    line = explain_step_error("load_github", _wrapped(KeyError("merge_commit_sha")), config)
    assert line == "github: KeyError: 'merge_commit_sha'"


def test_dbt_failures_name_the_failing_models_and_tests(tmp_path):
    results = [
        {"unique_id": "model.deploylens.fct_deployments", "status": "error", "message": "Binder Error: x"},
        {
            "unique_id": "test.deploylens.unique_fct_changes_change_id.1a2b",
            "status": "fail",
            "message": "Got 2",
        },
        {"unique_id": "model.deploylens.dim_teams", "status": "success", "message": "OK"},
    ]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}))
    assert dbt_failures(tmp_path) == [
        "dbt model fct_deployments error: Binder Error: x",
        "dbt test unique_fct_changes_change_id fail: Got 2",
    ]
    assert dbt_failures(tmp_path / "absent") == []


def _health_db(path, run_id):
    con = duckdb.connect(str(path))
    con.execute("create schema meta")
    con.execute(
        "create table meta.check_results (run_id varchar, checked_at timestamp, check_name varchar, "
        "severity varchar, passed boolean, details varchar)"
    )
    con.execute(
        "create table meta.source_loads (run_id varchar, source varchar, started_at timestamp, "
        "finished_at timestamp, status varchar, error varchar, rows_loaded bigint)"
    )
    rows = [
        (run_id, "deploys_fresh", "warn", False, "newest deployment is 9 days old"),
        (run_id, "keys_unique", "error", False, "2 duplicate change ids"),
        (run_id, "row_counts", "warn", True, ""),
        ("an-older-run", "old_check", "warn", False, "from before"),
    ]
    con.executemany("insert into meta.check_results values (?, now(), ?, ?, ?, ?)", rows)
    con.executemany(
        "insert into meta.source_loads values (?, ?, now(), now(), ?, ?, ?)",
        [
            (run_id, "pagerduty", "failed", "the token was rejected (401)", 0),
            (run_id, "github", "ok", None, 10),
        ],
    )
    con.close()


def test_the_runs_warnings_blocking_checks_and_stale_sources_are_reported(tmp_path):
    database = tmp_path / "build.duckdb"
    _health_db(database, "run-1")
    health = read_health([tmp_path / "missing.duckdb", database], "run-1")
    report = RefreshReport(run_id="run-1")
    add_health(report, health)
    assert report.warnings == ["check deploys_fresh warned: newest deployment is 9 days old"]
    assert report.failures == ["check keys_unique failed: 2 duplicate change ids"]
    assert report.stale == [
        "pagerduty did not load this time (the token was rejected (401)); the warehouse keeps its previous "
        "data for it — the token was rejected: check the configured token"
    ]
    assert report.exit_code == EXIT_FAILED
    # with the configuration at hand, the advice names where the token comes from (never the token)
    config = tmp_path / "org.yml"
    config.write_text("sources:\n  pagerduty:\n    token_env: PAGERDUTY_TOKEN\n")
    advised = RefreshReport(run_id="run-1")
    add_health(advised, health, config)
    assert advised.stale[0].endswith("— the token was rejected: check PAGERDUTY_TOKEN")
    lines = report.lines()
    assert lines[0].startswith("refresh failed (run run-1)")
    assert any(line.startswith("stale: pagerduty") for line in lines)


def test_stale_sources_alone_exit_3_and_absent_tables_are_tolerated(tmp_path):
    report = RefreshReport(run_id="r", stale=["github did not load"])
    assert report.exit_code == EXIT_STALE
    assert RefreshReport(run_id="r", warnings=["w"]).exit_code == EXIT_OK
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()
    assert read_health([bare], "r") == ([], [])
    assert read_health([tmp_path / "none.duckdb"], "r") is None
    add_health(report, None)
    assert report.exit_code == EXIT_STALE


def test_tracebacks_only_when_asked():
    report = RefreshReport(run_id="r", failures=["github: x"], tracebacks=["--- load_github\nTraceback ..."])
    assert not any("Traceback" in line for line in report.lines())
    assert any("Traceback" in line for line in report.lines(verbose=True))


def test_the_summary_stays_last_when_tracebacks_are_shown():
    report = RefreshReport(run_id="r", failures=["github: x"], tracebacks=["--- load_github\nTraceback ..."])
    assert report.lines(verbose=True)[-1] == "  - github: x"


def test_a_dbt_step_failure_keeps_dbt_s_own_reason(config):
    error = _wrapped(RuntimeError("The dbt CLI process with command `dbt build` failed with exit code 2"))
    line = explain_step_error("transform", error, config)
    assert line.startswith("transform: dbt build failed (The dbt CLI process") and "exit code 2" in line


def test_a_warning_dbt_test_is_reported_once_with_its_failing_rows():
    """A dbt data test that warns reaches the report twice (its asset check evaluation and the run's health
    row): one line, named as the health names it, with the failing row count, not dagster-dbt's metadata."""
    from types import SimpleNamespace

    from dagster import AssetCheckSeverity, MetadataValue

    def evaluation(name, severity, **metadata):
        values = {
            key: MetadataValue.text(v) if isinstance(v, str) else MetadataValue.int(v)
            for key, v in metadata.items()
        }
        return SimpleNamespace(passed=False, check_name=name, severity=severity, metadata=values)

    report = RefreshReport(run_id="r1")
    add_check_evaluations(
        report,
        [
            evaluation(
                "files_agree",
                AssetCheckSeverity.WARN,
                unique_id="test.deploylens.files_agree",
                **{"dagster_dbt/failed_row_count": 1, "Execution Duration": 0},
            ),
            evaluation("gx_fct_deployments", AssetCheckSeverity.ERROR, result="2 expectations failed"),
            SimpleNamespace(passed=True, check_name="fine", severity=AssetCheckSeverity.ERROR, metadata={}),
        ],
    )
    add_health(report, ([("dbt test files_agree", "warn", "Got 1 result, configured to warn if != 0")], []))
    assert report.warnings == ["check dbt test files_agree warned: 1 failing row"]
    assert report.failures == ["check gx_fct_deployments failed: 2 expectations failed"]


def test_a_failed_not_null_test_is_reported_once_with_its_null_columns():
    report = RefreshReport(run_id="r1")
    name = "not_null_columns_fct_changes_change_id__service"
    report.failures.append(f"check dbt test {name} failed: 3 failing rows")  # Dagster's evaluation
    add_health(
        report,
        ([(f"dbt test {name}", "error", "fail: fct_changes.service null in 3 rows")], []),
    )
    assert report.failures == [f"check dbt test {name} failed: fct_changes.service null in 3 rows"]
