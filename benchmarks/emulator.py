"""The emulator a benchmark refreshes from, in a process of its own (so neither its CPU nor its memory
counts as the refresh's), driven through stdin.

`python -m benchmarks.emulator --scale large --cache DIR --config-out org.yml [--behind-days 1]` prints
`ready <url>` once it serves, then answers one JSON line per command line: `advance <days>` (the simulated
clock moves forward: what happened meanwhile appears), `usage` (the requests and GraphQL points the
emulator counted), `clock` (the world's end and the clock served now) and `log` (the GitHub requests
served since the last `log`, counted by endpoint, the repository and ids taken out, and status). It stops
at the end of stdin.

The large org comes from the world cache (generated once, then reused by every run); `medium` is the small
org's teams and services repeated a few times over half a year, a size between the two built here only.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

MEDIUM_COPIES = 3
MEDIUM_WEEKS = 26
# The emulator enforces GitHub's 5,000 requests an hour by default; a benchmark measures how fast a refresh
# extracts and counts the requests it spends (`usage`), so it is not throttled.
BENCH_RATE_LIMIT = 100_000_000


def register_medium() -> None:
    """Add a `medium` scale to the simulator's table, in this process only: the small org three times."""
    from simulator.world import SCALES

    if "medium" in SCALES:
        return
    spec = copy.deepcopy(SCALES["small"])
    teams = []
    for copy_no in range(1, MEDIUM_COPIES + 1):
        suffix = "" if copy_no == 1 else f"-{copy_no}"
        for team, profile, services in spec["teams"]:
            renamed = [(f"{name}{suffix}", f"{title}{suffix}", env) for name, title, env in services]
            teams.append((f"{team}{suffix}", profile, renamed))
    SCALES["medium"] = {**spec, "teams": teams, "weeks": MEDIUM_WEEKS}


def load_world(scale: str, seed: int, end: datetime, cache: Path):
    """The world of `scale`: from the world cache when the simulator has one, else generated here."""
    try:
        from simulator.cache import cached_org
    except ImportError:
        cached_org = None
    if scale == "medium":
        register_medium()
    if cached_org is not None:
        return cached_org(scale, seed, end, cache)
    from simulator import generate_org
    from simulator.world import SCALES

    if scale not in SCALES:
        raise SystemExit(f"the simulator has no {scale!r} scale (known: {', '.join(SCALES)})")
    return generate_org(scale=scale, seed=seed, end=end)


def advance(emulator, days: float) -> datetime:
    """Move the served clock forward `days` (the emulator's own `advance` when it has one)."""
    if hasattr(emulator, "advance"):
        emulator.advance(days)
    else:
        emulator.set_now(emulator.now + timedelta(days=days))
    return emulator.now


def request_log(emulator, since: int) -> dict[str, int]:
    """The GitHub requests served from the `since`-th on, counted by `METHOD endpoint status`, the
    endpoint with the organisation, repository, numbers and query values taken out."""
    counts: dict[str, int] = {}
    for method, target, status in list(getattr(emulator, "requests", []))[since:]:
        path, _, query = target.partition("?")
        if not path.startswith("/github/"):
            continue
        parts = path.split("/")[2:]
        if parts[:1] == ["repos"] and len(parts) >= 3:
            parts[1:3] = ["{repo}"]
        shape = "/".join("{n}" if part.isdigit() or len(part) == 40 else part for part in parts)
        keys = sorted(key.partition("=")[0] for key in query.split("&") if key and not key.startswith("page"))
        name = f"{method} /{shape}" + (f"?{'&'.join(keys)}" if keys else "") + f" {status}"
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator")
    parser.add_argument("--scale", default="large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", help="end of history, ISO date (default: today 00:00 UTC)")
    parser.add_argument("--cache", type=Path, required=True, help="folder of the world cache")
    parser.add_argument("--config-out", type=Path, required=True)
    parser.add_argument("--behind-days", type=float, default=0)
    parser.add_argument("--latency-ms", type=float, default=0, help="each answer waits this long (a network)")
    args = parser.parse_args(argv)

    from orchestration.cli import DEMO_GITHUB_TOKEN, DEMO_PAGERDUTY_TOKEN
    from simulator import Emulator
    from simulator.git_export import export_repositories

    end = (
        datetime.fromisoformat(args.end).replace(tzinfo=UTC)
        if args.end
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    world = load_world(args.scale, args.seed, end, args.cache)
    limits = {"rate_limit": BENCH_RATE_LIMIT}
    if "graphql_rate_limit" in inspect.signature(Emulator).parameters:  # GraphQL points have their own budget
        limits["graphql_rate_limit"] = BENCH_RATE_LIMIT
    emulator = Emulator(
        world, github_token=DEMO_GITHUB_TOKEN, pagerduty_token=DEMO_PAGERDUTY_TOKEN, **limits
    ).start()
    emulator.latency_s = args.latency_ms / 1000
    if args.behind_days:
        emulator.set_now(world.end - timedelta(days=args.behind_days))
    repos = args.config_out.parent / "repos"
    export_repositories(world, repos)
    org = world.org_config(
        f"{emulator.url}/github",
        f"{emulator.url}/pagerduty",
        DEMO_GITHUB_TOKEN,
        DEMO_PAGERDUTY_TOKEN,
        git_repositories="repos",
    )
    args.config_out.parent.mkdir(parents=True, exist_ok=True)
    args.config_out.write_text(yaml.safe_dump(org, sort_keys=False))
    logged = 0
    print(f"ready {emulator.url} {args.scale} {len(world.services)} services", flush=True)
    try:
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "advance":
                now = advance(emulator, float(rest[0]) if rest else 1.0)
                answer = {"now": now.isoformat()}
            elif command == "clock":
                answer = {"end": world.end.isoformat(), "now": emulator.now.isoformat()}
            elif command == "log":
                answer, logged = request_log(emulator, logged), len(getattr(emulator, "requests", []))
            elif command == "usage":
                answer = emulator.usage() if hasattr(emulator, "usage") else {"error": "no usage counters"}
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
