"""One source's load on a sample of an org, extract, normalise and load timed and measured apart.

`python -m benchmarks.source_sample --source gitlab[:N] [--source github[:N] ...] [--scale large]` serves the
org from the benchmark's emulator in a process of its own (benchmarks/emulator.py: its CPU and memory are not
the load's), takes every N-th (default 40) GitLab project or GitHub repository of the org in name order and
loads each source named, one after the other in this process as a refresh does, into a fresh DuckDB file. Per
source and phase it prints the wall and CPU seconds, the emulator's CPU seconds, the resident memory of this
process (and of its children but the emulator) at the phase's end and its peak during the phase (sampled from
/proc every 0.2 s), and the rows per table, and the GitHub requests the emulator served by endpoint and
status; `--json FILE` writes the same figures, `--profile FILE` cProfile stats of each extract to
`FILE.<source>.prof` (of its normalise and load to `FILE.<source>.normalize.prof`, `.load.prof`);
`--incremental` then advances the org by a day and loads each source again, as a refresh
the next day would; `--latency-ms` makes each answer wait that long, as a real API's round trip does;
`--workflow-repositories` takes the GitHub sample from the repositories with a `workflow` deploy rule only
(the only ones whose Actions jobs are read). The
process's garbage collector is tuned as a refresh's load process tunes it (`tune_for_load`). The
sources get the arguments a refresh gives them (the org's configuration). The large org comes from the world
cache under `--bench-dir` (generated on first use, about two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from benchmarks.harness import PeakRss, tree_rss_bytes
from benchmarks.large import EmulatorProcess
from orchestration.heap import tune_for_load

ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _listed(url: str, headers: dict[str, str], params: dict[str, Any]) -> list[dict]:
    """Every page of a GitLab or GitHub list endpoint (Link headers)."""
    out: list[dict] = []
    next_url: str | None = url
    while next_url:
        answer = requests.get(next_url, headers=headers, params=params, timeout=120)
        answer.raise_for_status()
        out += answer.json()
        next_url, params = answer.links.get("next", {}).get("url"), {}
    return out


def gitlab_sample(config: dict, every: int, org_yml: Path) -> dict[str, Any]:
    gl = config["sources"]["gitlab"]
    root = gl["base_url"].rstrip("/") + "/api/v4"
    group = requests.utils.quote(gl["group"], safe="")
    params = {"include_subgroups": "true", "per_page": 100}
    listed = _listed(f"{root}/groups/{group}/projects", {"PRIVATE-TOKEN": gl["token"]}, params)
    paths = sorted(project["path_with_namespace"] for project in listed)[::every]
    start = gl.get("start_date") or config["sources"]["github"].get("start_date")
    from ingestion.config import load_config, path_repositories

    return {
        "base_url": gl["base_url"],
        "token": gl["token"],
        "projects": paths,
        "start_date": start,
        "file_repositories": path_repositories(load_config(org_yml)),
    }


def github_sample(config: dict, every: int, org_yml: Path, workflows_only: bool = False) -> dict[str, Any]:
    """The GitHub source's arguments as the refresh passes them (orchestration/assets.py: GraphQL, the
    deploy rules' branches and workflows, the path repositories), narrowed to every N-th repository (of
    those with a `workflow` deploy rule when `workflows_only`)."""
    from ingestion.config import branch_push_patterns, load_config, path_repositories, workflow_rules

    gh = config["sources"]["github"]
    org = gh["organization"]
    headers = {"Authorization": f"Bearer {gh['token']}"}
    listed = _listed(f"{gh['base_url'].rstrip('/')}/orgs/{org}/repos", headers, {"per_page": 100})
    parsed = load_config(org_yml)
    ruled = {name.lower() for name in workflow_rules(parsed)}
    names = sorted(
        repo["name"] for repo in listed if not workflows_only or repo["full_name"].lower() in ruled
    )[::every]
    return {
        "base_url": gh["base_url"],
        "organization": org,
        "token": gh["token"],
        "repositories": names,
        "start_date": gh.get("start_date"),
        "deploy_branches": branch_push_patterns(parsed),
        "deploy_workflows": workflow_rules(parsed),
        "workflow_runs": gh.get("workflow_runs", "deploy"),
        "api": gh.get("api", "graphql"),
        "max_concurrency": gh.get("max_concurrency", 4),
        "file_repositories": path_repositories(parsed),
        "commit_file_repositories": path_repositories(parsed),
    }


def _source(name: str, sample: dict[str, Any]) -> Any:
    if name == "gitlab":
        from ingestion.gitlab import gitlab_source

        return gitlab_source(**sample)
    from ingestion.github import github_source

    return github_source(**sample)


class _LoadRss(PeakRss):
    """The resident memory of this process and its children but the emulator's process (its own)."""

    def __init__(self, emulator_pid: int) -> None:
        super().__init__(os.getpid())
        self.emulator_pid = emulator_pid

    def now(self) -> int:
        return tree_rss_bytes(self.root) - tree_rss_bytes(self.emulator_pid)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.interval)


