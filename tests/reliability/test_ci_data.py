"""CI knows its data: with DEPLOYLENS_REQUIRE_SHARED_DATA=1 a test skipped for missing shared data fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orgs import REPO_ROOT

TESTS = """
import pytest

@pytest.mark.shared
def test_needs_data():
    pytest.skip("recorded payloads not available (x.tar.gz missing from the shared data)")

@pytest.fixture
def history():
    pytest.skip("shared git histories not available (requests); see the data README")

def test_needs_history(history):
    pass

def test_skips_for_another_reason():
    pytest.skip("no open PR in this world")
"""


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    shared: reads shared data\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "shared_data", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_shared_data_skips_locally_and_fails_in_ci(tmp_path):
    local = _pytest(tmp_path, DEPLOYLENS_REQUIRE_SHARED_DATA="")
    assert local.returncode == 0 and "3 skipped" in local.stdout, local.stdout
    ci = _pytest(tmp_path, DEPLOYLENS_REQUIRE_SHARED_DATA="1")
    assert ci.returncode == 1, ci.stdout
    assert "1 failed" in ci.stdout and "1 error" in ci.stdout and "1 skipped" in ci.stdout, ci.stdout
    assert "DEPLOYLENS_REQUIRE_SHARED_DATA=1 and the shared data this test needs is missing" in ci.stdout


def test_ci_requires_the_shared_data_and_still_runs_make_test():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    assert "DEPLOYLENS_REQUIRE_SHARED_DATA=1" in script and "make test" in script
