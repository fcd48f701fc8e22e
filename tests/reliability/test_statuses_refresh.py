"""End to end: an org a new team configures first publishes, with its situation shown as warnings.

Its deployments reach staging only (the production pattern matches no environment name yet), its pull
requests have no deploy rule to ship them, so no successful production deployment exists. Before the
checks had severities, the suite's "mean of is_failure over successful production deployments" observed
None and nothing was published. Now the refresh publishes, and `meta.check_results` in the published
warehouse says what warned, next to every error-severity check passing, and every page of the app says what
to check rather than "widen the date range".
"""

from __future__ import annotations

import os

import duckdb
import pytest
from app_navigation import NEED_PRODUCTION, NO_PRODUCTION, PAGES, messages, open_page
from orgs import build_org

from app import queries

NO_PRODUCTION_NAME = "^no-environment-is-named-like-this$"


@pytest.fixture(scope="module")
def staging_only_org(tmp_path_factory):
    saved = {
        key: os.environ.get(key)
        for key in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB")
    }

    def production_matches_nothing(org: dict) -> dict:
        for environment in org["environments"]:
            if environment.get("production"):
                environment["match"] = NO_PRODUCTION_NAME
        assert not any(service.get("deployments") for service in org["services"])  # no deploy rule
        return org

    built = None
    try:
        built = build_org(
            tmp_path_factory.mktemp("staging-only-org"),
            "tiny",
            seed=11,
            edit_config=production_matches_nothing,
        )
        yield built.workdir, built.refresh
    finally:
        if built is not None:
            built.emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _query(workdir, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(workdir.warehouse), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def test_the_refresh_publishes_without_a_production_deployment(staging_only_org) -> None:
    workdir, refresh = staging_only_org
    published = _query(workdir, "select run_id from meta.refreshes")
    assert (refresh["run_id"],) in published
    counts = _query(
        workdir,
        "select count(*), count(*) filter (where is_production), "
        "count(*) filter (where environment = 'staging' and status = 'success') from marts.fct_deployments",
    )[0]
    total, production, staging_successes = counts
    assert total > 0 and staging_successes > 0
    assert production == 0
    # The error checks passed; the warnings check is the one that did not.
    assert refresh["checks"]["gx_fct_deployments"] is True
    assert refresh["checks"]["gx_fct_deployments_warnings"] is False


def test_the_warnings_are_in_meta_check_results(staging_only_org) -> None:
    workdir, refresh = staging_only_org
    rows = _query(
        workdir,
        "select check_name, severity, passed, details from meta.check_results where run_id = ?",
        [refresh["run_id"]],
    )
    failed_warnings = {name for name, severity, passed, _ in rows if severity == "warn" and not passed}
    assert {
        "gx fct_deployments: there is at least one successful production deployment (none yet: deployment "
        "frequency, lead time and change failure rate stay empty)",
        "gx fct_deployments: every deployment's environment matches a deploy rule or environment pattern (an "
        "unmatched name is kept as it is and is never production)",
    } <= failed_warnings
    unmatched = next(details for name, _, _, details in rows if "environment matches" in name)
    assert "prod" in unmatched  # names the environments no rule matched
    failed_errors = [name for name, severity, passed, _ in rows if severity == "error" and not passed]
    assert failed_errors == []
    # dbt's data tests are recorded beside the Great Expectations expectations; its unit tests prove the
    # SQL, not the data, and run in the test suite (tests/test_dbt_unit_tests.py), not in a refresh.
    dbt_rows = [row for row in rows if row[0].startswith("dbt ")]
    assert len(dbt_rows) > 75, len(dbt_rows)  # one a data test: a model's column checks are one test
    assert not any(name.startswith("dbt unit_test") for name, *_ in dbt_rows)
    assert all(severity in ("error", "warn") for _, severity, _, _ in rows)


@pytest.mark.parametrize("page", PAGES)
def test_every_app_page_explains_itself(staging_only_org, monkeypatch, page) -> None:
    workdir, _ = staging_only_org
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(workdir.warehouse))
    deployments, production = _query(
        workdir, "select count(*), count(*) filter (where is_production) from marts.fct_deployments"
    )[0]
    assert deployments > 0 and production == 0
    app_test = open_page(page, {})
    shown = messages(app_test)
    if page in NEED_PRODUCTION:
        assert any(message.startswith(NO_PRODUCTION) for message in shown), shown
        assert not any("Widen the date range" in message for message in shown), shown
    else:
        # These show what was loaded (deployments to staging, the refresh's checks) or what to do next.
        assert not any(message.startswith(NO_PRODUCTION) for message in shown), shown
        assert app_test.dataframe.len > 0 or shown, page
