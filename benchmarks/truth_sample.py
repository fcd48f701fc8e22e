"""The benchmark org's marts against its truth, on a sample of services.

The large org is too big to compare whole in a benchmark's memory and time, and a sample is what the scale
work promises: on every n-th service by name, production deployments both ways and each commit's and each
change's first production deployment exact (lead time and phases within a minute), by the same comparison
the end-to-end tests hold the small orgs to (`tests/truth.py`). Failure flags and incident blame are
printed as precision and recall.

The truth is written as of the clock the emulator served the last refresh at: the refresh benchmarks
record it, with the world's end, in the workdir (`emulator_clock.json`).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from benchmarks.harness import BenchmarkUnavailable

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SIZE = 10
CLOCK_FILE = "emulator_clock.json"
# the marts the comparison reads, each filtered to the sampled services
MARTS = ("fct_deployments", "fct_changes", "fct_commits", "fct_incidents", "dim_services")


def _truth_module():
    """`tests/truth.py`: one comparison for the tests and the benchmarks."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import truth

    return truth


def record_clock(workdir: Path, clock: dict) -> None:
    """`clock`: the emulator's answer to `clock` ({"end": ..., "now": ...}, ISO times)."""
    (workdir / CLOCK_FILE).write_text(json.dumps({"end": clock["end"], "now": clock["now"]}) + "\n")


def recorded_clock(workdir: Path) -> tuple[datetime, datetime]:
    """(the world's end, the clock the last refresh was served at)."""
    path = workdir / CLOCK_FILE
    if not path.exists():
        raise BenchmarkUnavailable(
            f"no record of the clock the emulator served the last refresh at ({path}): "
            "run the refresh benchmarks first"
        )
    clock = json.loads(path.read_text())
    return datetime.fromisoformat(clock["end"]), datetime.fromisoformat(clock["now"])


def sample_services(warehouse: Path, size: int = SAMPLE_SIZE) -> list[str]:
    """Every n-th service by name, `size` of them (all when there are fewer)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        services = [
            row[0]
            for row in con.execute("select service from marts.dim_services order by service").fetchall()
        ]
    step = max(1, len(services) // size)
    return services[::step][:size]


def read_sampled_marts(warehouse: Path, services: list[str]) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: con.execute(f"select * from marts.{name} where list_contains(?, service)", [services]).df()
            for name in MARTS
        }


def sampled_truth(truth_dir: Path, services: list[str]) -> dict[str, pd.DataFrame]:
    return {
        name: frame[frame["service"].isin(services)].reset_index(drop=True)
        for name, frame in _truth_module().read_truth(truth_dir).items()
    }


def horizon(config_path: Path) -> pd.Timestamp:
    return pd.Timestamp(yaml.safe_load(config_path.read_text())["sources"]["github"]["start_date"])


def compare_sample(truth_dir: Path, warehouse: Path, config_path: Path, services: list[str]) -> dict:
    """Counts of what differs on the sampled services (`mismatches`: the sum that must be 0)."""
    truth = _truth_module()
    result = truth.compare(
        sampled_truth(truth_dir, services), read_sampled_marts(warehouse, services), horizon(config_path)
    )
    counts = {
        "production_deployments": result.production_deployments,
        "production_deployments_missing": len(result.production_deployments_missing),
        "production_deployments_extra": len(result.production_deployments_extra),
        "commits_compared": result.commits_compared,
        "commit_mismatches": len(result.commit_mismatches),
        "changes_compared": result.changes_compared + result.direct_pushes_compared,
        "change_deployment_mismatches": len(result.change_deployment_mismatches),
        "lead_times_compared": result.lead_times_compared,
        "lead_time_mismatches": len(result.lead_time_mismatches),
    }
    differing = ("_missing", "_extra", "mismatches")
    counts["mismatches"] = sum(value for key, value in counts.items() if key.endswith(differing))
    counts.update(
        failure_precision=round(result.failure_precision, 4),
        failure_recall=round(result.failure_recall, 4),
        blame_precision=round(result.blame_precision, 4),
        blame_recall=round(result.blame_recall, 4),
    )
    return counts


def truth_sample(scale: str, bench_dir: Path, seed: int = 7) -> dict[str, dict]:
    """The benchmark org's published warehouse against its truth on a sample of services."""
    from benchmarks.emulator import load_world
    from benchmarks.harness import scaled_name
    from benchmarks.large import org_workdir

    workdir = org_workdir(bench_dir, scale)
    warehouse = workdir / "warehouse.duckdb"
    if not warehouse.exists():
        raise BenchmarkUnavailable(f"no benchmark warehouse at {warehouse}: run the refresh benchmarks first")
    end, served_at = recorded_clock(workdir)
    services = sample_services(warehouse)
    print(f"[{scale}] truth as of {served_at.isoformat()}, {len(services)} services: {', '.join(services)}")
    world = load_world(scale, seed, end, bench_dir / "world_cache")
    truth_dir = workdir.parent / f"{workdir.name}.truth"
    world.write_truth(truth_dir, as_of=served_at)
    del world
    counts = compare_sample(truth_dir, warehouse, workdir / "org.yml", services)
    for key, value in counts.items():
        print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
    name = scaled_name("large_truth_sample_mismatches", scale)
    return {name: {"value": counts["mismatches"], "unit": "rows"}}
