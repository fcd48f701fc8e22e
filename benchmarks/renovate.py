"""renovate's real history (105,690 commits, 12,129 tags): the quickstart, and attribution alone.

The repository is rebuilt once from the shared history and the quickstart's workdir kept
(`.deploylens/bench/renovate_workdir`); `renovate_attribution_s` then times the dbt part only, from the raw
tables to `fct_commits` (`dbt build --select +fct_commits`, data tests included, unit tests excluded as a
refresh does), as dbt reports it (its run's elapsed time, after parsing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import BenchmarkUnavailable, with_venv_path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def renovate_repository(bench_dir: Path) -> Path:
    """Rebuild renovate's real history once; later runs reuse it."""
    repo = bench_dir / "renovate"
    done = repo / ".deploylens-rebuilt"
    if not done.exists():
        data = SHARED / "data" / "git" / "renovate.jsonl.gz"
        tool = SHARED / "tools" / "git_rebuild.py"
        if not data.exists() or not tool.exists():
            raise BenchmarkUnavailable(
                f"renovate's history needs {data} and {tool} (see the shared data README)"
            )
        shutil.rmtree(repo, ignore_errors=True)
        print(f"rebuilding renovate into {repo} (once; not timed)", flush=True)
        subprocess.run([sys.executable, str(tool), str(data), str(repo)], check=True)
        done.write_text("rebuilt from the shared renovate history\n")
    return repo


def quickstart_command(repo: Path, workdir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "orchestration.cli",
        "quickstart",
        "--no-serve",
        str(repo),
        "--workdir",
        str(workdir),
    ]


def renovate_attribution(bench_dir: Path) -> dict[str, dict]:
    repo = renovate_repository(bench_dir)
    workdir = bench_dir / "renovate_workdir"
    build_db = workdir / "build" / "deploylens.duckdb"
    if not build_db.exists():
        print("renovate quickstart (once; not timed)", flush=True)
        subprocess.run(
            quickstart_command(repo, workdir),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            env=with_venv_path(),
        )
    target = bench_dir / "renovate_dbt_target"
    env = {**with_venv_path(), "DEPLOYLENS_BUILD_DB": str(build_db)}
    dbt = str(Path(sys.executable).with_name("dbt"))
    command = [
        dbt,
        "build",
        "--select",
        "+fct_commits",
        "--exclude",
        "test_type:unit",
        "--project-dir",
        str(ROOT / "transform"),
        "--profiles-dir",
        str(ROOT / "transform"),
        "--target-path",
        str(target),
        "--quiet",
    ]
    runs = []
    for _ in range(2):  # the first run parses the project into this target folder; the second is timed
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"dbt build --select +fct_commits failed:\n{done.stdout[-3000:]}")
        runs.append(wall)
    results = json.loads((target / "run_results.json").read_text())
    elapsed = float(results["elapsed_time"])
    slowest = sorted(results["results"], key=lambda result: -float(result.get("execution_time") or 0))[:5]
    print(
        f"  dbt build +fct_commits: {elapsed:.2f} s in dbt ({runs[-1]:.1f} s with process start-up); slowest:"
    )
    for result in slowest:
        print(f"    {result['unique_id'].split('.', 2)[-1]:<50} {float(result['execution_time']):6.2f} s")
    return {
        "renovate_attribution_s": {"value": round(elapsed, 2), "unit": "s"},
        "renovate_attribution_wall_s": {"value": round(runs[-1], 2), "unit": "s"},
    }
