"""`python -m simulator serve`: run the emulator over a generated organisation until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from simulator import Emulator, generate_org
from simulator.cache import cached_org
from simulator.faults import ENV_VAR, parse_faults
from simulator.git_export import export_repositories
from simulator.world import SCALES


def _stop_on_sigterm() -> None:
    """Stop serving on SIGTERM (a service manager, `kill`, a test's `terminate()`) as on Ctrl-C. A parent
    that ignores or blocks SIGTERM passes that on through exec; without this the emulator would outlive it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    def interrupt(signum, frame):  # noqa: ARG001 (the signal module's handler signature)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve; returns a process exit code."""
    _stop_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve emulated GitHub and PagerDuty APIs for a simulated org")
    serve.add_argument("--scale", choices=list(SCALES), default="small")
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--end", help="end of history, ISO date (default: today 00:00 UTC)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--github-token", default="gh-demo-token")
    serve.add_argument("--pagerduty-token", default="pd-demo-token")
    serve.add_argument("--gitlab-token", default="gl-demo-token")
    serve.add_argument("--jenkins-user", default="deploybot")
    serve.add_argument("--jenkins-token", default="jenkins-demo-token")
    serve.add_argument(
        "--behind-days",
        type=float,
        default=0.0,
        help="start serving N days before the end of history; POST /_control/advance?days=1 moves on",
    )
    serve.add_argument(
        "--world-cache",
        type=Path,
        default=Path(".deploylens/cache"),
        help="keep generated worlds in this folder and reuse them (default .deploylens/cache)",
    )
    serve.add_argument("--no-world-cache", action="store_true", help="generate afresh, keep nothing")
    serve.add_argument(
        "--truth", type=Path, help="write ground-truth parquet files (as of the served moment) here"
    )
    serve.add_argument("--config-out", type=Path, help="write an org.yml pointing at this emulator")
    serve.add_argument(
        "--faults",
        default=os.environ.get(ENV_VAR, ""),
        help="inject faults: API:PATH_REGEX:KIND[:TIMES[:SECONDS]],... "
        f"(docs/simulator.md, Faults; default ${ENV_VAR})",
    )
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")

    if args.behind_days < 0:
        parser.error("--behind-days must be 0 or more")
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.end:
        end = datetime.fromisoformat(args.end)
        end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    if args.no_world_cache:
        world = generate_org(scale=args.scale, seed=args.seed, end=end)
    else:
        world = cached_org(args.scale, args.seed, end, args.world_cache)
    emulator = Emulator(
        world,
        args.host,
        args.port,
        args.github_token,
        args.pagerduty_token,
        gitlab_token=args.gitlab_token,
        jenkins_user=args.jenkins_user,
        jenkins_token=args.jenkins_token,
        now=world.end - timedelta(days=args.behind_days),
    )
    emulator.add_faults(faults)
    emulator.start()
    if args.truth:
        world.write_truth(args.truth, as_of=emulator.now)
    if args.config_out:
        # services whose code is a local clone only: write the clones next to the org.yml that names them
        export_repositories(world, args.config_out.parent / "repos")
        config = world.org_config(
            f"{emulator.url}/github",
            f"{emulator.url}/pagerduty",
            args.github_token,
            args.pagerduty_token,
            gitlab_token=args.gitlab_token,
            jenkins_user=args.jenkins_user,
            jenkins_token=args.jenkins_token,
        )
        args.config_out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(
        f"simulated org {world.org!r} ({args.scale}, seed {args.seed}) "
        f"{world.start:%Y-%m-%d} .. {world.end:%Y-%m-%d}, served as of {emulator.now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"GitHub:    {emulator.url}/github     (token {args.github_token})")
    print(f"PagerDuty: {emulator.url}/pagerduty  (token {args.pagerduty_token})")
    if any(svc.delivery == "gitlab" for svc in world.services):
        print(f"GitLab:    {emulator.url}/gitlab     (PRIVATE-TOKEN {args.gitlab_token})")
    if any(svc.delivery == "jenkins" for svc in world.services):
        print(f"Jenkins:   {emulator.url}/jenkins    (user {args.jenkins_user}, token {args.jenkins_token})")
    for fault in faults:
        times = "forever" if fault.times is None else f"{fault.times}x"
        print(f"fault:     {fault.api or '*'} {fault.pattern!r} {fault.kind} {times}")
    print(f"Clock:     POST {emulator.url}/_control/advance?days=1")
    print(end="", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
