"""`deploylens` command line: demo, quickstart, refresh, app.

`refresh` runs the same Dagster job the UI and the hourly schedule run, in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestration.report import (
    DEBUG_ENV,
    EXIT_FAILED,
    RefreshReport,
    add_check_evaluations,
    add_health,
    budget_lines,
    dbt_failures,
    debug_requested,
    explain_step_error,
    read_budget,
    read_health,
)
from orchestration.workdir import DEFAULT_WORKDIR, REPO_ROOT, Workdir

log = logging.getLogger("deploylens")

# The emulator's tokens: it checks them as the real APIs do, but they guard nothing.
DEMO_GITHUB_TOKEN = "demo-github-token"
DEMO_PAGERDUTY_TOKEN = "demo-pagerduty-token"

DAGSTER_YAML = """\
# Written by deploylens. One run at a time: refreshes share one DuckDB build file.
run_queue:
  max_concurrent_runs: 1
# A run the daemon launched but whose process never started, or that hangs while being canceled, is
# marked failed. Runs a killed refresh left STARTED are marked failed by the reap_orphaned_runs sensor,
# which knows each run's process (docs/architecture.md).
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  cancel_timeout_seconds: 300
  poll_interval_seconds: 60
telemetry:
  enabled: false
# Dagster's SQLite event log with its files kept open and commits not flushed one by one: the same files
# and schema, several times faster to write (orchestration/event_log.py).
event_log_storage:
  module: orchestration.event_log
  class: FastSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
"""


class _Progress(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s] {record.getMessage()}"


def _setup_logging() -> None:
    if not any(getattr(h, "_deploylens", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_Progress())
        handler._deploylens = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def prepare_dagster_home(workdir: Workdir) -> None:
    workdir.ensure()
    event_log_dir = json.dumps(str(workdir.dagster_home / "history" / "runs"))  # a YAML string, quoted
    (workdir.dagster_home / "dagster.yaml").write_text(DAGSTER_YAML.format(event_log_dir=event_log_dir))
    os.environ["DAGSTER_HOME"] = str(workdir.dagster_home)


class RefreshFailed(RuntimeError):
    """A refresh that did not publish; the message is the report's lines (what failed, what to do)."""

    def __init__(self, report: RefreshReport, verbose: bool = False) -> None:
        super().__init__("\n".join(report.lines(verbose)))
        self.report = report


def _execute_refresh(
    config_path: Path, workdir: Workdir, full_rebuild: bool, verbose: bool, process_ends: bool = False
) -> Any:
    """The Dagster run of the refresh (or full-rebuild) job, in this process (`process_ends`: which exits
    after the refresh, so what the run froze stays frozen: `orchestration.heap.frozen_heap`)."""
    from orchestration.heap import collection_paused, frozen_heap

    with collection_paused():  # imports and definitions: objects that live as long as the run
        import dagster as dg

        from orchestration.definitions import FULL_REBUILD_JOB, REFRESH_JOB, build_definitions
        from orchestration.resources import PROCESS_TAG, process_identity, reap_orphaned_runs

        defs = build_definitions(config_path, workdir)
        job = defs.resolve_job_def(FULL_REBUILD_JOB if full_rebuild else REFRESH_JOB)
    console_level = "WARNING" if verbose else "CRITICAL"
    # The imported modules and the definitions live as long as the run: out of the collector's walks.
    with frozen_heap(process_ends), dg.DagsterInstance.get() as instance:
        # A refresh from the command line does not pass the run queue: free it of runs killed refreshes
        # left behind here too, so the schedule and the UI can start runs again.
        reap_orphaned_runs(instance, workdir.lock_file)
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={PROCESS_TAG: process_identity()},
            # Dagster's console logger would print each failure with two tracebacks; the report below
            # says what failed in a line, and --verbose adds the tracebacks.
            run_config={"loggers": {"console": {"config": {"log_level": console_level}}}},
        )


