"""Asset checks: the Great Expectations suites of data_tests/ run against the build before publishing.

The fct_deployments suite reports as two checks: `gx_fct_deployments` (its 'error' expectations; blocking,
so a failure stops the publish of a bad build) and `gx_fct_deployments_warnings` (its 'warn' expectations;
severity WARN, shown and never blocking). Every expectation's outcome also goes to `meta.check_results`.
"""

from __future__ import annotations

import logging

import dagster as dg

from orchestration.workdir import Workdir

log = logging.getLogger("deploylens")

ERRORS_CHECK = "gx_fct_deployments"
WARNINGS_CHECK = "gx_fct_deployments_warnings"


def build_checks(workdir: Workdir, mart_keys: list[dg.AssetKey]) -> list:
    """The GX checks on fct_deployments: blocking for its errors, a WARN-severity check for its warnings."""
    fct_deployments = next((key for key in mart_keys if key.path[-1] == "fct_deployments"), None)
    if fct_deployments is None:
        return []

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                ERRORS_CHECK,
                asset=fct_deployments,
                blocking=True,
                description="Great Expectations suite data_tests/fct_deployments.py: what would make the "
                "marts wrong (blocks the publish).",
            ),
            dg.AssetCheckSpec(
                WARNINGS_CHECK,
                asset=fct_deployments,
                description="Great Expectations suite data_tests/fct_deployments.py: what ordinary data "
                "shows (no production deployment yet, undocumented status words...); never blocks.",
            ),
        ],
    )
    def gx_fct_deployments(context):  # an AssetCheckExecutionContext (Dagster reads no string annotation)
        from data_tests.check_results import write_check_results
        from data_tests.fct_deployments import validate_warehouse

        summary = validate_warehouse(workdir.build_db)
        write_check_results(workdir.build_db, context.run.run_id, summary.results)
        statistics = {k: v for k, v in summary.statistics.items() if isinstance(v, int | float)}
        for failure in summary.warnings:
            log.warning("check warning: %s", failure)
        errors = "\n".join(str(failure) for failure in summary.errors)
        warnings = "\n".join(str(failure) for failure in summary.warnings)
        yield dg.AssetCheckResult(
            check_name=ERRORS_CHECK,
            asset_key=fct_deployments,
            passed=not summary.errors,
            metadata={**statistics, "result": errors or "no errors"},
        )
        yield dg.AssetCheckResult(
            check_name=WARNINGS_CHECK,
            asset_key=fct_deployments,
            passed=not summary.warnings,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"result": warnings or "no warnings"},
        )

    return [gx_fct_deployments]


def record_dbt_checks(workdir: Workdir, run_id: str, started: float) -> None:
    """Write the dbt build's test results to meta.check_results, whether the build passed or not.

    Only a run_results.json written since `started` (epoch seconds) belongs to this build: an older one is
    a previous refresh's and is left out. A failure to record is logged, never raised: it must not hide
    the build's own outcome.
    """
    from data_tests.check_results import dbt_check_results, write_check_results

    run_results = workdir.dbt_target / "run_results.json"
    try:
        if not run_results.exists() or run_results.stat().st_mtime < started:
            log.warning("dbt wrote no test results for this refresh: none recorded in meta.check_results")
            return
        results = dbt_check_results(workdir.dbt_target, workdir.build_db)
        write_check_results(workdir.build_db, run_id, results)
        warned = [result for result in results if not result.passed and result.severity == "warn"]
        if warned:
            log.warning("dbt tests that warn: %s", ", ".join(result.check_name for result in warned))
    except Exception as error:  # noqa: BLE001 - recording is best effort, the build's result stands
        log.warning("could not record dbt test results in meta.check_results: %s", error)
