"""The refresh keeps its lasting objects out of the garbage collector's walks (orchestration/heap.py).

What is frozen is frozen only for the run: afterwards the process collects as before, and garbage made
during the run is collected, also when something (the simulated world) had frozen objects of its own.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from orchestration import heap

ROOT = Path(__file__).resolve().parents[1]


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def unfrozen():
    """A process state with nothing frozen, whatever earlier tests froze; restored afterwards."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    yield
    if frozen:
        gc.freeze()


def test_objects_alive_at_the_start_are_frozen_for_the_block_only(unfrozen):
    alive = _Node()
    with heap.frozen_heap():
        assert gc.get_freeze_count() > 0
        made_inside = _Node()
        assert gc.is_tracked(made_inside)
    assert gc.get_freeze_count() == 0  # nothing stays frozen in a process that froze nothing before
    del alive, made_inside


def test_garbage_of_the_run_is_collected_inside_and_after_the_block(unfrozen):
    with heap.frozen_heap():
        inside = _Node()
        ref = weakref.ref(inside)
        del inside
        gc.collect()  # what a load's release_memory asks for: the run's own garbage goes
        assert ref() is None
        lasting = _Node()
        frozen_ref = weakref.ref(lasting)
        heap.freeze_more()  # frozen now (as after the Great Expectations import)
        del lasting
        gc.collect()
        assert frozen_ref() is not None  # a frozen cycle waits for the block's end...
    gc.collect()
    assert frozen_ref() is None  # ... and is collected then


def test_objects_frozen_before_stay_frozen_and_the_blocks_garbage_does_not(unfrozen):
    world = [_Node() for _ in range(100)]
    gc.freeze()  # as simulator.world.paused_gc leaves the generated world
    with heap.frozen_heap():
        garbage = _Node()
        ref = weakref.ref(garbage)
        heap.freeze_more()
        del garbage
    assert ref() is None  # collected on the way out, not frozen for the life of the process
    assert gc.get_freeze_count() >= len(world)
    walked = {id(o) for o in gc.get_objects()}  # every object a collection walks (the frozen are not)
    assert not any(id(node) in walked for node in world)  # the world is frozen again
    del world


def test_nested_blocks_unfreeze_once_at_the_outermost_exit(unfrozen):
    with heap.frozen_heap():
        with heap.frozen_heap():
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_freeze_more_outside_a_block_does_nothing(unfrozen):
    assert heap.freeze_more() is False
    assert gc.get_freeze_count() == 0


def test_collection_is_paused_in_the_block_and_restored_after():
    assert gc.isenabled()
    with heap.collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with heap.collection_paused():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()


def test_the_waiting_dbt_process_freezes_its_imports_and_collects_young_objects_less_often():
    code = (
        "import gc\n"
        "from orchestration.dbt_warm import preload\n"
        "preload()\n"
        "import dbt.cli.main\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    threshold0, frozen = map(int, done.stdout.split())
    assert threshold0 == heap.DBT_GC_THRESHOLD0
    assert frozen > 100_000  # dbt-core's modules, imported before the command


def test_a_load_in_its_own_process_freezes_what_it_inherited_and_collects_young_objects_less_often(unfrozen):
    from orchestration.load_process import in_child

    inherited = [object() for _ in range(10)]  # made before the fork, so frozen with the rest in the child
    before = gc.get_threshold()
    threshold0, frozen = in_child(lambda: (gc.get_threshold()[0], gc.get_freeze_count()))
    assert threshold0 == heap.LOAD_GC_THRESHOLD0 != before[0]
    assert frozen > len(inherited)
    assert gc.get_threshold() == before  # the refresh's own process is left as it was
    assert gc.get_freeze_count() == 0


def test_a_refresh_runs_its_job_with_the_definitions_frozen(monkeypatch, tmp_path, unfrozen):
    from orchestration import cli, definitions, resources
    from orchestration.workdir import Workdir

    seen = {}

    class Job:
        def execute_in_process(self, **kwargs):
            seen["frozen"] = gc.get_freeze_count()
            seen["enabled"] = gc.isenabled()
            return "result"

    class Defs:
        def resolve_job_def(self, name):
            seen["job"] = name
            seen["paused while resolving"] = not gc.isenabled()
            return Job()

    def build_definitions(config_path, workdir):
        seen["paused while building"] = not gc.isenabled()
        return Defs()

    class Instance:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    import dagster as dg

    monkeypatch.setattr(definitions, "build_definitions", build_definitions)
    monkeypatch.setattr(resources, "reap_orphaned_runs", lambda instance, lock: [])
    monkeypatch.setattr(dg.DagsterInstance, "get", staticmethod(lambda: Instance()))
    result = cli._execute_refresh(tmp_path / "org.yml", Workdir.at(tmp_path), False, False)
    assert result == "result"
    assert seen["job"] == definitions.REFRESH_JOB
    assert seen["paused while building"] and seen["paused while resolving"]
    assert seen["enabled"]  # the run collects its own garbage as usual...
    assert seen["frozen"] > 10_000  # ... but not the modules and definitions it started with
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_the_great_expectations_modules_are_frozen_once_imported_in_a_refresh(unfrozen):
    from orchestration.assets import import_gx_suites

    with heap.frozen_heap():
        before = gc.get_freeze_count()
        made_since = _Node()
        import_gx_suites()  # the transform step's thread: import, then freeze what is alive
        assert gc.get_freeze_count() > before
        del made_since


def test_a_process_that_ends_after_the_block_leaves_it_frozen(unfrozen):
    with heap.frozen_heap(process_ends=True):
        pass
    assert gc.get_freeze_count() > 0  # nothing to restore: the process exits (no last full collection)
    gc.unfreeze()


def test_only_the_command_lines_own_process_ends_after_a_refresh(monkeypatch, tmp_path):
    from orchestration import cli

    seen = []
    monkeypatch.setattr(
        cli, "run_refresh", lambda *a, **kw: seen.append(kw["process_ends"]) or {"exit_code": 0}
    )
    config = str(tmp_path / "org.yml")
    assert cli.main(["refresh", "--config", config]) == 0  # a caller passing argv goes on
    monkeypatch.setattr(sys, "argv", ["deploylens", "refresh", "--config", config])
    assert cli.main() == 0  # `deploylens refresh`: the process exits after it
    assert seen == [False, True]
