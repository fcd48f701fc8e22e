"""Stopping what `demo` and `app` serve: each served process and everything it started.

`dagster dev` starts a webserver, a daemon and code servers; stopping only `dagster dev` left them
serving. The stand-in here is a leader that starts a grandchild ignoring SIGINT, as a slow-to-stop server
would, and exits on SIGINT itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from orchestration.cli import stop_process_groups

GRANDCHILD = (
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(300)"
)
LEADER = f"""
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {GRANDCHILD!r}], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stopping_a_served_process_stops_what_it_started() -> None:
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    grandchild_pid, ready = leader.stdout.readline().split()
    grandchild = int(grandchild_pid)
    assert ready == "ready" and _alive(grandchild)

    stop_process_groups([leader], timeout_s=5, grace_s=0.2)

    assert leader.poll() is not None
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the grandchild that ignored SIGINT was stopped with its group"


def test_stopping_groups_that_are_gone_is_harmless() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    done.wait()
    stop_process_groups([done], timeout_s=1, grace_s=0)
