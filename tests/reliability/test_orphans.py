"""Runs a killed refresh left STARTED are marked failed; live runs are never touched.

These build runs in a throwaway Dagster instance; tests/reliability/test_kills.py kills real refreshes.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from orchestration import resources
from orchestration.definitions import orphaned_runs_sensor
from orchestration.resources import (
    PROCESS_TAG,
    exclusive_lock,
    lock_holder,
    process_alive,
    process_identity,
    reap_orphaned_runs,
)
from orchestration.workdir import Workdir


def _dead_process() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    return identity


def _status(instance, run) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run.run_id).status


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_process_identity_tells_live_dead_and_reused_pids():
    assert process_alive(process_identity()) is True
    assert process_alive(_dead_process()) is False
    host, pid, _start = process_identity().split(":")
    # the same pid started at another time: a later process that reuses the number
    assert process_alive(f"{host}:{pid}:1") is False
    assert process_alive(f"another-host:{pid}:") is None


def test_a_run_whose_process_died_is_marked_failed_and_a_live_one_is_not(instance, tmp_path):
    dead = create_run_for_test(
        instance, status=dg.DagsterRunStatus.STARTED, tags={PROCESS_TAG: _dead_process()}
    )
    live = create_run_for_test(
        instance, status=dg.DagsterRunStatus.STARTED, tags={PROCESS_TAG: process_identity()}
    )
    elsewhere = create_run_for_test(
        instance, status=dg.DagsterRunStatus.STARTED, tags={PROCESS_TAG: "another-host:1:"}
    )
    assert reap_orphaned_runs(instance, tmp_path / "refresh.lock") == [dead.run_id]
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
    assert _status(instance, live) == dg.DagsterRunStatus.STARTED
    assert _status(instance, elsewhere) == dg.DagsterRunStatus.STARTED
    assert reap_orphaned_runs(instance, tmp_path / "refresh.lock") == [], "reaped once"


def test_an_untagged_run_is_an_orphan_only_past_the_grace_period_with_the_lock_free(
    instance, tmp_path, monkeypatch
):
    lock = tmp_path / "refresh.lock"
    run = create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED)
    assert reap_orphaned_runs(instance, lock) == [], "too young: it may still be starting"
    monkeypatch.setattr(resources, "ORPHAN_GRACE_S", 0.0)
    with exclusive_lock(lock):
        held = threading.Thread(target=lambda: reaped.append(reap_orphaned_runs(instance, lock)))
        reaped: list = []
        held.start()
        held.join()
    assert reaped == [[]], "a refresh holds the lock: the run may be the one holding it"
    assert reap_orphaned_runs(instance, lock) == [run.run_id]
    assert _status(instance, run) == dg.DagsterRunStatus.FAILURE


def test_the_daemon_sensor_reaps_orphans(instance, tmp_path):
    workdir = Workdir.at(tmp_path).ensure()
    dead = create_run_for_test(
        instance, status=dg.DagsterRunStatus.STARTED, tags={PROCESS_TAG: _dead_process()}
    )
    sensor = orphaned_runs_sensor(workdir)
    result = sensor(dg.build_sensor_context(instance=instance))
    assert dead.run_id in result.skip_message
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE


def test_the_lock_file_names_its_holder_while_held(tmp_path):
    lock = tmp_path / "refresh.lock"
    with exclusive_lock(lock, holder={"run_id": "run-1", "process": process_identity()}):
        assert lock_holder(lock) == {"run_id": "run-1", "process": process_identity()}
        assert not resources.lock_is_free(lock)
    assert lock_holder(lock) == {}
    assert resources.lock_is_free(lock)
