"""Plumbing every benchmark shares: targets, the results file, the printed table, and measuring a command.

A result is `{name: {"value": v, "unit": u}}` in `.deploylens/bench/results.json`; each run merges its
figures into what earlier runs wrote, so running one benchmark by name keeps the others' latest figures.
Peak memory is that of the whole process tree (a refresh runs dbt and its own helpers as children at the
same time), sampled from /proc while the command runs: `getrusage(RUSAGE_CHILDREN)` reports the largest
single child, not the sum of the ones alive together.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


class BenchmarkUnavailable(RuntimeError):
    """A benchmark needs something that is not there (a feature, a data file): say what, and skip it."""


@dataclass(frozen=True)
class Target:
    value: float | None  # None: printed only
    unit: str
    at_most: bool = True  # False: the figure must reach the target (throughput)


# The figures the project holds itself to on 2 cores (docs/architecture.md, Benchmarks).
TARGETS: dict[str, Target] = {
    "large_full_refresh_s": Target(300, "s"),
    "large_first_load_github_requests_per_pr": Target(0.1, "requests/PR"),
    # GitHub's GraphQL budget is counted apart from REST's, in points (5,000 an hour, as requests)
    "large_first_load_github_points_per_pr": Target(0.1, "points/PR"),
    "large_extract_records_per_s": Target(20_000, "records/s", at_most=False),
    "large_full_build_s": Target(120, "s"),
    "large_peak_rss_gib": Target(4, "GiB"),
    "large_incremental_refresh_s": Target(20, "s"),
    # the published marts against the org's truth on a sample of services: rows that differ
    "large_truth_sample_mismatches": Target(0, "rows"),
    "large_app_page_warm_p95_ms": Target(300, "ms"),
    "large_app_page_cold_ms": Target(1000, "ms"),
    "demo_small_refresh_s": Target(20, "s"),
    "renovate_attribution_s": Target(2, "s"),
    "fourkeys_ratio": Target(None, "x"),
}

LARGE_PREFIX = "large_"


def scaled_name(name: str, scale: str) -> str:
    """The result name of a large benchmark rehearsed at another scale: `large_x` -> `small_x`.

    Rehearsals never overwrite the large figures; `fourkeys_ratio` (run on the large org) gets a suffix.
    """
    if scale == "large":
        return name
    if name.startswith(LARGE_PREFIX):
        return f"{scale}_{name[len(LARGE_PREFIX) :]}"
    return f"{name}_{scale}"


def target_of(name: str) -> Target | None:
    """The target of a result, rehearsals included (`small_full_refresh_s` is held to the large target)."""
    if name in TARGETS:
        return TARGETS[name]
    for known, target in TARGETS.items():
        if known.startswith(LARGE_PREFIX) and name.endswith("_" + known[len(LARGE_PREFIX) :]):
            return target
        if name.startswith(known + "_"):
            return target
    return None


def load_results(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def merge_results(path: Path, new: dict[str, dict]) -> dict[str, dict]:
    """Write `new` over the results already in `path` (others kept); returns the merged results."""
    results = load_results(path)
    results.update(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return results


def _number(value: float) -> str:
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def verdict(name: str, value: float) -> tuple[str, str, str]:
    """(target, ratio to target, pass/miss) as printed; empty strings where there is no target."""
    target = target_of(name)
    if target is None or target.value is None or not isinstance(value, int | float):
        return "", "", ""
    ratio = f"{value / target.value:.2f}x" if target.value else "-"  # a target of 0 has no ratio
    met = value <= target.value if target.at_most else value >= target.value
    sign = "<=" if target.at_most else ">="
    return f"{sign} {_number(target.value)}", ratio, "pass" if met else "MISS"


def table(results: dict[str, dict], names: list[str]) -> str:
    """The printed table of `names` (in that order): value, unit, target, ratio, pass/miss."""
    rows = [("benchmark", "value", "unit", "target", "ratio", "")]
    for name in names:
        entry = results.get(name)
        if not entry:
            continue
        value = entry.get("value")
        shown = _number(value) if isinstance(value, int | float) else str(value)
        rows.append((name, shown, str(entry.get("unit", "")), *verdict(name, value)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, 2, 5) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- peak memory
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # the command name (2nd field) may hold spaces and parentheses: split after its last ')'
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_rss(root: int) -> dict[int, int]:
    """Resident memory of `root` and every process below it, now, by process id (empty once it is gone)."""
    children = _children_map()
    sizes: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in sizes:
            continue
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                sizes[pid] = int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(children.get(pid, []))
    return sizes


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and every process below it, now (0 once it is gone)."""
    return sum(tree_rss(root).values())


