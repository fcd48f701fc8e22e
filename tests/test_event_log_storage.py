"""The Dagster event log a refresh writes: Dagster's own SQLite files, written faster, nothing held back.

`deploylens` configures `orchestration.event_log.FastSqliteEventLogStorage` in each workdir's Dagster home:
the UI, the daemon and older runs read the same files Dagster's stock SQLite storage reads and writes.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log import SqliteEventLogStorage

from orchestration.cli import prepare_dagster_home
from orchestration.event_log import FastSqliteEventLogStorage
from orchestration.workdir import Workdir


@dg.asset
def shipped() -> int:
    return 1


@dg.asset_check(asset=shipped)
def shipped_is_one() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(
    assets=[shipped], asset_checks=[shipped_is_one], jobs=[dg.define_asset_job("ship")]
).resolve_job_def("ship")


def _home(tmp_path: Path, monkeypatch) -> Path:
    workdir = Workdir.at(tmp_path / "workdir")
    prepare_dagster_home(workdir)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the instance comes from the file alone
    return workdir.dagster_home


def test_a_workdir_writes_through_the_fast_storage_into_dagsters_own_files(tmp_path, monkeypatch):
    home = _home(tmp_path, monkeypatch)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, FastSqliteEventLogStorage)
        result = JOB.execute_in_process(instance=instance)
        assert result.success
        written = [e.dagster_event_type for e in instance.all_logs(result.run_id) if e.is_dagster_event]

    runs_dir = home / "history" / "runs"
    assert (runs_dir / f"{result.run_id}.db").exists() and (runs_dir / "index.db").exists()
    with sqlite3.connect(runs_dir / f"{result.run_id}.db") as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"

    # Dagster's stock storage reads the same run, its asset materialization and its check from the files
    stock = SqliteEventLogStorage(str(runs_dir))
    try:
        read = [e.dagster_event_type for e in stock.get_logs_for_run(result.run_id) if e.is_dagster_event]
        assert read == written
        assert dg.DagsterEventType.ASSET_MATERIALIZATION in read
        assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in read
        latest = stock.get_latest_materialization_events([dg.AssetKey("shipped")])[dg.AssetKey("shipped")]
        assert latest is not None and latest.run_id == result.run_id
        check = dg.AssetCheckKey(dg.AssetKey("shipped"), "shipped_is_one")
        executions = stock.get_asset_check_execution_history(check, limit=5)
        assert [e.run_id for e in executions] == [result.run_id]
        assert executions[0].status.value == "SUCCEEDED"
    finally:
        stock.dispose()


def test_runs_written_by_dagsters_stock_storage_stay_readable(tmp_path, monkeypatch):
    runs_dir = tmp_path / "history" / "runs"
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        old = JOB.execute_in_process(instance=instance)
        assert isinstance(instance.event_log_storage, SqliteEventLogStorage)
        before = [e.dagster_event_type for e in instance.all_logs(old.run_id)]
    fast = FastSqliteEventLogStorage(str(runs_dir))
    try:
        assert [e.dagster_event_type for e in fast.get_logs_for_run(old.run_id)] == before
        latest = fast.get_latest_materialization_events([dg.AssetKey("shipped")])[dg.AssetKey("shipped")]
        assert latest is not None and latest.run_id == old.run_id
    finally:
        fast.dispose()


KILLED_WRITER = """
import os, signal, sys, time
from dagster._core.events.log import EventLogEntry
from orchestration.event_log import FastSqliteEventLogStorage

storage = FastSqliteEventLogStorage(sys.argv[1])
for i in range(50):
    storage.store_event(EventLogEntry(error_info=None, level=20, user_message=f"event {i}",
        run_id="killed-run", timestamp=time.time(), job_name="refresh"))
os.kill(os.getpid(), signal.SIGKILL)  # as kill -9: no clean-up, no close
"""


def test_every_event_stored_before_a_kill_is_kept(tmp_path):
    """Nothing waits in memory for a later commit: a refresh killed mid-run leaves each event it logged."""
    runs_dir = tmp_path / "runs"
    command = [sys.executable, "-c", KILLED_WRITER, str(runs_dir)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    stock = SqliteEventLogStorage(str(runs_dir))
    try:
        messages = [e.user_message for e in stock.get_logs_for_run("killed-run")]
    finally:
        stock.dispose()
    assert messages == [f"event {i}" for i in range(50)]


def test_the_dbt_resource_knows_the_version_of_the_dbt_it_runs():
    """The refresh's dbt resource reads dbt-core's version from the installed package instead of running
    `dbt --version`: both must name the same version, or dagster-dbt would treat dbt wrongly."""
    from orchestration.assets import RefreshDbtResource
    from orchestration.workdir import DBT_PROJECT_DIR

    executable = str(Path(sys.executable).with_name("dbt"))
    resource = RefreshDbtResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=executable)
    reported = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True).stdout
    core = re.search(r"Core:\s*\n\s*- installed:\s*(\d+\.\d+\.\d+)", reported)
    assert core is not None, reported
    assert str(resource._cli_version) == core.group(1)
