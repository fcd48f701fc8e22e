"""Run the benchmarks: `python -m benchmarks [NAME ...] [--scale small]` (`make bench ARGS="NAME"`).

Every figure goes to .deploylens/bench/results.json as `{name: {"value": v, "unit": u}}`, merged with the
figures of earlier runs, and is printed in a table with its target, the ratio to it and pass/miss. With no
name, the benchmarks of the project's table run (docs/architecture.md, Benchmarks); `--list` shows every
name. Several names measured by one run (a full refresh gives five) run it once.

The large benchmarks run on the large simulated org, generated once into the world cache under
.deploylens/bench/. `--scale small` (or `medium`, the small org repeated) rehearses them on another org:
their results are then named after that scale (`small_full_refresh_s`) and never overwrite the large ones.
A benchmark that needs a feature or data that is not there says what is missing and the others still run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import TARGETS, BenchmarkUnavailable, merge_results, run_measured, scaled_name, table

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".deploylens" / "bench"
RESULTS = BENCH_DIR / "results.json"


@dataclass(frozen=True)
class Options:
    scale: str
    repeat: int
    bench_dir: Path
    incremental: bool = True


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
# would: Retry-After, else backoff from 1 s). `demo_tiny_refresh_s` without them gives the retries' share.
DEMO_FAULTS = (
    r"github:/pulls\?:truncate:3,github:/deployments\?:502:3,github:/commits\?:secondary:2:1,"
    r"pagerduty:/incidents:429:2:1"
)


def repeated(name: str, command: list[str], options: Options, rss_name: str) -> dict[str, dict]:
    """Median wall time and largest peak memory of `repeat` runs of `command`, each in a fresh workdir."""
    times, peaks = [], []
    for run in range(options.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            measured = run_measured(
                [*command, "--workdir", str(Path(tmp) / "run")],
                ROOT,
                options.bench_dir / "logs" / f"{name}.{run}.log",
                what=name,
            )
        times.append(measured.seconds)
        peaks.append(measured.peak_gib)
        print(f"  run {run + 1}: {measured.seconds:.1f} s, peak {measured.peak_summary}", flush=True)
    return {
        name: {"value": round(statistics.median(times), 2), "unit": "s"},
        rss_name: {"value": round(max(peaks), 3), "unit": "GiB"},
    }


def _demo_benchmark(name: str, scale: str, *extra: str) -> Callable[[Options], dict]:
    return lambda options: repeated(
        name, _demo(scale, *extra), options, name.removesuffix("_s") + "_peak_rss_gib"
    )


def _refresh(options: Options) -> dict:
    from benchmarks.large import refresh_benchmarks

    return refresh_benchmarks(options.scale, options.bench_dir, incremental=options.incremental)


def _truth_sample(options: Options) -> dict:
    from benchmarks.truth_sample import truth_sample

    return truth_sample(options.scale, options.bench_dir)


def _app(options: Options) -> dict:
    from benchmarks.app_pages import app_benchmarks
    from benchmarks.large import ensure_org_warehouse

    warehouse, results = ensure_org_warehouse(options.scale, options.bench_dir)
    return {**results, **app_benchmarks(warehouse, lambda name: scaled_name(name, options.scale))}


def _fourkeys(options: Options) -> dict:
    from benchmarks.fourkeys import fourkeys_comparison
    from benchmarks.large import ensure_org_warehouse

    warehouse, results = ensure_org_warehouse(options.scale, options.bench_dir)
    target = warehouse.parent / "build" / "dbt_target"
    return {**results, **fourkeys_comparison(warehouse, target, scaled_name("fourkeys_ratio", options.scale))}


def _renovate_attribution(options: Options) -> dict:
    from benchmarks.renovate import renovate_attribution

    return renovate_attribution(options.bench_dir)


def _renovate_quickstart(options: Options) -> dict:
    from benchmarks.renovate import quickstart_command, renovate_repository

    repo = renovate_repository(options.bench_dir)
    command = quickstart_command(repo, Path("unused"))[:-2]  # `repeated` adds a fresh --workdir
    return repeated("renovate_quickstart_s", command, options, "renovate_peak_rss_gib")


def _kill_recovery(options: Options) -> dict:
    from benchmarks.kill_recovery import kill_recovery

    return kill_recovery()


@dataclass(frozen=True)
class Benchmark:
    names: tuple[str, ...]  # the results it gives (large ones renamed when rehearsed at another scale)
    run: Callable[[Options], dict]
    scaled: bool = False  # runs on the benchmark org of --scale


BENCHMARKS = [
    Benchmark(
        (
            "large_full_refresh_s",
            "large_first_load_github_requests_per_pr",
            "large_first_load_github_points_per_pr",
            "large_extract_records_per_s",
            "large_full_build_s",
            "large_peak_rss_gib",
            "large_incremental_refresh_s",
        ),
        _refresh,
        scaled=True,
    ),
    Benchmark(("large_truth_sample_mismatches",), _truth_sample, scaled=True),
    Benchmark(("large_app_page_warm_p95_ms", "large_app_page_cold_ms"), _app, scaled=True),
    Benchmark(("demo_small_refresh_s",), _demo_benchmark("demo_small_refresh_s", "small")),
    Benchmark(("renovate_attribution_s",), _renovate_attribution),
    Benchmark(("fourkeys_ratio",), _fourkeys, scaled=True),
    # Not in the table; by name only.
    Benchmark(("demo_tiny_refresh_s",), _demo_benchmark("demo_tiny_refresh_s", "tiny")),
    Benchmark(
        ("demo_tiny_refresh_with_faults_s",),
        _demo_benchmark("demo_tiny_refresh_with_faults_s", "tiny", "--faults", DEMO_FAULTS),
    ),
    Benchmark(("renovate_quickstart_s",), _renovate_quickstart),
    Benchmark(("kill_recovery",), _kill_recovery),
]
DEFAULT_NAMES = list(TARGETS)
# Names the benchmarks had before their results did: `demo_small_refresh` runs `demo_small_refresh_s`.
ALIASES = {name.removesuffix("_s"): name for b in BENCHMARKS for name in b.names if name.endswith("_s")}


def select(names: list[str]) -> list[Benchmark]:
    """The benchmarks that give `names`, each once, in the order of BENCHMARKS; unknown names raise."""
    wanted = {ALIASES.get(name, name) for name in names}
    known = {name for benchmark in BENCHMARKS for name in benchmark.names}
    unknown = sorted(wanted - known)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [benchmark for benchmark in BENCHMARKS if wanted & set(benchmark.names)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: the table's)")
    parser.add_argument("--scale", default="large", help="org of the large benchmarks: large, medium, small")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the repeated demo benchmarks")
    parser.add_argument(
        "--no-incremental", action="store_true", help="the refresh benchmarks stop after the full refresh"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmark names and stop")
    args = parser.parse_args(argv)
    if args.list:
        for benchmark in BENCHMARKS:
            print(", ".join(benchmark.names))
        return 0
    options = Options(args.scale, args.repeat, BENCH_DIR, incremental=not args.no_incremental)
    printed: list[str] = []
    failed: list[str] = []
    for benchmark in select(args.names or DEFAULT_NAMES):
        label = ", ".join(scaled_name(n, args.scale) if benchmark.scaled else n for n in benchmark.names)
        print(f"\n== {label}", flush=True)
        try:
            results = benchmark.run(options)
        except BenchmarkUnavailable as exc:
            failed.append(f"{label}: not run: {exc}")
            print(f"  not run: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one benchmark failing must not lose the others' figures
            failed.append(f"{label}: failed: {exc}")
            traceback.print_exc()
            continue
        merge_results(RESULTS, results)
        printed += [name for name in results if name not in printed]
    from benchmarks.harness import load_results

    if printed:
        print("\n" + table(load_results(RESULTS), printed))
    for line in failed:
        print(line)
    print(f"results: {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