def _phase(label: str, step: Any, emulator_pid: int) -> tuple[Any, dict[str, float]]:
    wall, cpu, emu = time.monotonic(), _own_cpu(), _cpu_of(emulator_pid)
    with _LoadRss(emulator_pid) as peak:
        result = step()
    figures = {
        "wall_s": round(time.monotonic() - wall, 1),
        "cpu_s": round(_own_cpu() - cpu, 1),
        "emulator_cpu_s": round(_cpu_of(emulator_pid) - emu, 1),
        "peak_rss_mb": round(max(peak.peak, peak.now()) / 2**20),
        "rss_after_mb": round(peak.now() / 2**20),
    }
    print(f"  {label:<10} " + ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
    return result, figures


def load_sample(
    name: str, sample: dict[str, Any], workdir: Path, emulator_pid: int, profile: Path | None = None
) -> dict[str, Any]:
    from ingestion.pipelines import make_pipeline

    size = len(sample.get("projects") or sample.get("repositories") or [])
    print(f"{name}: {size} of the org's {'projects' if name == 'gitlab' else 'repositories'}", flush=True)
    pipeline = make_pipeline(name, workdir / "build.duckdb", workdir / "dlt")
    out: dict[str, Any] = {"sample": size}

    def profiled(step: Any, suffix: str) -> Any:
        def run() -> Any:
            if profile is None:
                return step()
            import cProfile

            with cProfile.Profile() as profiler:
                result = step()
            profiler.dump_stats(str(profile.with_suffix(f".{name}{suffix}.prof")))
            return result

        return run

    extract = profiled(lambda: pipeline.extract(_source(name, sample)), "")
    _, out["extract"] = _phase("extract", extract, emulator_pid)
    info, out["normalize"] = _phase("normalize", profiled(pipeline.normalize, ".normalize"), emulator_pid)
    _, out["load"] = _phase("load", profiled(pipeline.load, ".load"), emulator_pid)
    rows = {t: n for t, n in info.row_counts.items() if not t.startswith("_dlt")}
    out["rows"] = rows
    total = sum(rows.values())
    seconds = sum(out[phase]["wall_s"] for phase in ("extract", "normalize", "load"))
    rate = total / max(seconds, 0.1)
    print(f"  rows {total:,} in {seconds:.1f} s ({rate:,.0f} a second): {rows}", flush=True)
    return out


def _measured(
    name: str, sample: dict[str, Any], workdir: Path, emulator: EmulatorProcess, profile: Path | None
) -> dict[str, Any]:
    """One load of the sample, with the requests the emulator counted for it and the memory left after."""
    before = emulator.ask("usage")
    emulator.ask("log")
    out = load_sample(name, sample, workdir, emulator.process.pid, profile)
    after = emulator.ask("usage")
    out["requests"] = {
        key: after.get(name, {}).get(key, 0) - before.get(name, {}).get(key, 0)
        for key in after.get(name, {})
        if isinstance(after[name][key], int | float)
    }
    print(f"  requests: {out['requests']}", flush=True)
    out["requests_by_endpoint"] = emulator.ask("log")
    print(f"  by endpoint: {out['requests_by_endpoint']}", flush=True)
    from ingestion.pipelines import release_memory

    release_memory()
    released = _LoadRss(emulator.process.pid).now()
    out["rss_after_release_mb"] = round(released / 2**20)
    print(f"  after release_memory: {released / 2**20:.0f} MB", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.source_sample")
    parser.add_argument("--source", action="append", required=True, help="gitlab or github, :N every N-th")
    parser.add_argument("--scale", default="large")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / ".deploylens" / "bench")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--profile", type=Path, help="cProfile stats of each phase: FILE.<source>[.normalize|.load].prof"
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="then advance the org by a day and load each source again (profiled: FILE_day.<source>.prof)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="each emulator answer waits this long, as over a network"
    )
    parser.add_argument(
        "--workflow-repositories",
        action="store_true",
        help="the GitHub sample of the repositories with a `workflow` deploy rule (Actions jobs read)",
    )
    args = parser.parse_args(argv)
    # the collector as in a refresh's load process (orchestration/load_process.py): this process loads too
    tune_for_load()

    workdir = args.bench_dir / f"{args.scale}_sample"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    behind = 1 if args.incremental else 0
    emulator = EmulatorProcess(args.scale, args.bench_dir, workdir, behind, latency_ms=args.latency_ms)
    results: dict[str, Any] = {}
    try:
        config = yaml.safe_load((workdir / "org.yml").read_text())
        samples = {
            "gitlab": gitlab_sample,
            "github": lambda *a: github_sample(*a, workflows_only=args.workflow_repositories),
        }
        asked = [(name, int(every or 40)) for name, _, every in (a.partition(":") for a in args.source)]
        chosen = {name: samples[name](config, every, workdir / "org.yml") for name, every in asked}
        for name, sample in chosen.items():
            results[name] = _measured(name, sample, workdir, emulator, args.profile)
        if args.incremental:
            print(f"advance one day: {emulator.ask('advance 1')}", flush=True)
            day = args.profile.with_name(args.profile.name + "_day") if args.profile else None
            for name, sample in chosen.items():
                results[f"{name}_day"] = _measured(name, sample, workdir, emulator, day)
    finally:
        emulator.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
