"""Tests that read ../shared/data skip without it, so a clone without the data still passes. CI must not
pass that way: `.ci/run` sets DEPLOYLENS_REQUIRE_SHARED_DATA=1, and then such a skip is a failure.

A skip counts as "shared data missing" by its reason (every such skip says so: "shared data", "shared test
data", "shared git histories", "data README"); other skips in those files (e.g. "no recorded response for
X") stay skips. Loaded by tests/conftest.py.
"""

from __future__ import annotations

import os
import re

import pytest

REQUIRE_ENV = "DEPLOYLENS_REQUIRE_SHARED_DATA"
MISSING_SHARED_DATA = re.compile(r"shared (test |git )?(data|histories)|data README", re.IGNORECASE)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get(REQUIRE_ENV) != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if MISSING_SHARED_DATA.search(reason):
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_ENV}=1 and the shared data this test needs is missing: {reason}"
