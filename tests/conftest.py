"""Shared fixtures: a tiny simulated org built once through the whole stack."""

from __future__ import annotations

import os

import pytest
from orgs import BuiltOrg, add_benchmarks, add_dimensions, build_org
from shared_data import pytest_runtest_makereport  # noqa: F401 - CI fails tests whose shared data is missing


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project once, before any test process starts: `make test` runs two pytest workers,
    and two parses writing the project's target folder at once would spoil its manifest."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller has parsed already
        return
    from orchestration.assets import ensure_dbt_manifest
    from orchestration.workdir import DBT_PROJECT_DIR

    ensure_dbt_manifest(DBT_PROJECT_DIR / "target")


# The tiny org's API tokens: recognisable, so tests/reliability/test_secrets.py can search every log line,
# table and file the refresh wrote for them.
TINY_GITHUB_TOKEN = "ghp_tinyOrgSecretToken_0f3c9a71d2"
TINY_PAGERDUTY_TOKEN = "pd_tinyOrgSecretToken_7e21b4c8a5"


@pytest.fixture(scope="session")
def tiny_org(tmp_path_factory) -> BuiltOrg:
    saved = {
        k: os.environ.get(k)
        for k in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB")
    }
    built = build_org(
        tmp_path_factory.mktemp("tiny-org"),
        "tiny",
        seed=11,
        github_token=TINY_GITHUB_TOKEN,
        pagerduty_token=TINY_PAGERDUTY_TOKEN,
        # the simulator writes no departments or labels yet; DORA's Quick Check files when present
        edit_config=lambda org: add_benchmarks(add_dimensions(org)),
    )
    yield built
    built.emulator.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