def run_refresh(
    config_path: Path,
    workdir: Workdir,
    verbose: bool | None = None,
    full_rebuild: bool = False,
    process_ends: bool = False,
) -> dict:
    """One refresh through the Dagster `refresh` job; raises RefreshFailed saying what failed and why.

    `full_rebuild` runs the `full_rebuild` job instead: the incremental models are rebuilt from scratch.
    `process_ends`: the process exits after the refresh (the command line's `--no-serve`, `refresh`).

    The returned dict holds the run id, the checks, the report and the exit code (0, or 3 when some
    source is stale; docs/architecture.md).
    """
    from orchestration.build_state import skipped_in
    from orchestration.dbt_warm import WarmDbt

    verbose = debug_requested() if verbose is None else verbose
    prepare_dagster_home(workdir)
    os.environ["DEPLOYLENS_WORKDIR"] = str(workdir.root)
    os.environ["DEPLOYLENS_CONFIG"] = str(Path(config_path).resolve())
    log.info("reading configuration %s", config_path)
    with WarmDbt():  # dbt starts up while the definitions load and the sources load
        result = _execute_refresh(config_path, workdir, full_rebuild, verbose, process_ends)
    report = RefreshReport(run_id=result.run_id)
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or not event.step_key:
            continue
        error = getattr(event.event_specific_data, "error", None)
        report.failures.append(explain_step_error(event.step_key, error, Path(config_path)))
        if event.step_key == "transform":
            report.failures += [f"  {line}" for line in dbt_failures(workdir.dbt_target)]
        if error is not None:
            report.tracebacks.append(f"--- {event.step_key}\n{error.to_string()}")
    evaluations = result.get_asset_check_evaluations()
    add_check_evaluations(report, evaluations)
    if not result.success and not report.failures:
        report.failures.append("the run failed before any step did: see the Dagster run log")
    add_health(report, read_health([workdir.build_db, workdir.warehouse], result.run_id), Path(config_path))
    report.budget = budget_lines(read_budget([workdir.build_db, workdir.warehouse], result.run_id))
    if report.failures:
        raise RefreshFailed(report, verbose)
    for line in report.lines(verbose):
        if line not in report.budget:
            log.warning(line)
    checks = {evaluation.check_name: evaluation.passed for evaluation in evaluations}
    rebuilt = not skipped_in(workdir.build_db, result.run_id)
    if rebuilt:
        log.info("checks passed: %d (dbt data tests, Great Expectations suites)", sum(checks.values()))
        log.info("refresh done: warehouse at %s", workdir.warehouse)
    else:
        log.info("refresh done: nothing changed, the warehouse at %s is unchanged", workdir.warehouse)
    for line in report.budget:  # last: what the refresh spent of each API's rate budget
        log.info(line)
    return {
        "run_id": result.run_id,
        "checks": checks,
        "report": report,
        "exit_code": report.exit_code,
        "rebuilt": rebuilt,
    }


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _assessments_folder(workdir: Workdir) -> Path:
    """Where the app's assessment form writes: the folder the refresh reads (org.yml `assessments_dir`,
    else the workdir's). A configuration that does not load (the refresh reports why) means the default."""
    from ingestion.config import ConfigError, load_config

    try:
        return load_config(workdir.config).assessments_dir or workdir.assessments
    except ConfigError:
        return workdir.assessments


# DORA's published Quick Check files, when a checkout sits beside the shared data (never copied in): the
# demo compares with them; without them its scores have no industry or organisation-size means.
DEMO_QUICKCHECK_DIR = REPO_ROOT.parent / "shared" / "data" / "dora-quickcheck"


