"""Run the benchmarks and write `{name: {"value": v, "unit": u}}` to .deploylens/bench/results.json.

Each benchmark runs in a fresh subprocess (so peak memory is its own) a few times; we report the median
wall time and the largest peak RSS, and print the ratio to the target where one is set. Preparation a
benchmark needs (rebuilding a real repository) happens once, is cached and is not timed. `kill_recovery`
(benchmarks/kill_recovery.py) drives its own refreshes: it kills 20 and reports how many recovered.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".deploylens" / "bench"
RESULTS = BENCH_DIR / "results.json"
SHARED = ROOT.parent / "shared"
RENOVATE = BENCH_DIR / "renovate"


def _renovate_repository() -> list[str]:
    """Rebuild renovate's real history (105,690 commits, 12,129 tags) once; later runs reuse it."""
    done = RENOVATE / ".deploylens-rebuilt"
    if not done.exists():
        data = SHARED / "data" / "git" / "renovate.jsonl.gz"
        tool = SHARED / "tools" / "git_rebuild.py"
        if not data.exists() or not tool.exists():
            raise SystemExit(f"renovate_quickstart needs {data} and {tool} (see the shared data README)")
        shutil.rmtree(RENOVATE, ignore_errors=True)
        print(f"rebuilding renovate into {RENOVATE.relative_to(ROOT)} (once; not timed)", flush=True)
        subprocess.run([sys.executable, str(tool), str(data), str(RENOVATE)], check=True)
        done.write_text("rebuilt from the shared renovate history\n")
    return [str(RENOVATE)]


def _demo(scale: str, *options: str) -> list[str]:
    """`deploylens demo --no-serve` of a simulated org, its emulator on a free port."""
    return [
        sys.executable,
        "-m",
        "orchestration.cli",
        "demo",
        "--no-serve",
        "--scale",
        scale,
        "--emulator-port",
        "0",
        *options,
    ]


# Faults a refresh rides out: truncated, failing and throttled pages (retries wait as a real refresh
# would: Retry-After, else backoff from 1 s). `demo_tiny_refresh` without them gives the retries' share.
DEMO_FAULTS = (
    r"github:/pulls\?:truncate:3,github:/deployments\?:502:3,github:/commits\?:secondary:2:1,"
    r"pagerduty:/incidents:429:2:1"
)

BENCHMARKS = {
    # name: (command, target seconds[, preparation returning extra arguments, result keys for time and RSS])
    "demo_small_refresh": (_demo("small"), 60.0),
    "demo_tiny_refresh": (_demo("tiny"), 60.0),
    "demo_tiny_refresh_with_faults": (_demo("tiny", "--faults", DEMO_FAULTS), 60.0),
    "renovate_quickstart": (
        [sys.executable, "-m", "orchestration.cli", "quickstart", "--no-serve"],
        60.0,
        _renovate_repository,
        ("renovate_quickstart_s", "renovate_peak_rss_gib"),
    ),
}

# Benchmarks that drive several processes themselves: name -> function returning result entries.
SCENARIOS = {"kill_recovery": "benchmarks.kill_recovery:kill_recovery"}

# Runs the benchmarked command and reports the peak RSS of its process tree alone (not of earlier
# preparation, which RUSAGE_CHILDREN of this process would include).
_MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(done.returncode)"
)


def _run(command: list[str], workdir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one run of `command` in its own process."""
    peak_file = workdir / "peak_rss_kib"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _MEASURE, str(peak_file), *command, "--workdir", str(workdir / "run")],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    return elapsed, int(peak_file.read_text()) / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("names", nargs="*", default=[*BENCHMARKS, *SCENARIOS])
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.names:
        if name in SCENARIOS:
            import importlib

            module, _, function = SCENARIOS[name].partition(":")
            results.update(getattr(importlib.import_module(module), function)())
            continue
        command, target, *extra = BENCHMARKS[name]
        prepare = extra[0] if extra else None
        time_key, rss_key = extra[1] if len(extra) > 1 else (f"{name}_s", f"{name}_peak_rss_gib")
        if prepare is not None:
            command = command + prepare()
        times, peaks = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, peak = _run(command, Path(tmp))
            times.append(seconds)
            peaks.append(peak)
        median = statistics.median(times)
        results[time_key] = {"value": round(median, 2), "unit": "s"}
        results[rss_key] = {"value": round(max(peaks), 3), "unit": "GiB"}
        print(
            f"{name}: median {median:.1f} s over {len(times)} runs "
            f"(min {min(times):.1f}, max {max(times):.1f}); "
            f"{median / target:.2f}x of the {target:.0f} s target; "
            f"peak RSS {max(peaks):.2f} GiB"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"results: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
