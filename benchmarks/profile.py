"""Where a refresh's time went, read from what the refresh itself recorded.

- Steps (each source's load, the dbt build, the checks, the publish): the Dagster run's step events in the
  workdir's Dagster home.
- Rows and API use per source: `meta.source_loads` of the published warehouse.
- The slowest dbt nodes: the build's `run_results.json`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass
class RefreshProfile:
    run_id: str | None = None
    steps: dict[str, float] = field(default_factory=dict)  # step key -> seconds
    loads: list[dict] = field(default_factory=list)  # meta.source_loads rows of the run
    dbt_elapsed_s: float | None = None
    dbt_slowest: list[tuple[str, float]] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(load.get("rows_loaded") or 0 for load in self.loads)

    @property
    def load_seconds(self) -> float:
        return sum(seconds for step, seconds in self.steps.items() if step.startswith("load_"))

    def api(self, source: str, column: str) -> int | None:
        values = [load.get(column) for load in self.loads if load["source"] == source]
        known = [value for value in values if value is not None]
        return sum(known) if known else None

    def lines(self) -> list[str]:
        out = [f"  profile of refresh run {self.run_id}:"]
        total = sum(self.steps.values())
        for step, seconds in sorted(self.steps.items(), key=lambda item: -item[1]):
            share = f"{seconds / total:5.1%}" if total else ""
            out.append(f"    {step:<40} {seconds:8.1f} s  {share}")
        for load in self.loads:
            api = ""
            if load.get("api_requests") is not None:
                api = f", {load['api_requests']:,} API requests"
                if load.get("api_points") is not None:
                    api += f", {load['api_points']:,} GraphQL points"
            out.append(f"    rows landed {load['source']:<28} {load.get('rows_loaded') or 0:>10,}{api}")
        if self.dbt_elapsed_s is not None:
            out.append(f"    dbt build (run_results elapsed)          {self.dbt_elapsed_s:8.1f} s; slowest:")
            out += [f"      {name:<44} {seconds:6.1f} s" for name, seconds in self.dbt_slowest]
        return out


def step_seconds(dagster_home: Path, run_id: str | None = None) -> tuple[str | None, dict[str, float]]:
    """Seconds per step of `run_id` (default: the instance's latest run), from STEP_START to its end."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        if run_id is None:
            runs = instance.get_runs(limit=1)
            if not runs:
                return None, {}
            run_id = runs[0].run_id
        started: dict[str, float] = {}
        steps: dict[str, float] = {}
        last = None
        for entry in instance.all_logs(run_id):
            last = entry.timestamp
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
                steps[event.step_key] = entry.timestamp - started[event.step_key]
        # a run stopped mid-step: the step's time until the run's last event
        for key, at in started.items():
            if key not in steps and last is not None:
                steps[f"{key} (unfinished)"] = last - at
    return run_id, steps


def source_loads(warehouse: Path, run_id: str | None) -> list[dict]:
    """The run's `meta.source_loads` rows (every column the table has: API counters when recorded)."""
    if not warehouse.exists():
        return []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if run_id is None:
            found = con.execute(
                "select run_id from meta.refreshes order by published_at desc limit 1"
            ).fetchone()
            run_id = found[0] if found else None
        cursor = con.execute("select * from meta.source_loads where run_id = ? order by started_at", [run_id])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:
        return []
    finally:
        con.close()


def dbt_timings(target: Path, top: int = 8) -> tuple[float | None, list[tuple[str, float]]]:
    """The dbt invocation's elapsed seconds and its slowest nodes, from `run_results.json`."""
    try:
        results = json.loads((target / "run_results.json").read_text())
    except (OSError, ValueError):
        return None, []
    nodes = [
        (result["unique_id"].split(".", 2)[-1], float(result.get("execution_time") or 0))
        for result in results.get("results", [])
    ]
    nodes.sort(key=lambda node: -node[1])
    return results.get("elapsed_time"), nodes[:top]


def refresh_profile(workdir: Path) -> RefreshProfile:
    """The latest refresh of a workdir, step by step (missing parts stay empty)."""
    profile = RefreshProfile()
    try:
        profile.run_id, profile.steps = step_seconds(workdir / "dagster_home")
    except Exception as exc:  # noqa: BLE001 - a profile is a diagnosis: report what could not be read
        profile.steps = {}
        print(f"  (no Dagster step events: {type(exc).__name__}: {exc})")
    profile.loads = source_loads(workdir / "warehouse.duckdb", profile.run_id)
    profile.dbt_elapsed_s, profile.dbt_slowest = dbt_timings(workdir / "build" / "dbt_target")
    return profile


def extracted_rows(workdir: Path) -> dict[str, tuple[int, int]]:
    """Rows and bytes dlt extracted and has not normalised yet, by `pipeline.table`: what a load stopped
    during its extraction had read (its intermediary files under the workdir's `dlt/`). A JSON file cut off
    mid-write counts the rows before the cut; a Parquet file still open has no footer yet and counts its
    bytes only."""
    import pyarrow.parquet as pq

    counts: dict[str, tuple[int, int]] = {}
    for path in sorted((workdir / "dlt").glob("*/normalize/*/*/new_jobs/*")):
        pipeline, table = path.parts[-6].removeprefix("deploylens_"), path.name.split(".", 1)[0]
        rows = 0
        try:
            if ".parquet" in path.name:
                rows = pq.read_metadata(path).num_rows
            elif "jsonl" in path.name:
                opener = gzip.open if path.name.endswith(".gz") else open
                with opener(path, "rb") as lines:
                    for line in lines:
                        item = json.loads(line)
                        rows += len(item) if isinstance(item, list) else 1
        except (OSError, EOFError, ValueError, zlib.error):
            pass  # the cut-off end of a file still being written
        key = f"{pipeline}.{table}"
        before_rows, before_bytes = counts.get(key, (0, 0))
        counts[key] = (before_rows + rows, before_bytes + path.stat().st_size)
    return counts