def _serve(workdir: Workdir, app_port: int, dagster_port: int | None) -> None:
    env = os.environ.copy()
    env["DEPLOYLENS_WAREHOUSE"] = str(workdir.warehouse)
    env["DEPLOYLENS_WORKDIR"] = str(workdir.root)
    env["DEPLOYLENS_CONFIG"] = str(workdir.config)
    env["DAGSTER_HOME"] = str(workdir.dagster_home)
    env["DEPLOYLENS_ASSESSMENTS_DIR"] = str(_assessments_folder(workdir))
    bindir = Path(sys.executable).parent
    children = [
        subprocess.Popen(
            [
                str(bindir / "streamlit"),
                "run",
                str(REPO_ROOT / "app" / "streamlit_app.py"),
                "--server.port",
                str(app_port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    ]
    print(f"\n  deploylens app:  http://localhost:{app_port}")
    if dagster_port is not None:
        children.append(
            subprocess.Popen(
                [str(bindir / "dagster"), "dev", "-m", "orchestration.definitions", "-p", str(dagster_port)],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        print(f"  Dagster UI:      http://localhost:{dagster_port}")
    print("  Ctrl-C stops.\n", flush=True)

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A service manager (or `kill`) stops with SIGTERM, a terminal with Ctrl-C: both stop what is served.
    # SIGINT is set too: a process started in the background of a script inherits it ignored.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_process_groups(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the whole group is gone already


def stop_process_groups(
    children: list[subprocess.Popen], timeout_s: float = 15.0, grace_s: float = 2.0
) -> None:
    """Stop each child and everything it started.

    The served processes run in sessions of their own (`start_new_session`), so Ctrl-C reaches this process
    only, which asks each group to stop (SIGINT, as a terminal would). `dagster dev` runs a webserver, a
    daemon and code servers: a group that has not stopped within `timeout_s` — or members that outlive
    their leader by `grace_s` — are killed, so nothing keeps serving or holding a port after `demo` ends.
    """
    for child in children:
        _signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
    time.sleep(grace_s)
    for child in children:
        _signal_group(child, signal.SIGKILL)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def cmd_demo(args: argparse.Namespace) -> int:
    from simulator import Emulator
    from simulator.cache import cached_org
    from simulator.faults import parse_faults
    from simulator.git_export import export_repositories

    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        raise RuntimeError(f"--faults: {exc}") from None
    workdir = Workdir.at(args.workdir).ensure()
    # A demo is one full refresh of a freshly generated org: start from an empty build.
    for stale in (workdir.build_dir, workdir.dlt_dir):
        shutil.rmtree(stale, ignore_errors=True)
    workdir.ensure()
    if args.behind_days < 0:
        raise RuntimeError("--behind-days must be 0 or more")
    log.info("generating the %s simulated organisation (seed %s)", args.scale, args.seed)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cache = Path(args.world_cache) if args.world_cache else workdir.root / "cache"
    world = cached_org(args.scale, args.seed, end, cache)
    # services whose code lives in local clones only: write the clones (org.yml points at them)
    export_repositories(world, workdir.repos)
    port = args.emulator_port if _port_free(args.emulator_port) else 0
    emulator = Emulator(
        world,
        host="127.0.0.1",
        port=port,
        github_token=DEMO_GITHUB_TOKEN,
        pagerduty_token=DEMO_PAGERDUTY_TOKEN,
        now=world.end - timedelta(days=args.behind_days),
    )
    # the truth of what the emulator serves: as of its clock (`/_control/advance` moves it on)
    world.write_truth(workdir.truth, as_of=emulator.now)
    emulator.add_faults(faults)
    emulator.start()
    log.info("API emulator serving GitHub and PagerDuty at %s", emulator.url)
    if faults:
        log.info("the emulator injects %d fault(s): %s", len(faults), args.faults)
    try:
        org = world.org_config(
            f"{emulator.url}/github",
            f"{emulator.url}/pagerduty",
            DEMO_GITHUB_TOKEN,
            DEMO_PAGERDUTY_TOKEN,
            git_repositories=workdir.repos.relative_to(workdir.config.parent),
        )
        if DEMO_QUICKCHECK_DIR.is_dir():
            org["benchmarks"] = {"quickcheck_dir": str(DEMO_QUICKCHECK_DIR.resolve()), "edition": 2025}
        workdir.config.write_text(
            "# deploylens configuration for the simulated demo organisation (see docs/configuration.md)\n"
            + yaml.safe_dump(org, sort_keys=False)
        )
        run_refresh(workdir.config, workdir, process_ends=args.process_ends and args.no_serve)
        if args.no_serve:
            return 0
        _serve(workdir, args.port, args.dagster_port)
    finally:
        emulator.stop()
    return 0


# Release tags as most projects write them: 1.2, 1.2.3, v1.2.3 (no pre-releases such as 1.3.0rc1 or -beta).
DEFAULT_RELEASE_TAGS = r"^v?\d+\.\d+(\.\d+)?$"


def quickstart_config(repo_path: Path, name: str, tags: str) -> dict:
    """The configuration of a one-repository quickstart: one team, one service, release tags as production
    deployments. A plain org.yml the user can grow from (docs/configuration.md)."""
    return {
        "org": name,
        "sources": {"git": {"repositories": [{"path": str(repo_path), "name": name}]}},
        "teams": [{"name": name}],
        "services": [
            {
                "name": name,
                "team": name,
                "repository": name,
                "deployments": [{"environment": "production", "tag": tags}],
            }
        ],
        "environments": [{"name": "production", "match": "^prod", "production": True}],
    }


def cmd_quickstart(args: argparse.Namespace) -> int:

    from ingestion.git_local import GitError, repository_name
    from ingestion.git_local.helpers import GitRepository
    from ingestion.patterns import regex_error, regex_search

    repo_path = Path(args.path).expanduser().resolve()
    name = repository_name(repo_path)
    repo = GitRepository(repo_path, name)
    try:
        repo.check()
    except GitError as exc:
        raise RuntimeError(f"{repo_path} is not a git repository: {exc}") from None
    # The models match tags with DuckDB (RE2): count them with the same engine, so the figure printed here
    # is the one the warehouse will have.
    problem = regex_error(args.tags)
    if problem:
        raise RuntimeError(
            f"--tags {args.tags!r} is not a regular expression DuckDB accepts (RE2 syntax): {problem}"
        )
    tag_names = [
        ref["ref"][len("refs/tags/") :] for ref in repo.refs() if ref["ref"].startswith("refs/tags/")
    ]
    matching = sum(regex_search(args.tags, tag_names))
    log.info(
        "%s: %d of %d tags match %s and count as production deployments",
        name,
        matching,
        len(tag_names),
        args.tags,
    )
    if not matching:
        log.warning("no tag matches %s: pass --tags REGEX to say which tags are releases", args.tags)

    workdir = Workdir.at(args.workdir).ensure()
    text = (
        "# deploylens quickstart configuration (docs/configuration.md): edit, then `deploylens refresh`\n"
        + yaml.safe_dump(quickstart_config(repo_path, name, args.tags), sort_keys=False)
    )
    # Same repository and rules as last time: refresh incrementally; otherwise start from an empty build.
    if not workdir.config.exists() or workdir.config.read_text() != text:
        for stale in (workdir.build_dir, workdir.dlt_dir):
            shutil.rmtree(stale, ignore_errors=True)
        workdir.ensure()
        workdir.config.write_text(text)
    run_refresh(workdir.config, workdir, process_ends=args.process_ends and args.no_serve)
    if args.no_serve:
        return 0
    _serve(workdir, args.port, args.dagster_port)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    config = Path(args.config)
    workdir = Workdir.at(args.workdir or config.resolve().parent)
    return run_refresh(
        config,
        workdir,
        verbose=args.verbose or None,
        full_rebuild=args.full_rebuild,
        process_ends=args.process_ends,
    )["exit_code"]


def cmd_app(args: argparse.Namespace) -> int:
    workdir = Workdir.at(args.workdir)
    if not workdir.warehouse.exists():
        print(
            f"no warehouse at {workdir.warehouse}: run `deploylens demo` or `deploylens refresh` first",
            file=sys.stderr,
        )
        return 2
    _serve(workdir, args.port, None)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploylens", description="Deploy-centric engineering analytics.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="generate a simulated org, refresh the warehouse from it, serve the app"
    )
    demo.add_argument("--no-serve", action="store_true", help="stop after the refresh")
    demo.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    demo.add_argument(
        "--scale",
        choices=["tiny", "small", "mixed", "large"],
        default="small",
        help="mixed: one team per delivery style (GitHub, Actions, Jenkins, tags, GitLab, local git clones); "
        "large: 2,000 engineers, 400 services, 2 years (docs/simulator.md)",
    )
    demo.add_argument(
        "--world-cache",
        default=None,
        help="folder of generated worlds, reused across runs (default <workdir>/cache)",
    )
    demo.add_argument(
        "--behind-days",
        type=float,
        default=0.0,
        help="serve the world as it was N days before its end; "
        "POST <emulator>/_control/advance?days=1 moves the clock on",
    )
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--port", type=int, default=8501, help="Streamlit port")
    demo.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port")
    demo.add_argument("--emulator-port", type=int, default=8765)
    demo.add_argument(
        "--faults",
        default=os.environ.get("DEPLOYLENS_EMULATOR_FAULTS", ""),
        help="faults the emulator injects, API:PATH_REGEX:KIND[:TIMES[:SECONDS]],... (docs/simulator.md); "
        "default $DEPLOYLENS_EMULATOR_FAULTS",
    )
    demo.set_defaults(func=cmd_demo)

    quickstart = sub.add_parser(
        "quickstart",
        help="read one local git repository, count its release tags as production deployments, serve the app",
    )
    quickstart.add_argument("path", help="a git repository on disk (a clone)")
    quickstart.add_argument("--no-serve", action="store_true", help="stop after the refresh")
    quickstart.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    quickstart.add_argument(
        "--tags",
        default=DEFAULT_RELEASE_TAGS,
        help=f"regex (case-insensitive) of the production release tags; default {DEFAULT_RELEASE_TAGS}",
    )
    quickstart.add_argument("--port", type=int, default=8501, help="Streamlit port")
    quickstart.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port")
    quickstart.set_defaults(func=cmd_quickstart)

    refresh = sub.add_parser("refresh", help="one refresh against the sources a configuration file names")
    refresh.add_argument("--config", required=True)
    refresh.add_argument("--workdir", default=None, help="default: the configuration file's folder")
    refresh.add_argument(
        "--verbose", action="store_true", help=f"print tracebacks of failures (or set {DEBUG_ENV}=1)"
    )
    refresh.add_argument(
        "--full-rebuild",
        action="store_true",
        help="rebuild the incremental models from scratch (after changing a model or a rule)",
    )
    refresh.set_defaults(func=cmd_refresh)

    app = sub.add_parser("app", help="serve the Streamlit app on an existing workdir")
    app.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    app.add_argument("--port", type=int, default=8501)
    app.set_defaults(func=cmd_app)

    args = parser.parse_args(argv)
    # The `deploylens` command's own process (arguments from sys.argv) exits after the command; a caller
    # that passes `argv` (a test, a script) goes on and gets its process back as it was (`frozen_heap`).
    args.process_ends = argv is None
    _setup_logging()
    try:
        return args.func(args)
    except Exception as exc:  # a clear one-paragraph error for the person at the terminal
        from ingestion.config import ConfigError

        if isinstance(exc, ConfigError | RuntimeError | TimeoutError):
            print(f"deploylens: {exc}", file=sys.stderr)
            if debug_requested() and not isinstance(exc, RefreshFailed):
                raise
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
