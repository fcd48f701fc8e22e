"""Asset checks: the Great Expectations suites of data_tests/ run against the build before publishing."""

from __future__ import annotations

import dagster as dg

from orchestration.workdir import Workdir


def build_checks(workdir: Workdir, mart_keys: list[dg.AssetKey]) -> list:
    """A blocking GX check on fct_deployments: a failing suite stops the publish of a bad build."""
    fct_deployments = next((key for key in mart_keys if key.path[-1] == "fct_deployments"), None)
    if fct_deployments is None:
        return []

    @dg.asset_check(
        asset=fct_deployments,
        name="gx_fct_deployments",
        blocking=True,
        description="Great Expectations suite data_tests/fct_deployments.py (business-level expectations).",
    )
    def gx_fct_deployments() -> dg.AssetCheckResult:
        from data_tests.fct_deployments import validate_warehouse

        summary = validate_warehouse(workdir.build_db)
        return dg.AssetCheckResult(
            passed=bool(summary.success),
            metadata={
                **{k: v for k, v in summary.statistics.items() if isinstance(v, int | float)},
                "result": summary.describe(),
            },
        )

    return [gx_fct_deployments]
