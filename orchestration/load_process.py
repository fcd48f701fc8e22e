"""A source's load in a process of its own, forked from the refresh and gone when the load ends.

A load's peak memory is its own: dlt's extract buffers, the normaliser's rows, the source's pages. A
process keeps much of what it once used (Python's heap arenas stay pinned by a few live objects, glibc
keeps freed pages), so a refresh that loaded GitHub in its own process would hold gigabytes next to dbt's
build. `in_child(work)` forks: the child, which has every module and definition the refresh imported
(nothing is imported or parsed again), runs `work()` and sends back its pickled result or error; its
memory goes back to the system when it exits. The refresh process only waits meanwhile, so an emulator
served from it (the demo's) answers from another core than the one the load parses on.

What crosses back is the return value (pickled) or the error: every exception of its chain (`__cause__`,
`__context__`) with its class name, message and traceback, raised again in the refresh as `LoadProcessError`
subclasses of the same names, so the refresh's report explains them as it would have (orchestration/
report.py reads class names and messages). State the work changes in memory (counters, caches) stays in
the child: the load writes what the refresh needs after it to the build database (`meta.source_loads`).

The child dies with the refresh (Linux `PR_SET_PDEATHSIG`): a killed refresh leaves no load writing the
build database behind it. An interrupted or cancelled refresh kills the child and waits for it. Where
there is no `fork` (or with DEPLOYLENS_LOAD_IN_PROCESS=1, for debugging) the work runs in this process.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from orchestration.heap import tune_for_load

T = TypeVar("T")
INLINE_ENV = "DEPLOYLENS_LOAD_IN_PROCESS"
_PR_SET_PDEATHSIG = 1


class LoadProcessError(Exception):
    """An error raised in a load's process, raised again in the refresh (the class is named after the
    original; `original` is its module and qualified name)."""

    original = ""


class LoadProcessDied(RuntimeError):
    """The load's process ended without an answer (killed by a signal: out of memory, for instance)."""


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the refresh died before the request took effect
        os._exit(1)


def _describe(exc: BaseException) -> list[dict[str, Any]]:
    """The chain of `exc`, outermost first: what `_rebuild` needs to raise it again elsewhere."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cls = type(current)
        chain.append(
            {
                "module": cls.__module__,
                "qualname": cls.__qualname__,
                "message": str(current),
                "traceback": "".join(traceback.format_tb(current.__traceback__)),
                "link": link,  # how the one before this refers to it
                "notes": list(getattr(current, "__notes__", [])),
            }
        )
        if current.__cause__ is not None:
            current, link = current.__cause__, "cause"
        elif not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    return chain


_CLASSES: dict[tuple[str, str], type[LoadProcessError]] = {}


def _error_class(module: str, qualname: str) -> type[LoadProcessError]:
    """A LoadProcessError subclass that prints as the original class does (module and qualified name)."""
    key = (module, qualname)
    if key not in _CLASSES:
        name = qualname.rpartition(".")[2]
        _CLASSES[key] = type(name, (LoadProcessError,), {"__module__": module, "__qualname__": qualname})
    return _CLASSES[key]


def _rebuild(chain: list[dict[str, Any]]) -> LoadProcessError:
    """The chain `_describe` wrote, as exceptions linked the same way; tracebacks as notes."""
    errors: list[LoadProcessError] = []
    for part in chain:
        error = _error_class(part["module"], part["qualname"])(part["message"])
        error.original = f"{part['module']}.{part['qualname']}"
        for note in part["notes"]:
            error.add_note(note)
        if part["traceback"]:
            error.add_note(f"in the load's process ({error.original}):\n{part['traceback'].rstrip()}")
        errors.append(error)
    for outer, inner, part in zip(errors, errors[1:], chain[1:], strict=False):
        if part["link"] == "cause":
            outer.__cause__ = inner
        else:
            outer.__context__ = inner
    return errors[0]


def _child(work: Callable[[], Any], parent: int, out: int) -> None:
    """Run `work` and write its answer to `out`; never returns."""
    code = 0
    try:
        _die_with_parent(parent)
        tune_for_load()  # the child runs one load and exits (orchestration/heap.py)
        try:
            answer: tuple[str, Any] = ("ok", work())
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the refresh
            answer, code = ("error", _describe(exc)), 1
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot cross is an error of its own
            data, code = pickle.dumps(("error", _describe(exc))), 1
        with os.fdopen(out, "wb") as pipe:
            pipe.write(data)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - nothing left to tell
                pass
        os._exit(code)  # no atexit, no finalisers: the refresh's open files and connections are its own


def in_child(work: Callable[[], T]) -> T:
    """`work()` in a forked process; its result, or its error raised again (see the module's doc)."""
    if not hasattr(os, "fork") or os.environ.get(INLINE_ENV, "") not in ("", "0"):
        return work()
    for stream in (sys.stdout, sys.stderr):  # else the child writes the buffered lines again
        stream.flush()
    parent = os.getpid()
    read, write = os.pipe()
    # An interrupt that comes while the child starts is held until the refresh can stop the child.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read)
        os.close(write)
        raise
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read)
        _child(work, parent, write)
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:  # interrupted or cancelled: the load stops with the refresh
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    if not data:
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            hint = " (out of memory?)" if number == signal.SIGKILL else ""
            raise LoadProcessDied(f"the load's process was killed by {signal.Signals(number).name}{hint}")
        raise LoadProcessDied(f"the load's process exited with code {os.waitstatus_to_exitcode(status)}")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise _rebuild(value)
    return value
