"""kill -9 of a refresh before anything is published: extract, dbt, and just after the publish's rename.

One chain of refreshes on a fresh workdir over the tiny org's emulator, each killed at a later point:
extract (after some API responses), dbt (mid-build), publish just after the rename. After each kill the
warehouse is what the last publish left (absent before the first; whole after the rename), the killed run
stays STARTED until the next refresh or the daemon's sensor marks it failed. A reader polls the warehouse
throughout and must only ever see whole publishes. The kills later in a refresh (checks, before the rename)
and the recovery are in test_kills_publish.py (a module of its own, so the two chains run side by side);
`make bench` runs `kill_recovery`, the same at 20 random points.
"""

from __future__ import annotations

import dagster as dg
import pytest
from killing import KilledRuns, printed, publishes, reader_of, run_killed, run_status  # noqa: F401
from workdirs import tiny_tokens, workdir_on

from orchestration.definitions import orphaned_runs_sensor
from orchestration.publish import marts_rows as marts
from orchestration.workdir import Workdir

pytestmark = pytest.mark.e2e


def test_kills_before_the_first_publish_and_after_its_rename(tiny_org, tmp_path, reader_of):  # noqa: F811
    reference = marts(tiny_org.workdir.warehouse)
    workdir = Workdir.at(tmp_path / "killed")
    config = workdir_on(tiny_org, workdir.root)
    reader = reader_of(workdir.warehouse, sorted(reference))
    emulator = tiny_org.emulator
    kills = KilledRuns(workdir.lock_file, workdir.dagster_home)
    killed, outputs, killed_runs = kills.add, kills.outputs, kills.run_ids

    # 1. extract: after 25 API responses
    served = len(emulator.requests)
    killed(run_killed(config, kill_when=lambda _: len(emulator.requests) >= served + 25))
    assert not workdir.warehouse.exists(), "nothing is published before a refresh completes"
    # the daemon's sensor marks the orphan failed (the path that unblocks the run queue)
    with dg.DagsterInstance.from_config(str(workdir.dagster_home)) as instance:
        orphaned_runs_sensor(workdir)(dg.build_sensor_context(instance=instance))
        assert run_status(instance, killed_runs[0]) == dg.DagsterRunStatus.FAILURE

    # 2. dbt: once the build has created its first model (its process group dies too)
    killed(run_killed(config, kill_when=printed(" OK created ")))
    assert not workdir.warehouse.exists()

    # 3. publish, just after the rename: the new warehouse is whole, its run never recorded its end; the
    # refresh after it recovers the extract and dbt kills before it
    run_id = killed(run_killed(config, kill_at="publish_after_rename"))
    assert marts(workdir.warehouse) == reference
    assert [row[0] for row in publishes(workdir.warehouse)] == [run_id]

    reader.stop.set()
    reader.join(10)
    counts = tuple(len(reference[name]) for name in sorted(reference))
    assert reader.errors == []
    seen = [view for view in reader.seen if view != ("absent",)]
    assert seen, "the reader read the published warehouse"
    assert set(seen) == {(1, counts)}
    first = next(i for i, view in enumerate(reader.seen) if view != ("absent",))
    assert ("absent",) not in reader.seen[first:], "the warehouse never disappears once published"
    for token in tiny_tokens(tiny_org):
        assert not [output for output in outputs if token in output]