def describe_process(pid: int) -> str:
    """A short name for a process: its program and first arguments (`python -m orchestration.cli
    refresh`, `dbt build`), never its environment."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return f"pid {pid}"
    if not argv:
        return f"pid {pid}"
    words = [Path(argv[0]).name]
    for arg in argv[1:]:
        if len(words) == 4 or (arg.startswith("-") and arg not in ("-m", "-c")):
            break
        words.append(Path(arg).name if "/" in arg else arg)
        if arg == "-c":  # not the program text
            break
    return " ".join(words)


class PeakRss:
    """Samples the resident memory of a process tree every `interval` seconds until stopped; remembers
    when the peak came and what each process held then."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root, self.interval = root, interval
        self.peak = 0
        self.peak_at_s = 0.0  # seconds after sampling started
        self.peak_parts: list[tuple[str, int]] = []  # (process, bytes), largest first
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            sizes = tree_rss(self.root)
            total = sum(sizes.values())
            if total > self.peak:
                self.peak, self.peak_at_s = total, time.perf_counter() - self._started
                self.peak_parts = sorted(
                    ((describe_process(pid), size) for pid, size in sizes.items()), key=lambda part: -part[1]
                )
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gib(self) -> float:
        return self.peak / 2**30

    def peak_summary(self) -> str:
        """`5.66 GiB at 1,234 s: dbt build 2.9 GiB, python -m orchestration.cli refresh 2.7 GiB`."""
        parts = ", ".join(f"{name} {size / 2**30:.2f} GiB" for name, size in self.peak_parts if size >= 2**26)
        return f"{self.peak_gib:.2f} GiB at {self.peak_at_s:,.0f} s: {parts or 'no process over 64 MiB'}"


def with_venv_path(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with this interpreter's scripts first on PATH, as `uv run` has it:
    a refresh starts `dbt` by name."""
    env = dict(os.environ if env is None else env)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    return env


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_gib: float
    output: str  # stdout and stderr, interleaved
    peak_summary: str = ""  # when the peak came and what each process held then (PeakRss.peak_summary)


class CommandFailed(RuntimeError):
    """A measured command that failed or was stopped at its time budget, with what was measured until
    then (a benchmark that cannot complete says where it stopped)."""

    def __init__(self, message: str, measured: Measured, stopped_at_budget: bool) -> None:
        super().__init__(message)
        self.measured = measured
        self.stopped_at_budget = stopped_at_budget


# a command stopped at its budget gets SIGTERM (a refresh ends its run as interrupted), SIGKILL after this
STOP_GRACE_S = 60


def _default_sigterm() -> None:
    """In the measured command, before it starts: SIGTERM takes its default action and is not blocked.
    Both an ignored and a blocked signal pass through exec, so a command started from a process that
    ignores or blocks SIGTERM would otherwise never see the stop at its budget."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def run_measured(
    command: list[str],
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    what: str = "",
    budget_s: float | None = None,
) -> Measured:
    """Run `command`, timing it and sampling its process tree's memory; output goes to `log` too.

    A failing command raises CommandFailed with the last lines of its output, so a benchmark says why it
    failed; so does one still running after `budget_s` seconds, which is stopped then.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    env = with_venv_path(env)
    started = time.perf_counter()
    stopped = False
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_default_sigterm,
        )
        with PeakRss(process.pid) as rss:
            try:
                process.wait(timeout=budget_s)
            except subprocess.TimeoutExpired:
                stopped = True
                process.terminate()
                try:
                    process.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    seconds = time.perf_counter() - started
    output = log.read_text(errors="replace")
    measured = Measured(seconds, rss.peak_gib, output, rss.peak_summary())
    if stopped or process.returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        why = f"stopped at its budget of {budget_s:.0f} s" if stopped else f"exited {process.returncode}"
        raise CommandFailed(f"{what or command[0]} {why} (log: {log}):\n{tail}", measured, stopped)
    return measured
