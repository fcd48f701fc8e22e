"""A source's load runs in a forked process of its own (orchestration/load_process.py): its answer and its
errors come back to the refresh, its memory does not, and it never outlives the refresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration import load_process
from orchestration.load_process import LoadProcessDied, LoadProcessError, in_child
from orchestration.report import explain_step_error

ROOT = Path(__file__).resolve().parents[1]
KEPT: list = []  # what a load would leave pinned in its process


class FakeApiError(Exception):
    pass


def _rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_the_work_runs_in_another_process_and_its_answer_comes_back():
    answer = in_child(lambda: {"pid": os.getpid(), "rows": [1, 2, 3]})
    assert answer["rows"] == [1, 2, 3]
    assert answer["pid"] != os.getpid()


def test_what_the_load_kept_stays_in_its_process():
    before = _rss_bytes()

    def load() -> int:
        KEPT.extend(f"record {i}" for i in range(2_000_000))  # about 150 MB of small objects
        return len(KEPT)

    assert in_child(load) == 2_000_000
    assert KEPT == []
    assert _rss_bytes() - before < 50 * 2**20


def test_an_error_comes_back_with_its_chain_names_and_messages():
    def load() -> None:
        try:
            raise FakeApiError("GET /repos/acme/api: status 404")
        except FakeApiError as exc:
            raise RuntimeError("Pipeline execution failed at stage extract") from exc

    with pytest.raises(LoadProcessError) as caught:
        in_child(load)
    error = caught.value
    assert type(error).__name__ == "RuntimeError"
    assert str(error) == "Pipeline execution failed at stage extract"
    assert error.original == "builtins.RuntimeError"
    inner = error.__cause__
    assert type(inner).__name__ == "FakeApiError"
    assert str(inner) == "GET /repos/acme/api: status 404"
    assert inner.original.endswith("test_load_process.FakeApiError")
    assert any("raise FakeApiError" in note for note in inner.__notes__)  # the child's traceback


def test_the_report_explains_an_error_from_the_load_process_as_it_would_in_process():
    from dagster._utils.error import serializable_error_info_from_exc_info

    class ApiError(Exception):
        pass

    def load() -> None:
        try:
            raise ApiError("GET https://api.example.test/orgs/acme/repos: status 404")
        except ApiError as exc:
            raise RuntimeError("extract failed") from exc

    def explained() -> str:
        try:
            load()
        except RuntimeError:
            return explain_step_error("load_github", serializable_error_info_from_exc_info(sys.exc_info()))
        raise AssertionError("load() raised nothing")

    def explained_from_child() -> str:
        try:
            in_child(load)
        except LoadProcessError:
            return explain_step_error("load_github", serializable_error_info_from_exc_info(sys.exc_info()))
        raise AssertionError("in_child raised nothing")

    assert explained_from_child() == explained()
    assert "endpoint missing (404)" in explained()


def test_a_suppressed_context_stays_suppressed():
    def load() -> None:
        try:
            raise KeyError("token")
        except KeyError:
            raise ValueError("bad configuration") from None

    with pytest.raises(LoadProcessError) as caught:
        in_child(load)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_killed_load_is_an_error_that_says_so():
    with pytest.raises(LoadProcessDied, match="killed by SIGKILL"):
        in_child(lambda: os.kill(os.getpid(), signal.SIGKILL))


def test_an_answer_that_cannot_cross_is_an_error():
    with pytest.raises(LoadProcessError, match="pickle"):
        in_child(lambda: lambda: None)


def test_in_process_when_asked(monkeypatch):
    monkeypatch.setenv(load_process.INLINE_ENV, "1")
    assert in_child(os.getpid) == os.getpid()


def _refresh_with_a_long_load(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A process standing for a refresh, whose load (in its child) waits; and the load's process id."""
    pid_file = tmp_path / "load.pid"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        # Python leaves SIGINT ignored when its parent ignored it (a test worker may): a refresh run from
        # a terminal has the interrupt handler, so this one gets it too.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {str(ROOT)!r})
        from orchestration.load_process import in_child
        def load():
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(120)
        try:
            in_child(load)
        except KeyboardInterrupt:  # as Dagster does: the run goes on to report the interrupted step
            time.sleep(120)
        """
    )
    refresh = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the load never started"
        assert refresh.poll() is None, "the refresh ended before its load started"
        time.sleep(0.05)
    return refresh, int(pid_file.read_text())


def _gone(pid: int, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] == "Z":  # a zombie: dead, not yet reaped
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_refresh_takes_its_load_with_it(tmp_path):
    refresh, load = _refresh_with_a_long_load(tmp_path)
    refresh.kill()
    refresh.wait()
    assert _gone(load), "the load outlived its refresh"


def test_an_interrupted_refresh_stops_its_load(tmp_path):
    refresh, load = _refresh_with_a_long_load(tmp_path)
    try:
        refresh.send_signal(signal.SIGINT)  # the refresh alone, not its process group
        assert _gone(load), "the load outlived the interrupt"
        assert refresh.poll() is None  # the refresh itself goes on
    finally:
        refresh.kill()
        refresh.wait()
