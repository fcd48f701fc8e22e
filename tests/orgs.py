"""Build a simulated org through the whole stack (emulator → refresh → published warehouse)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
# A fixed end keeps the simulated world (and so every expectation drawn from its truth) reproducible.
FIXED_END = datetime(2026, 11, 2, tzinfo=UTC)


@dataclass
class BuiltOrg:
    workdir: object
    world: object
    emulator: object
    config_path: Path
    refresh: dict


def add_dimensions(org: dict[str, Any]) -> dict[str, Any]:
    """Departments, reporting lines, languages, tiers and labels for a simulated org's `org.yml`, which the
    simulator does not write yet: every team but the last in one of two departments (the last in none),
    services cycling through labels `api`, `api`+`critical` and none. Deterministic in the order of the
    org's teams and services, so a test can read them back from the file."""
    teams = org["teams"]
    for i, team in enumerate(teams[:-1]):
        team["department"] = "commerce" if i % 2 == 0 else "infrastructure"
        team["reporting_line"] = f"VP Engineering > {team['department'].title()}"
    for i, service in enumerate(org["services"]):
        service["labels"] = [["api"], ["api", "critical"], []][i % 3]
        service["language"] = ["python", "go"][i % 2]
        if i % 3 == 1:
            service["tier"] = 1
    return org


QUICKCHECK_DIR = SHARED / "data" / "dora-quickcheck"
# Three self-assessments of the tiny org's teams (payments twice, storefront once), read by its refresh.
ASSESSMENTS_DIR = REPO_ROOT / "tests" / "fixtures" / "assessments"


def add_benchmarks(org: dict[str, Any]) -> dict[str, Any]:
    """Points `benchmarks:` at DORA's published Quick Check files in the shared data, when it is there (a
    clone without it builds the org with scores and unknown means, as a user without the files would), and
    `assessments_dir` at the fixture self-assessments."""
    org["assessments_dir"] = str(ASSESSMENTS_DIR)
    if QUICKCHECK_DIR.is_dir():
        org["benchmarks"] = {
            "quickcheck_dir": str(QUICKCHECK_DIR.resolve()),
            "edition": 2025,
            "industry": "technology",
            "organization_size": "fewer_than_100",
        }
    return org


def build_org(
    root: Path,
    scale: str,
    seed: int,
    github_token: str | None = None,
    pagerduty_token: str | None = None,
    edit_config: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    now: datetime | None = None,
    full_rebuild: bool = False,
) -> BuiltOrg:
    """`github_token`/`pagerduty_token`: the tokens the emulator accepts (the demo's by default);
    `edit_config`: changes the generated `org.yml` content before the refresh reads it; `now`: the emulator
    serves the world as it was then (default its end); `full_rebuild`: the first refresh runs the
    full_rebuild job."""
    from orchestration.cli import DEMO_GITHUB_TOKEN, DEMO_PAGERDUTY_TOKEN, run_refresh
    from orchestration.workdir import Workdir
    from simulator import Emulator, generate_org
    from simulator.git_export import export_repositories

    workdir = Workdir.at(root).ensure()
    world = generate_org(scale=scale, seed=seed, end=FIXED_END)
    export_repositories(world, workdir.repos)  # services whose code is a local clone only
    world.write_truth(workdir.truth)
    github_token = github_token or DEMO_GITHUB_TOKEN
    pagerduty_token = pagerduty_token or DEMO_PAGERDUTY_TOKEN
    emulator = Emulator(
        world, host="127.0.0.1", port=0, github_token=github_token, pagerduty_token=pagerduty_token
    ).start()
    if now is not None:
        emulator.set_now(now)
    org = world.org_config(
        f"{emulator.url}/github",
        f"{emulator.url}/pagerduty",
        github_token,
        pagerduty_token,
        git_repositories=workdir.repos.relative_to(workdir.config.parent),
    )
    if edit_config is not None:
        org = edit_config(org)
    workdir.config.write_text(yaml.safe_dump(org, sort_keys=False))
    refresh = run_refresh(workdir.config, workdir, full_rebuild=full_rebuild)
    return BuiltOrg(workdir, world, emulator, workdir.config, refresh)
