"""Publishing: readers keep serving while a refresh writes, and see the new warehouse once swapped in."""

from __future__ import annotations

import multiprocessing
import time

import duckdb

from orchestration.publish import publish
from orchestration.resources import exclusive_lock


def _build(path, value: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.numbers as select ? as value", [value])
    con.close()


def test_publish_swaps_atomically_under_an_open_reader(tmp_path):
    build, warehouse = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 1)
    first = publish(build, warehouse, run_id="run-1")
    assert first["mart_tables"] == 1
    reader = duckdb.connect(str(warehouse), read_only=True)
    # The refresh writes the build file while a reader has the warehouse open: no lock conflict.
    _build(build, 2)
    publish(build, warehouse, run_id="run-2")
    assert reader.execute("select value from marts.numbers").fetchone() == (1,)
    reader.close()
    fresh = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert fresh.execute("select value from marts.numbers").fetchone() == (2,)
        assert fresh.execute("select run_id from meta.refreshes order by published_at").fetchall() == [
            ("run-2",)
        ]
    finally:
        fresh.close()
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def _hold(path, seconds: float, ready) -> None:
    with exclusive_lock(path):
        ready.set()
        time.sleep(seconds)


def test_refreshes_take_turns_on_the_build_lock(tmp_path):
    lock = tmp_path / "refresh.lock"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(lock, 1.0, ready))
    holder.start()
    assert ready.wait(10)
    started = time.monotonic()
    with exclusive_lock(lock, poll_s=0.05):
        waited = time.monotonic() - started
    holder.join()
    assert waited > 0.3, "the second refresh waited for the first to release the lock"


def test_lock_wait_gives_up_with_a_clear_error(tmp_path):
    lock = tmp_path / "refresh.lock"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(lock, 2.0, ready))
    holder.start()
    assert ready.wait(10)
    try:
        with exclusive_lock(lock, timeout_s=0.2, poll_s=0.05):
            raise AssertionError("lock should not be granted")
    except TimeoutError as exc:
        assert "another refresh still holds refresh.lock" in str(exc)
    finally:
        holder.join()


def test_publish_removes_leftovers_of_killed_publishes_only(tmp_path):
    import subprocess
    import sys

    build, warehouse = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    _build(build, 1)
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        leftovers = [
            tmp_path / f".warehouse.duckdb.{killed.pid}.tmp",
            tmp_path / f".warehouse.duckdb.{killed.pid}.tmp.wal",
        ]
        in_progress = tmp_path / f".warehouse.duckdb.{alive.pid}.tmp"
        for path in [*leftovers, in_progress]:
            path.write_bytes(b"partial copy")
        publish(build, warehouse, run_id="run-1")
        assert not any(path.exists() for path in leftovers), "a dead publish's copy is removed"
        assert in_progress.exists(), "a live process's copy is left alone"
    finally:
        alive.kill()
        alive.wait()
