"""The fct_deployments expectation suite: a plausible mart passes, each kind of bad row fails readably, and
what ordinary data shows (no rows or no production deployment yet, unmatched environments, undocumented
status words, a very long restore) warns without blocking."""

from __future__ import annotations

import datetime as dt

import duckdb
import great_expectations as gx
import pandas as pd
import pytest
from great_expectations.expectations.row_conditions import Column

from data_tests.fct_deployments import (
    REQUIRED_COLUMNS,
    ValidationSummary,
    build_suite,
    load_fct_deployments,
    suite_columns,
    validate_fct_deployments,
    validate_warehouse,
)

NOW = dt.datetime(2026, 6, 1, 12, 0)


def _row(**overrides: object) -> dict[str, object]:
    """A successful production deployment that did not fail; tests override what they need."""
    row: dict[str, object] = {
        "deployment_id": "github:1",
        "source_system": "github",
        "source_deployment_id": "1",
        "service": "checkout-api",
        "team": "payments",
        "repository": "acme/checkout-api",
        "environment": "production",
        "source_environment": "prod",
        "environment_rank": 1,
        "is_production": True,
        "commit_sha": "a" * 40,
        "created_at": dt.datetime(2026, 5, 1, 9, 0),
        "deployed_at": dt.datetime(2026, 5, 1, 9, 5),
        "status": "success",
        "source_status": "success",
        "is_baseline": False,
        "is_rollback": False,
        "is_failure": False,
        "has_incident_failure": False,
        "has_rollback_failure": False,
        "recovered_at": None,
        "time_to_restore_minutes": None,
        "commit_count": 3,
        "pr_count": 1,
        "has_revert_failure": False,
        "has_hotfix_failure": False,
        "has_alert_failure": False,
        "time_to_detect_minutes": None,
        "recovery_kind": None,
        "is_recovered": None,
        "is_rework": False,
        "batch_pr_count": 1,
        "batch_author_count": 1,
        "batch_lines_changed": 40,
        "batch_size_class": "Small",
        "pipeline_duration_minutes": 6.0,
    }
    row.update(overrides)
    return row


