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


# The modules that take longest, longest first (a full run's `--durations`, summed per module). `make test`
# hands whole modules to its two workers in collection order (`--dist loadscope --no-loadscope-reorder`):
# started first, the long ones leave the many short modules to fill in at the end, so the two workers
# finish together instead of one running a long module alone. Modules not listed keep their order after.
LONGEST_FIRST = (
    "test_incremental_equals_full.py",
    "test_kills_publish.py",
    "test_deploy_rules_mixed.py",
    "test_faults.py",
    "test_kills.py",
    "test_refresh_skip.py",
    "test_git_local_real.py",
    "test_data_tests_fct_deployments.py",
    "test_ingestion_emulator.py",
    "test_secrets.py",
    "test_lead_time_release_line_real.py",
    "test_github_graphql.py",
    "test_end_to_end.py",
    "test_app_browser.py",
    "test_statuses_refresh.py",
    "test_branch_push_hosted.py",
    "test_github_files_where_used.py",
    "test_github_arrow.py",
    "test_dbt_warm.py",
    "test_dbt_unit_tests.py",
    "test_app_pages_real.py",
    "test_quickstart.py",
    "test_app_pages.py",
    "test_monorepo_paths.py",
    "test_dbt_step.py",
    "test_column_values_tests.py",
    "test_not_null_columns.py",
    "test_github_complete_incremental.py",
    "test_deploy_rules.py",
    "test_quarantine.py",
    "test_deploy_rules_fork_runs.py",
    "test_gitlab_commit_files.py",
    "test_attribution_summary.py",
    "test_app_benchmarks.py",
    "test_app_every_page.py",
    "test_optional_source.py",
    "test_github_complete_emulator.py",
    "test_rewritten_branches.py",
    "test_app_period_figures.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's tests keep order


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
