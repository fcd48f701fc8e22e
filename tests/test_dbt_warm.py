"""The dbt process a command-line refresh starts early (orchestration/dbt_warm.py).

dagster-dbt runs the launcher in dbt's place: the command must run in the waiting process, with the
launcher's output and exit code, once; any later command (or one without a waiting process) runs the
installed dbt itself, with the same output and exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from orchestration import dbt_warm
from orchestration.dbt_warm import LAUNCHER_ENV, SOCKET_ENV, WarmDbt


def _run(launcher, *args):
    return subprocess.run(
        [str(launcher), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )


def _exits(process, seconds=30.0):
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return process.poll()


def test_the_waiting_process_runs_one_command_with_its_output_and_exit_code():
    with WarmDbt() as warm:
        assert os.environ[SOCKET_ENV] == str(warm.socket)
        assert os.environ[LAUNCHER_ENV] == str(warm.launcher)
        served = _run(warm.launcher, "--help")
        assert served.returncode == 0
        assert "Usage: dbt [OPTIONS] [COMMAND]" in served.stdout
        assert _exits(warm.process) == 0  # it served the command and is done
        # the next command has no waiting process: the installed dbt runs it, the same way
        again = _run(warm.launcher, "--help")
        assert (again.returncode, again.stdout) == (0, served.stdout)
        wrong = _run(warm.launcher, "no-such-command")
        direct = _run(dbt_warm.installed_dbt(), "no-such-command")
        assert wrong.returncode == direct.returncode != 0
        assert "No such command" in wrong.stderr + wrong.stdout
    assert SOCKET_ENV not in os.environ and LAUNCHER_ENV not in os.environ
    assert not warm.folder.exists()


def test_a_failing_command_in_the_waiting_process_exits_as_dbt_does():
    with WarmDbt() as warm:
        wrong = _run(warm.launcher, "no-such-command")
        assert _exits(warm.process) is not None  # it was the waiting process that ran it
        direct = _run(dbt_warm.installed_dbt(), "no-such-command")
        assert wrong.returncode == direct.returncode == 2
        assert "No such command" in wrong.stderr + wrong.stdout


def test_an_unused_waiting_process_is_stopped_with_the_refresh():
    warm = WarmDbt().start()
    process = warm.process
    warm.close()
    assert process.poll() is not None


def test_the_waiting_process_exits_when_the_refresh_process_is_gone(tmp_path):
    # a refresh process that starts one and dies without a word (kill -9)
    script = (
        "import os, sys; from orchestration.dbt_warm import WarmDbt; "
        "warm = WarmDbt().start(); print(warm.process.pid, flush=True); os._exit(0)"
    )
    started = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(started.stdout.split()[0])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # a zombie of the dead parent is reaped by init: read its state
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.5)
    pytest.fail(f"the waiting dbt process {pid} outlived its refresh")


class _Command:
    def __init__(self, name):
        self.command = type("command", (), {"name": name})()


def test_a_build_writes_its_manifest_once_and_secrets_are_still_scrubbed(monkeypatch):
    from dbt.cli import requires
    from dbt_common.events import functions

    calls = []
    monkeypatch.setattr(
        requires, "setup_manifest", lambda ctx, write=True, write_perf_info=False: calls.append(write)
    )
    monkeypatch.setattr(functions, "env_secrets", functions.env_secrets)  # restored after the test
    monkeypatch.setenv("DBT_ENV_SECRET_TOKEN", "s3cr3t-value")
    dbt_warm.lighten_command()
    requires.setup_manifest(_Command("build"))  # the build writes it when it ends (GraphRunnableTask.run)
    requires.setup_manifest(_Command("parse"))
    requires.setup_manifest(_Command("compile"), write=False)
    assert calls == [False, True, False]
    assert functions.env_scrubber("token s3cr3t-value in a log line") == "token ***** in a log line"
