"""kill_recovery: kill -9 a tiny-org refresh at 20 random points, then refresh again; count recoveries.

A point is a random moment of a refresh (uniform over the length of an uninterrupted one, so extract, load,
dbt, checks and publish are all hit) or, one time in five, one side of the publish's rename. A recovery
is a following refresh that exits 0 with marts equal (as sorted rows) to an uninterrupted refresh's, one
publish in `meta.refreshes`, no temporary copy left and no Dagster run left STARTED. Reports the number of
recoveries and the median wall time of the recovering refreshes. `tests/reliability/test_kills.py` is the
short deterministic version `make test` runs.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from orchestration.publish import marts_rows

ROOT = Path(__file__).resolve().parents[1]
POINTS = int(os.environ.get("DEPLOYLENS_BENCH_KILLS", "20"))
SEED = int(os.environ.get("DEPLOYLENS_BENCH_SEED", "1"))


def _refresh(config: Path, kill_after: float | None = None, kill_at: str | None = None) -> tuple[int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPLOYLENS_", "DAGSTER_HOME"))}
    if kill_at:
        env["DEPLOYLENS_TEST_KILL_AT"] = kill_at
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "refresh", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process.returncode, time.perf_counter() - started


def _recovered(workdir: Path, reference: dict) -> bool:
    import dagster as dg

    warehouse = workdir / "warehouse.duckdb"
    if marts_rows(warehouse) != reference or list(workdir.glob(".warehouse.duckdb.*.tmp*")):
        return False
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if con.execute("select count(*) from meta.refreshes").fetchone()[0] != 1:
            return False
    finally:
        con.close()
    with dg.DagsterInstance.from_config(str(workdir / "dagster_home")) as instance:
        statuses = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
        return not instance.get_run_records(filters=dg.RunsFilter(statuses=statuses))


def kill_recovery() -> dict:
    from simulator import Emulator, generate_org

    rng = random.Random(SEED)
    world = generate_org(scale="tiny", seed=11, end=datetime(2026, 11, 2, tzinfo=UTC))
    emulator = Emulator(world, host="127.0.0.1", port=0, github_token="gh-bench", pagerduty_token="pd-bench")
    emulator.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            config = workdir / "org.yml"
            org = world.org_config(
                f"{emulator.url}/github", f"{emulator.url}/pagerduty", "gh-bench", "pd-bench"
            )
            config.write_text(yaml.safe_dump(org, sort_keys=False))
            code, full = _refresh(config)
            if code != 0:
                raise SystemExit("kill_recovery: the uninterrupted refresh failed")
            reference = marts_rows(workdir / "warehouse.duckdb")
            recoveries, times = 0, []
            for point in range(POINTS):
                if rng.random() < 0.2:
                    where = rng.choice(["publish_before_rename", "publish_after_rename"])
                    _refresh(config, kill_at=where)
                else:
                    after = rng.uniform(0.5, full)
                    where = f"{after:.1f} s"
                    _refresh(config, kill_after=after)
                code, seconds = _refresh(config)
                ok = code == 0 and _recovered(workdir, reference)
                recoveries += ok
                times.append(seconds)
                outcome = "recovered" if ok else "NOT recovered"
                print(f"  kill {point + 1:2d} at {where}: {outcome} in {seconds:.1f} s", flush=True)
    finally:
        emulator.stop()
    median = statistics.median(times)
    print(f"kill_recovery: {recoveries} of {POINTS} kills recovered; median recovery {median:.1f} s")
    return {
        "kill_recovery_recovered": {"value": recoveries, "unit": f"of {POINTS}"},
        "kill_recovery_median_s": {"value": round(median, 2), "unit": "s"},
    }
