"""Resources shared by the refresh: the single-writer lock on the build database, and the reaping of runs
whose process died.

A refresh killed with SIGKILL (an OOM kill, a closed laptop, `kill -9`) cannot record its own end, so its
Dagster run stays STARTED for ever. With one run at a time (the run queue's limit) such a run blocks every
later scheduled or UI-launched run. Each run therefore records which process executes it (a run tag with
host, pid and the process's start time); a run whose process is gone is an orphan and is marked failed —
by the `reap_orphaned_runs` sensor in the daemon and at the start of every refresh.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

log = logging.getLogger("deploylens")

# The run tag naming the process that executes a run: `host:pid:start`, start being the process's start
# time in clock ticks since boot (Linux /proc), which tells a live process from a later one given the pid.
PROCESS_TAG = "deploylens/process"
# A run without a process tag (killed before it reached its first step, or a run started by another
# version) counts as orphaned once it is this old and no refresh holds the build lock.
ORPHAN_GRACE_S = float(os.environ.get("DEPLOYLENS_ORPHAN_GRACE_S", 600))
# Test hook: `DEPLOYLENS_TEST_KILL_AT=<point>` makes the refresh SIGKILL itself at that named point.
KILL_AT_ENV = "DEPLOYLENS_TEST_KILL_AT"


def kill_point(name: str) -> None:
    """Die here, as `kill -9` would, when the kill tests ask for this point (`DEPLOYLENS_TEST_KILL_AT`)."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _process_start(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot ('' where /proc is unavailable)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after its closing parenthesis
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19]  # field 22 of the whole line


def process_identity(pid: int | None = None) -> str:
    """`host:pid:start` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def process_alive(identity: str) -> bool | None:
    """Whether the process `identity` names still runs; None when it ran on another host (unknowable)."""
    host, _, rest = identity.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # the pid exists but belongs to another user
    except ValueError:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state in ("Z", "X"):  # killed, not yet collected by its parent
        return False
    return not start or _process_start(pid) == start


def lock_is_free(path: Path) -> bool:
    """True when no process holds the build lock (tested without waiting and released at once)."""
    if not path.exists():
        return True
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def lock_holder(path: Path) -> dict:
    """What the holder of the build lock recorded (run id, process); {} when nobody wrote it."""
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def orphaned_runs(instance: dg.DagsterInstance, lock_path: Path, exclude_run_id: str | None = None) -> list:
    """STARTING or STARTED runs whose process is dead.

    A tagged run is an orphan exactly when its process is gone (same host; a run on another host is left
    alone). An untagged run is one only when it is older than ORPHAN_GRACE_S and the build lock is free:
    a live refresh reaches its first step (where it tags itself) within seconds, and one waiting for the
    lock is tagged before it waits.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    )
    orphans = []
    lock_free: bool | None = None
    for record in records:
        run = record.dagster_run
        if run.run_id == exclude_run_id:
            continue
        identity = run.tags.get(PROCESS_TAG)
        if identity:
            if process_alive(identity) is False:
                orphans.append(run)
            continue
        started = record.start_time or record.create_timestamp.timestamp()
        if time.time() - started < ORPHAN_GRACE_S:
            continue
        if lock_free is None:
            lock_free = lock_is_free(lock_path)
        if lock_free:
            orphans.append(run)
    return orphans


def reap_orphaned_runs(
    instance: dg.DagsterInstance, lock_path: Path, exclude_run_id: str | None = None
) -> list[str]:
    """Mark every orphaned run failed, so the run queue (one run at a time) moves on; returns their ids."""
    reaped = []
    for run in orphaned_runs(instance, lock_path, exclude_run_id):
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:
            continue  # another reaper was quicker
        identity = run.tags.get(PROCESS_TAG, "an unknown process")
        instance.report_run_failed(
            run,
            f"deploylens: the process running this refresh ({identity}) is gone (killed?); "
            "marked failed so later runs can start.",
        )
        log.warning("run %s was left unfinished by a killed refresh: marked failed", run.run_id)
        reaped.append(run.run_id)
    return reaped


@contextmanager
def exclusive_lock(
    path: Path, timeout_s: float = 3600.0, poll_s: float = 1.0, holder: dict | None = None
) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path`; `holder` (run id, process) is written into the file.

    DuckDB allows one writing process per file: a scheduled refresh in the Dagster daemon and a refresh
    started from the CLI must take turns, the later one waiting rather than failing on DuckDB's lock. The
    kernel releases the lock when its process dies, however it dies, so a killed refresh never blocks one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another refresh still holds {path.name} after {timeout_s:.0f} s"
                    ) from None
                if not announced:
                    other = lock_holder(path).get("run_id")
                    log.info("waiting for another refresh to finish%s", f" (run {other})" if other else "")
                    announced = True
                time.sleep(poll_s)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder or {"process": process_identity()}))
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class BuildLock(dg.ConfigurableResource):
    """Held for a whole run by every step that writes the build database.

    Before waiting for the lock the run tags itself with its process and marks orphaned runs failed: runs
    the daemon launches from the queue and refreshes started from the CLI both pass here.
    """

    lock_path: str
    timeout_s: float = 3600.0

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[BuildLock]:
        run = context.run
        run_id = run.run_id if run is not None else None
        identity = process_identity()
        instance = context.instance
        if instance is not None and run is not None:
            if run.tags.get(PROCESS_TAG) != identity:
                instance.add_run_tags(run.run_id, {PROCESS_TAG: identity})
            reap_orphaned_runs(instance, Path(self.lock_path), exclude_run_id=run.run_id)
        holder = {"run_id": run_id, "process": identity}
        with exclusive_lock(Path(self.lock_path), self.timeout_s, holder=holder):
            yield self
