"""Helpers of the kill -9 tests: refreshes killed where asked, a reader polling the warehouse."""

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
from workdirs import refresh_command, refresh_env

from orchestration.resources import KILL_AT_ENV, lock_holder


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
    config: Path,
    kill_when: Callable[[list[str]], bool] | None = None,
    kill_at: str | None = None,
    *extra: str,
) -> str:
    """A refresh process (`extra`: its further arguments) killed with SIGKILL: by itself at `kill_at`, or
    (its process group, dbt too) as soon as `kill_when(output lines so far)` holds. Returns its output."""
    env = refresh_env(**({KILL_AT_ENV: kill_at} if kill_at else {}))
    process = subprocess.Popen(
        refresh_command(config, *extra),
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


def run_status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
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


class KilledRuns:
    """The runs of a chain of killed refreshes on one workdir, with their outputs.

    `add` checks what a kill leaves: the killed refresh held the build lock (its run id is in the lock
    file), its run stays STARTED, and every earlier killed run was marked failed by the refresh after it.
    """

    def __init__(self, lock_file: Path, dagster_home: Path) -> None:
        self.lock_file, self.dagster_home = lock_file, dagster_home
        self.run_ids: list[str] = []
        self.outputs: list[str] = []

    def add(self, output: str) -> str:
        self.outputs.append(output)
        run_id = lock_holder(self.lock_file).get("run_id")
        assert run_id and run_id not in self.run_ids, "each killed refresh held the build lock"
        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            started = run_status(instance, run_id)
            assert started == dg.DagsterRunStatus.STARTED, "a kill leaves its run STARTED"
            for earlier in self.run_ids:
                reaped = run_status(instance, earlier)
                assert reaped == dg.DagsterRunStatus.FAILURE, "reaped by the next refresh"
        self.run_ids.append(run_id)
        return run_id
