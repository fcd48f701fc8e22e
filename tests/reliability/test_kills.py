"""kill -9 of a refresh at each phase: the warehouse stays whole, the next refresh recovers.

One chain of refreshes on a fresh workdir over the tiny org's emulator, each killed at a later point:
extract (after some API responses), dbt (mid-build), publish after the rename, checks (dbt done), publish
before the rename; then one uninterrupted refresh. After each kill the warehouse is what the last publish
left (or absent before the first), the killed run is STARTED until the next refresh (or the daemon sensor)
marks it failed; at the end the marts equal those of the uninterrupted tiny org refresh, no temporary copy
is left and no run is in progress. A reader polls the warehouse throughout and must only ever see whole
publishes. `make bench` runs `kill_recovery`, the same at 20 random points.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from orgs import REPO_ROOT
from workdirs import refresh_command, refresh_env, tiny_tokens, workdir_on

from orchestration.definitions import orphaned_runs_sensor
from orchestration.publish import marts_rows as marts
from orchestration.publish import tmp_files
from orchestration.resources import KILL_AT_ENV, lock_holder
from orchestration.workdir import Workdir

pytestmark = pytest.mark.e2e


def publishes(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select run_id, published_at from meta.refreshes").fetchall()
    finally:
        con.close()


class Reader(threading.Thread):
    """Polls the warehouse as the app does; records what each read saw."""

    def __init__(self, warehouse: Path, tables: list[str]) -> None:
        super().__init__(daemon=True)
        self.warehouse, self.tables = warehouse, tables
        self.seen: list[tuple] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            if not self.warehouse.exists():
                self.seen.append(("absent",))
                continue
            try:
                con = duckdb.connect(str(self.warehouse), read_only=True)
                try:
                    refreshes = con.execute("select count(*) from meta.refreshes").fetchone()[0]
                    counts = tuple(
                        con.execute(f'select count(*) from marts."{name}"').fetchone()[0]
                        for name in self.tables
                    )
                finally:
                    con.close()
                self.seen.append((refreshes, counts))
            except duckdb.Error as exc:
                self.errors.append(str(exc))


def run_killed(
    config: Path, kill_when: Callable[[list[str]], bool] | None = None, kill_at: str | None = None
) -> str:
    """A refresh process killed with SIGKILL: by itself at `kill_at`, or (its process group, dbt too) as
    soon as `kill_when(output lines so far)` holds. Returns its output."""
    env = refresh_env(**({KILL_AT_ENV: kill_at} if kill_at else {}))
    process = subprocess.Popen(
        refresh_command(config),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    pump = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    pump.start()
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if kill_when is not None and kill_when(lines):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    if process.poll() is None and kill_when is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    pump.join(10)
    output = "".join(lines)
    assert process.returncode == -signal.SIGKILL, f"the refresh was not killed where asked:\n{output[-3000:]}"
    return output


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def printed(text: str) -> Callable[[list[str]], bool]:
    """A kill condition: some output line (colours removed) contains `text`."""
    return lambda lines: any(text in ANSI.sub("", line) for line in lines)


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


@pytest.fixture
def reader_of(request):
    """Start a Reader and always stop it: a reader thread left inside DuckDB at interpreter exit aborts."""
    started: list[Reader] = []

    def start(warehouse: Path, tables: list[str]) -> Reader:
        reader = Reader(warehouse, tables)
        reader.start()
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.stop.set()
        reader.join(30)


def test_kill_at_each_phase_then_recover(tiny_org, tmp_path, reader_of):
    reference = marts(tiny_org.workdir.warehouse)
    workdir = Workdir.at(tmp_path / "killed")
    config = workdir_on(tiny_org, workdir.root)
    reader = reader_of(workdir.warehouse, sorted(reference))
    emulator = tiny_org.emulator
    outputs: list[str] = []
    killed_runs: list[str] = []

    def killed(output: str) -> str:
        """The run id the killed refresh recorded in the lock file, and checks it was left STARTED."""
        outputs.append(output)
        run_id = lock_holder(workdir.lock_file).get("run_id")
        assert run_id and run_id not in killed_runs, "each killed refresh held the build lock"
        with dg.DagsterInstance.from_config(str(workdir.dagster_home)) as instance:
            assert _status(instance, run_id) == dg.DagsterRunStatus.STARTED, "a kill leaves its run STARTED"
            for earlier in killed_runs:
                assert _status(instance, earlier) == dg.DagsterRunStatus.FAILURE, "reaped by the next one"
        killed_runs.append(run_id)
        return run_id

    # 1. extract: after 25 API responses
    served = len(emulator.requests)
    killed(run_killed(config, kill_when=lambda _: len(emulator.requests) >= served + 25))
    assert not workdir.warehouse.exists(), "nothing is published before a refresh completes"
    # the daemon's sensor marks the orphan failed (the path that unblocks the run queue)
    with dg.DagsterInstance.from_config(str(workdir.dagster_home)) as instance:
        orphaned_runs_sensor(workdir)(dg.build_sensor_context(instance=instance))
        assert _status(instance, killed_runs[0]) == dg.DagsterRunStatus.FAILURE

    # 2. dbt: once the build has created its first model (its process group dies too)
    killed(run_killed(config, kill_when=printed(" OK created ")))
    assert not workdir.warehouse.exists()

    # 3. publish, just after the rename: the new warehouse is whole, its run never recorded its end
    run_id = killed(run_killed(config, kill_at="publish_after_rename"))
    assert marts(workdir.warehouse) == reference
    assert [row[0] for row in publishes(workdir.warehouse)] == [run_id]
    last_publish = (publishes(workdir.warehouse), marts(workdir.warehouse))

    # 4. checks: dbt has finished, the checks and publish have not
    killed(run_killed(config, kill_when=printed("Done. PASS=")))
    assert (publishes(workdir.warehouse), marts(workdir.warehouse)) == last_publish

    # 5. publish, before the rename: a whole temporary copy is left beside an untouched warehouse
    killed(run_killed(config, kill_at="publish_before_rename"))
    assert (publishes(workdir.warehouse), marts(workdir.warehouse)) == last_publish
    assert tmp_files(workdir.warehouse), "the kill left the publish's temporary copy"

    # 6. an uninterrupted refresh recovers everything
    done = subprocess.run(
        refresh_command(config), cwd=REPO_ROOT, env=refresh_env(), capture_output=True, text=True, timeout=600
    )
    outputs.append(done.stdout + done.stderr)
    reader.stop.set()
    reader.join(10)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert marts(workdir.warehouse) == reference, "marts equal those of an uninterrupted refresh"
    assert len(publishes(workdir.warehouse)) == 1
    assert tmp_files(workdir.warehouse) == [], "the leftover copy was removed"
    with dg.DagsterInstance.from_config(str(workdir.dagster_home)) as instance:
        for run_id in killed_runs:
            assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
        in_progress = instance.get_run_records(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
        )
        assert not in_progress, "no run is left in progress"

    # what the reader saw: nothing before the first publish, then only whole publishes
    counts = tuple(len(reference[name]) for name in sorted(reference))
    assert reader.errors == []
    seen = [view for view in reader.seen if view != ("absent",)]
    assert seen, "the reader read published warehouses"
    assert set(seen) == {(1, counts)}
    first = next(i for i, view in enumerate(reader.seen) if view != ("absent",))
    assert ("absent",) not in reader.seen[first:], "the warehouse never disappears once published"

    # none of these logs holds a token
    for token in tiny_tokens(tiny_org):
        assert not [output for output in outputs if token in output]
