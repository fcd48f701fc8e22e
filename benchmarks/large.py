"""The large-org benchmarks: a full refresh from a fresh workdir, then one simulated day later an
incremental one, both against the emulator in a process of its own (benchmarks/emulator.py).

One full refresh gives five figures: its wall time (`full_refresh_s`: process start-up, every source's
extraction and load, dbt build, checks, publish), GitHub requests per pull request counted by the emulator,
records landed per second of load steps, the dbt build alone (dbt's own elapsed time) and the peak memory
of the refresh's process tree. Each refresh's profile (per step, per source, slowest dbt nodes) is printed
so a miss shows where the time goes. The workdir is kept (`.deploylens/bench/<scale>_org/`) for the app
page and Four Keys benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb

from benchmarks.harness import BenchmarkUnavailable, CommandFailed, run_measured, scaled_name
from benchmarks.profile import extracted_rows, refresh_profile

ROOT = Path(__file__).resolve().parents[1]
REFRESH_NAMES = [
    "large_full_refresh_s",
    "large_first_load_github_requests_per_pr",
    "large_first_load_github_points_per_pr",
    "large_extract_records_per_s",
    "large_full_build_s",
    "large_peak_rss_gib",
    "large_incremental_refresh_s",
]
EMULATOR_START_TIMEOUT_S = 1800  # generating the large org the first time takes minutes
# seconds after which the full refresh is stopped and reported where it stopped (unset: no limit)
BUDGET_VARIABLE = "DEPLOYLENS_BENCH_REFRESH_BUDGET_S"


def org_workdir(bench_dir: Path, scale: str) -> Path:
    return bench_dir / f"{scale}_org"


class EmulatorProcess:
    """benchmarks/emulator.py in a child process: start, `advance`, `usage`, stop."""

    def __init__(
        self, scale: str, bench_dir: Path, workdir: Path, behind_days: float, latency_ms: float = 0
    ) -> None:
        self.log = workdir.parent / f"{workdir.name}.emulator.log"
        command = [
            sys.executable,
            "-m",
            "benchmarks.emulator",
            "--scale",
            scale,
            "--cache",
            str(bench_dir / "world_cache"),
            "--config-out",
            str(workdir / "org.yml"),
            "--behind-days",
            str(behind_days),
            "--latency-ms",
            str(latency_ms),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
            bufsize=1,
        )
        line = self._readline(EMULATOR_START_TIMEOUT_S)
        if not line.startswith("ready "):
            self.stop()
            raise BenchmarkUnavailable(
                f"the {scale} org's emulator did not start ({line.strip() or 'no output'}); "
                f"see {self.log}:\n{self._log_tail()}"
            )
        self.url = line.split()[1]

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def _readline(self, timeout: float) -> str:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return box[0] if box else ""

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self._readline(600)
        try:
            return json.loads(line)
        except ValueError:
            return {"error": f"no answer to {command!r}: {line.strip()}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def _refresh_command(workdir: Path) -> list[str]:
    config = workdir / "org.yml"
    return [
        sys.executable,
        "-m",
        "orchestration.cli",
        "refresh",
        "--config",
        str(config),
        "--workdir",
        str(workdir),
    ]


def _budget() -> float | None:
    value = os.environ.get(BUDGET_VARIABLE)
    return float(value) if value else None


def _where_it_stopped(
    workdir: Path, failed: CommandFailed, before: tuple[int, int] | None, after: tuple[int, int] | None
) -> None:
    """What a refresh that did not complete had done: its time, peak memory, steps (the one it stopped in
    marked unfinished), the API use the emulator counted and the rows extracted but not loaded yet."""
    why = "stopped at its time budget" if failed.stopped_at_budget else "failed"
    measured = failed.measured
    print(f"  the full refresh {why} after {measured.seconds:.1f} s (peak {measured.peak_summary}):")
    print("\n".join(refresh_profile(workdir).lines()))
    if before is not None and after is not None:
        requests, points = after[0] - before[0], after[1] - before[1]
        print(f"  GitHub until then: {requests:,} requests, {points:,} GraphQL points")
    extracted = extracted_rows(workdir)
    if extracted:
        print("  extracted, not yet loaded (rows, bytes of intermediary files):")
        for table, (rows, size) in sorted(extracted.items()):
            print(f"    {table:<44} {rows:>10,} {size / 2**20:10.1f} MiB")


def pull_request_count(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select count(*) from raw_github.pull_requests").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def github_requests(usage: dict) -> tuple[int, int] | None:
    """(requests, GraphQL points) the emulator counted for GitHub, or None without counters."""
    github = usage.get("github") if isinstance(usage, dict) else None
    if not isinstance(github, dict) or "requests" not in github:
        return None
    return int(github["requests"]), int(github.get("graphql_points") or 0)


def _record_clock(workdir: Path, emulator: EmulatorProcess) -> None:
    """The clock the refresh was served at, for the truth it is compared with (benchmarks/truth_sample.py)."""
    from benchmarks.truth_sample import record_clock

    clock = emulator.ask("clock")
    if "now" in clock:
        record_clock(workdir, clock)


# Scales whose refresh benchmarks ran in this process: a later benchmark never starts them again, so a
# refresh that failed keeps its workdir (its build database and logs) for whoever reads why.
_REFRESHED: set[str] = set()


def refresh_benchmarks(scale: str, bench_dir: Path, incremental: bool = True) -> dict[str, dict]:
    """Full refresh from a fresh workdir, then an incremental one a simulated day later."""
    _REFRESHED.add(scale)
    workdir = org_workdir(bench_dir, scale)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    results: dict[str, dict] = {}
    missing: list[str] = []
    print(f"[{scale}] starting the emulator (the org is generated once and cached; not timed)", flush=True)
    emulator = EmulatorProcess(scale, bench_dir, workdir, behind_days=1)
    try:
        before = github_requests(emulator.ask("usage"))
        print(f"[{scale}] full refresh from a fresh workdir ({emulator.url})", flush=True)
        try:
            full = run_measured(
                _refresh_command(workdir),
                ROOT,
                workdir.parent / f"{workdir.name}.full.log",
                env,
                "full refresh",
                budget_s=_budget(),
            )
        except CommandFailed as failed:
            _where_it_stopped(workdir, failed, before, github_requests(emulator.ask("usage")))
            raise
        after = github_requests(emulator.ask("usage"))
        _record_clock(workdir, emulator)
        profile = refresh_profile(workdir)
        print("\n".join(profile.lines()))
        print(f"  peak memory {full.peak_summary}", flush=True)
        results[scaled_name("large_full_refresh_s", scale)] = {"value": round(full.seconds, 1), "unit": "s"}
        results[scaled_name("large_peak_rss_gib", scale)] = {"value": round(full.peak_gib, 3), "unit": "GiB"}
        prs = pull_request_count(workdir / "warehouse.duckdb")
        if before is None or after is None:
            missing.append(
                "large_first_load_github_requests_per_pr: the emulator counts no requests "
                "(Emulator.usage() is missing)"
            )
        elif prs:
            requests, points = after[0] - before[0], after[1] - before[1]
            results[scaled_name("large_first_load_github_requests_per_pr", scale)] = {
                "value": round(requests / prs, 4),
                "unit": "requests/PR",
            }
            results[scaled_name("large_first_load_github_points_per_pr", scale)] = {
                "value": round(points / prs, 4),
                "unit": "points/PR",
            }
            print(f"  GitHub: {requests:,} requests, {points:,} GraphQL points for {prs:,} pull requests")
        if profile.load_seconds and profile.rows_loaded:
            rate = profile.rows_loaded / profile.load_seconds
            results[scaled_name("large_extract_records_per_s", scale)] = {
                "value": round(rate),
                "unit": "records/s",
            }
            print(f"  {profile.rows_loaded:,} records landed in {profile.load_seconds:.1f} s of load steps")
        else:
            missing.append("large_extract_records_per_s: no rows_loaded or load steps recorded")
        if profile.dbt_elapsed_s is not None:
            results[scaled_name("large_full_build_s", scale)] = {
                "value": round(profile.dbt_elapsed_s, 1),
                "unit": "s",
            }
        else:
            missing.append("large_full_build_s: the build left no run_results.json")

        answer = emulator.ask("advance 1") if incremental else {}
        if not incremental:
            missing.append("large_incremental_refresh_s: skipped (--no-incremental)")
        elif "now" not in answer:
            missing.append(f"large_incremental_refresh_s: the emulator could not advance ({answer})")
        else:
            print(f"[{scale}] incremental refresh after one simulated day (now {answer['now']})", flush=True)
            later = run_measured(
                _refresh_command(workdir),
                ROOT,
                workdir.parent / f"{workdir.name}.incremental.log",
                env,
                "incremental refresh",
            )
            _record_clock(workdir, emulator)
            print("\n".join(refresh_profile(workdir).lines()))
            print(f"  peak memory {later.peak_summary}", flush=True)
            results[scaled_name("large_incremental_refresh_s", scale)] = {
                "value": round(later.seconds, 1),
                "unit": "s",
            }
            results[scaled_name("large_incremental_peak_rss_gib", scale)] = {
                "value": round(later.peak_gib, 3),
                "unit": "GiB",
            }
    finally:
        emulator.stop()
    for line in missing:
        print(f"  not measured: {line}")
    return results


def ensure_org_warehouse(scale: str, bench_dir: Path) -> tuple[Path, dict[str, dict]]:
    """The benchmark org's published warehouse: the last refresh benchmarks' one, else refreshed now."""
    warehouse = org_workdir(bench_dir, scale) / "warehouse.duckdb"
    if warehouse.exists():
        return warehouse, {}
    if scale in _REFRESHED:
        raise BenchmarkUnavailable(
            f"the refresh benchmarks of this run published no warehouse at {warehouse} (see above); "
            "not refreshing again, so their workdir keeps what they left"
        )
    print(f"[{scale}] no benchmark warehouse yet: running the refresh benchmarks first", flush=True)
    results = refresh_benchmarks(scale, bench_dir)
    if not warehouse.exists():
        raise BenchmarkUnavailable(f"the refresh benchmarks published no warehouse at {warehouse}")
    return warehouse, results
