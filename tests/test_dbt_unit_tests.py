"""Every dbt unit test of the project (`unit_tests:` in the models' YAML), run once per test suite.

A refresh runs dbt's data tests, which guard the data it loaded; the unit tests prove each formula on
hand-written rows whatever the data, so they belong here rather than in every refresh. dbt needs the
models' input relations to exist to type the given rows: they are run against a copy of the tiny org's
build database.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from orgs import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_every_unit_test_passes(tiny_org, tmp_path: Path) -> None:
    from dbt.cli.main import dbtRunner

    build = tmp_path / "build.duckdb"
    shutil.copyfile(tiny_org.workdir.build_db, build)
    project = str(REPO_ROOT / "transform")
    saved = os.environ.get("DEPLOYLENS_BUILD_DB")
    os.environ["DEPLOYLENS_BUILD_DB"] = str(build)
    try:
        result = dbtRunner().invoke(
            [
                "test",
                "--select",
                "test_type:unit",
                "--project-dir",
                project,
                "--profiles-dir",
                project,
                "--target-path",
                str(tmp_path / "target"),
                "--log-path",
                str(tmp_path / "logs"),
                "--quiet",
            ]
        )
    finally:
        if saved is None:
            os.environ.pop("DEPLOYLENS_BUILD_DB", None)
        else:
            os.environ["DEPLOYLENS_BUILD_DB"] = saved
    run = json.loads((tmp_path / "target" / "run_results.json").read_text())
    statuses = {
        item["unique_id"]: item["status"]
        for item in run["results"]
        if item["unique_id"].startswith("unit_test.")  # not the project's on-run-end hook
    }
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    declared = {key for key in manifest.get("unit_tests", {})}
    assert len(declared) >= 20, "the project's unit tests were found"
    assert set(statuses) == declared, "every unit test ran"
    failing = {key: status for key, status in statuses.items() if status != "pass"}
    assert not failing, failing
    assert result.success