def _good_rows() -> list[dict[str, object]]:
    return [
        _row(is_baseline=True, commit_count=120, pr_count=0),
        _row(
            deployment_id="github:2",
            source_deployment_id="2",
            deployed_at=dt.datetime(2026, 5, 2, 10, 0),
            is_failure=True,
            has_incident_failure=True,
            has_revert_failure=True,
            recovered_at=dt.datetime(2026, 5, 2, 11, 30),
            time_to_restore_minutes=90.0,
            time_to_detect_minutes=20.0,
            recovery_kind="fix_deployment",
            is_recovered=True,
            batch_lines_changed=1200,
            batch_size_class="Gigantic",
        ),
        _row(
            deployment_id="github:6",
            source_deployment_id="6",
            deployed_at=dt.datetime(2026, 5, 2, 11, 30),
            is_rework=True,
            batch_lines_changed=None,
            batch_size_class=None,
            pipeline_duration_minutes=None,
        ),
        _row(
            deployment_id="github:3",
            source_deployment_id="3",
            environment="staging",
            source_environment="stg",
            environment_rank=0,
            is_production=False,
            deployed_at=dt.datetime(2026, 5, 3, 8, 0),
        ),
        _row(
            deployment_id="github:4",
            source_deployment_id="4",
            status="failure",
            source_status="ERROR",
            deployed_at=dt.datetime(2026, 5, 4, 8, 0),
            commit_count=0,
            pr_count=0,
        ),
        _row(
            deployment_id="github:5",
            source_deployment_id="5",
            status="in_progress",
            source_status=None,
            deployed_at=None,
            commit_count=0,
            pr_count=0,
        ),
    ]


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("created_at", "deployed_at", "recovered_at"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("time_to_restore_minutes", "time_to_detect_minutes", "pipeline_duration_minutes"):
        frame[column] = frame[column].astype("float64")
    return frame


def _with_bad_row(**overrides: object) -> pd.DataFrame:
    bad = _row(deployment_id="github:99", source_deployment_id="99", **overrides)
    return _frame([*_good_rows(), bad])


def _failed_descriptions(summary: ValidationSummary) -> list[str]:
    return [failure.description for failure in summary.failed]


def test_suite_is_built_in_code_with_business_rules() -> None:
    suite = build_suite(now=NOW)
    assert suite.name == "fct_deployments"
    assert len(suite.expectations) >= 12


def test_good_frame_passes() -> None:
    summary = validate_fct_deployments(_frame(_good_rows()), now=NOW)
    assert summary.failed == []
    assert summary.success is True
    assert summary.statistics["unsuccessful_expectations"] == 0
    assert summary.statistics["evaluated_expectations"] >= 12
    assert "passed" in summary.describe()


BAD_ROWS = {
    "non-canonical status": ({"status": "exploded"}, "status is a canonical deployment status", "exploded"),
    "source word as status": ({"status": "error"}, "status is a canonical deployment status", "error"),
    "failure on a staging deployment": (
        {
            "is_production": False,
            "environment": "staging",
            "environment_rank": 0,
            "is_failure": True,
            "recovered_at": dt.datetime(2026, 5, 1, 10, 0),
            "time_to_restore_minutes": 55.0,
        },
        "only successful production deployments can be change failures",
        "1 of",
    ),
    "failure on a failed rollout": (
        {
            "status": "failure",
            "is_failure": True,
            "recovered_at": dt.datetime(2026, 5, 1, 10, 0),
            "time_to_restore_minutes": 55.0,
        },
        "only successful production deployments can be change failures",
        "True",
    ),
    "incident blamed but not a failure": (
        {"has_incident_failure": True},
        "a production deployment blamed for an incident is a change failure",
        "False",
    ),
    "rollback but not a failure": (
        {"has_rollback_failure": True},
        "a production deployment undone by a rollback is a change failure",
        "False",
    ),
    "recovered before deployed": (
        {
            "is_failure": True,
            "has_incident_failure": True,
            "recovered_at": dt.datetime(2026, 5, 1, 9, 0),
            "time_to_restore_minutes": 5.0,
        },
        "recovery happens at or after the deployment",
        "1 of",
    ),
    "negative time to restore": (
        {
            "is_failure": True,
            "has_incident_failure": True,
            "recovered_at": dt.datetime(2026, 5, 1, 10, 0),
            "time_to_restore_minutes": -5.0,
        },
        "time to restore is not negative",
        "-5.0",
    ),
    "time to restore without a failure": (
        {"time_to_restore_minutes": 30.0},
        "only failed deployments have a time to restore",
        "30.0",
    ),
    "deployed in the future": (
        {"deployed_at": dt.datetime(2026, 7, 1)},
        "deployed_at is not before 2000 and not in the future",
        "2026-07-01",
    ),
    "deployed before 2000": (
        {"deployed_at": dt.datetime(1970, 1, 1)},
        "deployed_at is not before 2000 and not in the future",
        "1970-01-01",
    ),
    "negative commit count": ({"commit_count": -1}, "commit_count is not negative", "-1"),
    "negative pr count": ({"pr_count": -2}, "pr_count is not negative", "-2"),
    "negative environment rank": ({"environment_rank": -1}, "environment_rank is not negative", "-1"),
    "baseline that did not succeed": (
        {"status": "failure", "is_baseline": True},
        "a baseline deployment is a successful one",
        "failure",
    ),
    "revert but not a failure": (
        {"has_revert_failure": True},
        "a production deployment failed by a revert of a change it shipped is a change failure",
        "False",
    ),
    "hotfix but not a failure": (
        {"has_hotfix_failure": True},
        "a production deployment failed by a hotfix is a change failure",
        "False",
    ),
    "alert but not a failure": (
        {"has_alert_failure": True},
        "a production deployment failed by a monitoring alert is a change failure",
        "False",
    ),
    "rework on a staging deployment": (
        {"is_production": False, "environment": "staging", "environment_rank": 0, "is_rework": True},
        "only successful production deployments can be rework",
        "True",
    ),
    "unknown recovery kind": (
        {
            "is_failure": True,
            "has_incident_failure": True,
            "recovered_at": dt.datetime(2026, 5, 1, 10, 0),
            "time_to_restore_minutes": 55.0,
            "recovery_kind": "prayer",
            "is_recovered": True,
        },
        "recovery_kind is incident_resolved, rollback or fix_deployment",
        "prayer",
    ),
    "recovery kind without a failure": (
        {"recovery_kind": "rollback"},
        "only failed deployments have a recovery kind",
        "rollback",
    ),
    "recovered flag without a failure": (
        {"is_recovered": False},
        "only failed deployments have a recovered flag",
        "False",
    ),
    "time to detect without a failure": (
        {"time_to_detect_minutes": 12.0},
        "only failed deployments have a time to detect",
        "12.0",
    ),
    "negative time to detect": (
        {
            "is_failure": True,
            "has_alert_failure": True,
            "time_to_detect_minutes": -3.0,
            "is_recovered": False,
        },
        "time_to_detect_minutes is not negative",
        "-3.0",
    ),
    "unknown batch size class": (
        {"batch_size_class": "Enormous"},
        "batch_size_class is a class of the batch_size_classes seed",
        "Enormous",
    ),
    "negative batch lines": ({"batch_lines_changed": -10}, "batch_lines_changed is not negative", "-10"),
    "negative batch authors": ({"batch_author_count": -1}, "batch_author_count is not negative", "-1"),
    "negative batch pull requests": ({"batch_pr_count": -1}, "batch_pr_count is not negative", "-1"),
    "negative pipeline duration": (
        {"pipeline_duration_minutes": -2.0},
        "pipeline_duration_minutes is not negative",
        "-2.0",
    ),
    "duplicated deployment": (
        {"deployment_id": "github:2"},
        "each deployment appears once (a duplicated row would double every count)",
        "github:2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_each_kind_of_bad_row_fails_with_a_readable_description(case: str) -> None:
    overrides, description, detail = BAD_ROWS[case]
    if case == "duplicated deployment":
        frame = _frame([*_good_rows(), _row(source_deployment_id="99", deployment_id="github:2")])
    else:
        frame = _with_bad_row(**overrides)
    summary = validate_fct_deployments(frame, now=NOW)
    assert summary.success is False
    assert description in _failed_descriptions(summary)
    failure = next(item for item in summary.failed if item.description == description)
    assert detail in failure.details, failure.details
    assert failure.severity == "error"
    assert f"error: {description}" in summary.describe()
    # The bad row breaks its own rule, not unrelated ones.
    assert len(summary.failed) == 1, summary.describe()


WARNINGS = "there is at least one successful production deployment"


def _staging_only_rows() -> list[dict[str, object]]:
    """A team's first days: deployments reach staging, none reached production yet."""
    return [
        _row(
            deployment_id=f"github:{number}",
            source_deployment_id=str(number),
            environment="staging",
            source_environment="stg",
            environment_rank=0,
            is_production=False,
            is_baseline=number == 1,
            deployed_at=dt.datetime(2026, 5, number, 8, 0),
        )
        for number in (1, 2, 3)
    ]


WARN_CASES = {
    "empty mart": (
        [],
        {
            "fct_deployments has at least one row",
            "there is at least one successful production deployment",
        },
        "observed 0",
    ),
    "no production deployment yet": (
        _staging_only_rows(),
        {"there is at least one successful production deployment"},
        "observed 0",
    ),
    "only failed rollouts in production": (
        [_row(status="failure", source_status="failure")],
        {"there is at least one successful production deployment"},
        "observed 0",
    ),
    "environment no rule matched": (
        [
            *_good_rows(),
            _row(
                deployment_id="github:98",
                environment="preview-42",
                source_environment="preview-42",
                environment_rank=None,
                is_production=False,
            ),
        ],
        {"every deployment's environment matches a deploy rule or environment pattern"},
        "preview-42",
    ),
    "undocumented GitHub word": (
        [*_good_rows(), _row(deployment_id="github:98", status="other", source_status="Exploded")],
        {"source_status is one of the documented GitHub deployment statuses"},
        "exploded",
    ),
    "undocumented Jenkins result": (
        [
            *_good_rows(),
            _row(
                deployment_id="jenkins:a/production:deploy#7",
                source_system="jenkins",
                status="other",
                source_status="HALF_BUILT",
            ),
        ],
        {"source_status is one of the documented Jenkins build results"},
        "half_built",
    ),
    "time to restore beyond 90 days": (
        [
            *_good_rows(),
            _row(
                deployment_id="github:98",
                is_failure=True,
                has_incident_failure=True,
                recovered_at=dt.datetime(2026, 9, 1),
                time_to_restore_minutes=200_000.0,
            ),
        ],
        {"time to restore is at most 90 days"},
        "200000.0",
    ),
    "deploy pipeline beyond a day": (
        [*_good_rows(), _row(deployment_id="github:98", pipeline_duration_minutes=3000.0)],
        {"a deploy pipeline takes at most a day"},
        "3000.0",
    ),
}


@pytest.mark.parametrize("case", sorted(WARN_CASES))
def test_ordinary_data_warns_without_blocking(case: str) -> None:
    rows, expected, detail = WARN_CASES[case]
    frame = _frame(rows) if rows else _frame(_good_rows()).iloc[0:0]
    summary = validate_fct_deployments(frame, now=NOW)
    assert summary.success is True, summary.describe()
    assert summary.errors == []
    warned = {failure.description.split(" (")[0] for failure in summary.warnings}
    assert warned == expected, summary.describe()
    assert any(detail in failure.details for failure in summary.warnings), summary.describe()
    assert all(f"warn: {failure}" in summary.describe() for failure in summary.warnings)


def test_documented_words_in_any_case_do_not_warn() -> None:
    rows = [
        *_good_rows(),
        _row(deployment_id="gitlab:7", source_system="gitlab", status="cancelled", source_status="Canceled"),
        _row(
            deployment_id="gitlab:8",
            source_system="gitlab",
            status="in_progress",
            source_status="BLOCKED",
            deployed_at=None,
        ),
        _row(
            deployment_id="github_actions:a/production:9",
            source_system="github_actions",
            status="failure",
            source_status="TIMED_OUT",
        ),
        _row(
            deployment_id="jenkins:a/production:deploy#3",
            source_system="jenkins",
            status="cancelled",
            source_status="NOT_BUILT",
        ),
        _row(deployment_id="git_tag:a/production:a@v1", source_system="git_tag", source_status=None),
    ]
    summary = validate_fct_deployments(_frame(rows), now=NOW)
    assert summary.failed == [], summary.describe()


def test_warnings_and_errors_are_told_apart() -> None:
    frame = _frame(
        [
            *_good_rows(),
            _row(deployment_id="github:98", status="other", source_status="exploded", commit_count=-1),
        ]
    )
    summary = validate_fct_deployments(frame, now=NOW)
    assert summary.success is False
    assert [failure.description for failure in summary.errors] == ["commit_count is not negative"]
    assert len(summary.warnings) == 1 and "GitHub deployment statuses" in summary.warnings[0].description


def test_every_expectation_outcome_is_a_check_result() -> None:
    suite = build_suite(now=NOW)
    summary = validate_fct_deployments(_frame(_staging_only_rows()), now=NOW)
    assert len(summary.results) == len(suite.expectations)
    assert len({result.check_name for result in summary.results}) == len(summary.results)
    by_name = {result.check_name: result for result in summary.results}
    production = by_name[
        f"gx fct_deployments: {WARNINGS} (none yet: deployment frequency, lead time and change "
        "failure rate stay empty)"
    ]
    assert (production.severity, production.passed) == ("warn", False)
    unique = by_name[
        "gx fct_deployments: each deployment appears once (a duplicated row would double every count)"
    ]
    assert (unique.severity, unique.passed, unique.details) == ("error", True, "passed")
    assert {result.severity for result in summary.results} == {"error", "warn"}


def test_missing_contract_column_is_named() -> None:
    frame = _frame(_good_rows()).drop(columns=["pr_count"])
    summary = validate_fct_deployments(frame, now=NOW)
    assert summary.success is False
    contract = next(item for item in summary.failed if "columns the contract" in item.description)
    assert contract.expectation_type == "expect_table_columns_to_match_set"
    assert contract.details == "missing columns ['pr_count']"


def test_validate_warehouse_reads_the_mart(tmp_path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    frame = _frame(_good_rows())
    connection = duckdb.connect(str(warehouse))
    connection.execute("create schema marts")
    connection.register("good", frame)
    connection.execute("create table marts.fct_deployments as select * from good")
    connection.execute("update marts.fct_deployments set commit_count = -4 where deployment_id = 'github:1'")
    connection.close()
    summary = validate_warehouse(warehouse, now=NOW)
    assert _failed_descriptions(summary) == ["commit_count is not negative"]


@pytest.mark.parametrize(
    ("deployed_at", "shown"),
    [(dt.datetime(2300, 1, 1), "2300-01-01"), (dt.datetime(1500, 6, 1), "1500-06-01")],
)
def test_times_beyond_nanoseconds_fail_the_range_check_readably(deployed_at, shown) -> None:
    # Times validate as nanoseconds where every value fits; these do not, and must still be judged.
    frame = _with_bad_row()
    frame["deployed_at"] = frame["deployed_at"].astype("datetime64[us]")
    frame.loc[frame["deployment_id"] == "github:99", "deployed_at"] = pd.Timestamp(deployed_at).as_unit("us")
    assert frame["deployed_at"].dtype == "datetime64[us]"
    summary = validate_fct_deployments(frame, now=NOW)
    assert _failed_descriptions(summary) == ["deployed_at is not before 2000 and not in the future"]
    assert shown in summary.failed[0].details, summary.failed[0].details
    assert summary.success is False


def test_suite_columns_include_row_condition_columns() -> None:
    gx_context = gx.get_context(mode="ephemeral")
    suite = gx_context.suites.add(gx.ExpectationSuite(name="columns"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=["success"],
            row_condition=(Column("is_baseline") == True) | Column("recovered_at").is_null(),  # noqa: E712
        )
    )
    expectations = gx.expectations
    suite.add_expectation(expectations.ExpectTableColumnsToMatchSet(column_set=["team"], exact_match=False))
    suite.add_expectation(
        expectations.ExpectColumnPairValuesAToBeGreaterThanB(column_A="recovered_at", column_B="created_at")
    )
    assert suite_columns(suite) == {"status", "is_baseline", "recovered_at", "team", "created_at"}


def test_the_whole_suite_reads_the_contract_and_source_environment() -> None:
    assert suite_columns(build_suite(now=NOW)) == {
        *REQUIRED_COLUMNS,
        "source_environment",
        "source_status_key",
    }


def test_validate_warehouse_reads_only_the_suites_columns(tmp_path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    connection = duckdb.connect(str(warehouse))
    connection.execute("create schema marts")
    connection.register("good", _frame(_good_rows()))
    connection.execute(
        "create table marts.fct_deployments as select *, ['incident'] as failure_signals, "
        "'someone' as deployed_by from good"
    )
    connection.close()
    columns = suite_columns(build_suite(now=NOW))
    loaded = load_fct_deployments(warehouse, columns)
    assert set(loaded.columns) == columns - {"source_status_key"}
    assert validate_warehouse(warehouse, now=NOW).failed == []
