"""Run the benchmarks and write `{name: {"value": v, "unit": u}}` to .deploylens/bench/results.json.

Each benchmark runs in a fresh subprocess (so peak memory is its own) a few times; we report the median
wall time and the largest peak RSS, and print the ratio to the target where one is set.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / ".deploylens" / "bench" / "results.json"

BENCHMARKS = {
    # name: (command, target seconds)
    "demo_small_refresh": (
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "demo",
            "--no-serve",
            "--scale",
            "small",
            "--emulator-port",
            "0",
        ],
        60.0,
    ),
}


def _run(command: list[str], workdir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one run of `command` in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command + ["--workdir", str(workdir)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak_kib, before) / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.names:
        command, target = BENCHMARKS[name]
        times, peaks = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, peak = _run(command, Path(tmp))
            times.append(seconds)
            peaks.append(peak)
        median = statistics.median(times)
        results[f"{name}_s"] = {"value": round(median, 2), "unit": "s"}
        results[f"{name}_peak_rss_gib"] = {"value": round(max(peaks), 3), "unit": "GiB"}
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
