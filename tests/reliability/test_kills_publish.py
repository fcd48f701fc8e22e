"""kill -9 of a refresh once its build is done: at the checks and just before the publish's rename, then
an uninterrupted refresh recovers.

The chain starts from a copy of the tiny org's workdir (a published warehouse, its raw data and dlt state),
over the same emulator. After each kill the warehouse is exactly the last publish and the killed run stays
STARTED until the next refresh marks it failed; a kill before the rename leaves the publish's temporary copy,
which the next publish removes. The last refresh's marts equal those of the uninterrupted tiny org refresh,
and a reader polling throughout only ever sees whole publishes. Earlier kill points: test_kills.py.

The first refresh of the chain is the tiny org's second, on an unchanged upstream: it must not read that
upstream again in full, and the marts it and the refreshes after it build must equal the first refresh's,
frame for frame (the tiny org's second refresh, here so that it costs no refresh of its own). A refresh
with nothing new skips its build, checks and publish (test_refresh_skip.py), so the two killed refreshes
are full rebuilds, which always build: they reach the checks and the publish. The recovering refresh is a
plain one, and builds: the killed builds started after the last publish.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import dagster as dg
import pandas as pd
import pytest
from killing import KilledRuns, printed, publishes, reader_of, run_killed, run_status  # noqa: F401
from orgs import REPO_ROOT
from truth import MART_KEYS, snapshot_marts
from workdirs import refresh_command, refresh_env, tiny_tokens, workdir_on

from orchestration.publish import marts_rows as marts
from orchestration.publish import tmp_files
from orchestration.workdir import Workdir

pytestmark = pytest.mark.e2e


def test_kills_at_the_checks_and_before_the_rename_then_recover(tiny_org, tmp_path, reader_of):  # noqa: F811
    reference = marts(tiny_org.workdir.warehouse)
    workdir = Workdir.at(tmp_path / "killed")
    shutil.copytree(tiny_org.workdir.root, workdir.root, ignore=shutil.ignore_patterns("dagster_home"))
    config = workdir_on(tiny_org, workdir.root)
    last_publish = (publishes(workdir.warehouse), marts(workdir.warehouse))
    assert last_publish[1] == reference
    reader = reader_of(workdir.warehouse, sorted(reference))
    kills = KilledRuns(workdir.lock_file, workdir.dagster_home)
    killed, outputs, killed_runs = kills.add, kills.outputs, kills.run_ids

    # 4. checks: dbt has finished, the checks and publish have not
    emulator = tiny_org.emulator
    served_before, github_before = len(emulator.requests), emulator.usage()["github"]
    killed(run_killed(config, printed("Done. PASS="), None, "--full-rebuild"))
    assert (publishes(workdir.warehouse), marts(workdir.warehouse)) == last_publish
    # Its extract (done before dbt) read an unchanged upstream. Through GraphQL (the refresh's default):
    # one query asks every repository's newest pull request (one point; no page of pull requests follows),
    # one asks every repository's first page of deployments with their statuses (a point a repository),
    # and a repository whose first page does not reach behind the look-back has its next pages asked alone
    # (a point each); no pull request or deployment list is read through REST.
    github_after = emulator.usage()["github"]
    spent = {key: github_after[key] - github_before[key] for key in github_before}
    repositories = sum(1 for svc in tiny_org.world.services if svc.on_github)
    later_pages = spent["graphql_requests"] - 2
    assert 0 <= later_pages <= repositories, spent
    assert spent["graphql_points"] == 1 + repositories + later_pages, (spent, repositories)
    read_again = [
        target
        for method, target, status in emulator.requests[served_before:]
        if status == 200 and re.search(r"/github/repos/[^/]+/[^/]+/(pulls|deployments)\b", target)
    ]
    assert not read_again, read_again

    # 5. publish, before the rename: a whole temporary copy is left beside an untouched warehouse
    killed(run_killed(config, None, "publish_before_rename", "--full-rebuild"))
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
    first, again = snapshot_marts(tiny_org.workdir.warehouse), snapshot_marts(workdir.warehouse)
    for name in MART_KEYS:
        pd.testing.assert_frame_equal(first[name], again[name], check_like=False, obj=name)
    assert len(publishes(workdir.warehouse)) == 1
    assert publishes(workdir.warehouse) != last_publish[0], "a new publish"
    assert tmp_files(workdir.warehouse) == [], "the leftover copy was removed"
    with dg.DagsterInstance.from_config(str(workdir.dagster_home)) as instance:
        for run_id in killed_runs:
            assert run_status(instance, run_id) == dg.DagsterRunStatus.FAILURE
        in_progress = instance.get_run_records(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
        )
        assert not in_progress, "no run is left in progress"

    # the reader only ever saw whole publishes: the copied one, then the recovery's
    counts = tuple(len(reference[name]) for name in sorted(reference))
    assert reader.errors == []
    assert reader.seen and ("absent",) not in reader.seen, "the warehouse never disappears"
    assert set(reader.seen) == {(1, counts)}
    for token in tiny_tokens(tiny_org):
        assert not [output for output in outputs if token in output]
