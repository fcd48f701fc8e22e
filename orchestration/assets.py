"""Dagster assets: dlt loads, the dbt project, the warehouse publish — one lineage graph.

Only wiring lives here: what each asset runs is defined in ingestion/, models/ and data_tests/.
"""

import contextlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import requests
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from packaging import version

from ingestion.assessments import assessments_source
from ingestion.config import OrgConfig, branch_push_patterns, path_repositories, workflow_rules
from ingestion.dora_quickcheck import dora_quickcheck_source
from ingestion.git_local import git_local_source
from ingestion.github import github_source
from ingestion.gitlab import gitlab_source
from ingestion.http import ApiError, ApiUsage
from ingestion.jenkins import jenkins_source
from ingestion.org_config import org_config_source
from ingestion.pagerduty import pagerduty_source
from ingestion.pipelines import connect_duckdb, duckdb_settings, make_pipeline, release_memory
from orchestration.build_state import (
    BUILDING,
    PUBLISHED,
    SKIPPED,
    build_fingerprint,
    building_fingerprint,
    quiet_reused_checks,
    record_build,
    unchanged_since,
)
from orchestration.checks import record_dbt_checks
from orchestration.dbt_warm import LAUNCHER_ENV as WARM_LAUNCHER_ENV
from orchestration.heap import freeze_more
from orchestration.load_process import in_child
from orchestration.publish import publish
from orchestration.resources import BuildLock
from orchestration.workdir import DBT_PROJECT_DIR, Workdir

log = logging.getLogger("deploylens")

# A run with this tag set to "true" rebuilds the incremental models from scratch (`dbt build --full-refresh`):
# `deploylens refresh --full-rebuild` sets it, and so does the `full_rebuild` job in the Dagster UI.
FULL_REBUILD_TAG = "deploylens/full_rebuild"


# Staging folders whose models stand in empty when their source has never loaded (no `raw_<folder>` schema).
OPTIONAL_STAGING = ("git", "github", "gitlab", "jenkins", "pagerduty", "alerts")


def unused_sources(configured: Iterable[str], build_db: Path) -> list[str]:
    """The optional sources neither configured nor ever loaded into this build: their staging models are
    empty stand-ins, whose data tests cannot fail. A build file another process holds counts as loaded."""
    unused = [name for name in OPTIONAL_STAGING if name not in set(configured)]
    if not unused or not build_db.exists():
        return unused
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.Error:
        return []
    try:
        rows = con.execute("select schema_name from information_schema.schemata").fetchall()
    finally:
        con.close()
    schemas = {row[0] for row in rows}
    return [name for name in unused if f"raw_{name}" not in schemas]


def stand_in_tests(unused: Iterable[str]) -> str | None:
    """The dbt selection of the data tests of unused sources' staging models, left out of the refresh."""
    return " ".join(f"test_type:data,path:../models/staging/{name}" for name in unused) or None


def dbt_build_args(full_rebuild: bool) -> list[str]:
    """The dbt command of a refresh.

    dbt's unit tests prove the SQL right, whatever the data: `make test` runs them
    (tests/test_dbt_unit_tests.py), not every refresh. The data tests guard the data here (those of
    unused sources' stand-ins are not part of the asset graph at all: `stand_in_tests`).
    """
    args = ["build", "--exclude", "test_type:unit"]
    return [*args, "--full-refresh"] if full_rebuild else args


# dbt's log file (`dbt.log` in the build's target folder) in dbt's own text format, every debug line kept.
# dagster-dbt passes `--log-format json` for the lines it reads from dbt's stdout, and dbt's log file follows
# that format unless told otherwise: a JSON object per line, several times the bytes and the CPU of the text
# line (docs/architecture.md, "Where a small refresh's time goes").
DBT_LOG_FILE_ARGS = ["--log-format-file", "debug"]


class RefreshDbtResource(DbtCliResource):
    """dagster-dbt's dbt resource without two costs a refresh does not need.

    Before each dbt command dagster-dbt runs `dbt --version` in a process of its own (a whole dbt start-up,
    seconds) to learn the version, and opens a dbt adapter in this process to read column metadata from
    the warehouse when asked (the refresh never asks). The dbt it runs is the one installed beside this
    Python (`dbt_executable`), so its version is that of the installed dbt-core package.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


class IngestionTranslator(DagsterDltTranslator):
    """Groups the dlt assets under 'ingestion'; keys stay dlt_<source>_<resource> as dbt sources name them."""

    def get_asset_spec(self, data):  # type: ignore[override]
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(group_name="ingestion", deps=[])


class TransformTranslator(DagsterDbtTranslator):
    """Groups dbt models by layer (staging, intermediate, marts) as folders do; the data tests of the
    staging folders in `left_out` (`stand_in_tests`) are no asset checks: the refresh does not run them."""

    def __init__(self, left_out: Iterable[str] = ()) -> None:
        super().__init__()
        self.left_out = tuple(f"../models/staging/{name}/" for name in left_out)

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):  # type: ignore[override]
        node = manifest.get("nodes", {}).get(unique_id, {})
        if self.left_out and node.get("original_file_path", "").startswith(self.left_out):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return "reference" if dbt_resource_props.get("resource_type") == "seed" else None


def github_repositories(config: OrgConfig) -> list[str] | None:
    """The repositories the GitHub source reads when the file lists none: the services' repositories that
    are not local git repositories. With GitLab configured too, `owner/name` may live on either host, so
    GitHub reads what its organisation holds (None: every repository) and the rest is GitLab's."""
    if "gitlab" in config.sources:
        return None
    git = config.sources.get("git")
    git_names = {r["name"] for r in git.options["repositories"]} if git else set()
    return sorted({s["repository"] for s in config.services} - git_names)


def dlt_sources(config: OrgConfig, assessments_dir: Path | None = None) -> dict[str, Any]:
    """The dlt sources an org configuration names, in load order. `assessments_dir`: where the teams'
    self-assessments are read from when org.yml names no `assessments_dir` (the workdir's folder)."""
    sources: dict[str, Any] = {
        "org_config": org_config_source(
            teams=config.teams,
            services=config.services,
            environments=config.environments,
            settings=config.settings,
            benchmarks=config.benchmarks,
        )
    }
    if "github" in config.sources:
        gh = config.sources["github"]
        sources["github"] = github_source(
            base_url=gh.base_url,
            organization=gh.options["organization"],
            token=gh.token,
            repositories=gh.options.get("repositories") or github_repositories(config),
            start_date=gh.start_date,
            deploy_branches=branch_push_patterns(config),
            deploy_workflows=workflow_rules(config),
            workflow_runs=gh.options.get("workflow_runs", "deploy"),
            api=gh.options.get("api", "graphql"),
            max_concurrency=gh.options.get("max_concurrency", 4),
            usage=(usage := ApiUsage("GitHub")),
            file_repositories=path_repositories(config),
            commit_file_repositories=path_repositories(config),
        )
        sources["github"].api_usage = usage  # read by the load asset for the refresh's budget report
    if "gitlab" in config.sources:
        gl = config.sources["gitlab"]
        sources["gitlab"] = gitlab_source(
            base_url=gl.base_url,
            token=gl.token,
            group=gl.options.get("group"),
            projects=gl.options.get("projects"),
            start_date=gl.start_date,
            file_repositories=path_repositories(config),
            max_concurrency=gl.options.get("max_concurrency", 4),
            pipeline_jobs=gl.options.get("pipeline_jobs", False),
        )
    if "jenkins" in config.sources:
        jk = config.sources["jenkins"]
        sources["jenkins"] = jenkins_source(
            base_url=jk.base_url,
            user=jk.options.get("user"),
            token=jk.token or None,
            jobs=jk.options.get("jobs"),
            start_date=jk.start_date,
        )
    if "git" in config.sources:
        sources["git"] = git_local_source(
            repositories=config.sources["git"].options["repositories"],
            file_repositories=path_repositories(config),
        )
    if "pagerduty" in config.sources:
        pd = config.sources["pagerduty"]
        sources["pagerduty"] = pagerduty_source(
            base_url=pd.base_url, token=pd.token, start_date=pd.start_date
        )
    # Local files, no API: DORA's published Quick Check benchmarks and the teams' self-assessments.
    if config.benchmarks.get("quickcheck_dir") is not None:
        sources["dora_quickcheck"] = dora_quickcheck_source(config.benchmarks["quickcheck_dir"])
    folder = config.assessments_dir or assessments_dir
    if folder is not None:
        sources["assessments"] = assessments_source(folder)
    return sources


SOURCE_LOADS_DDL = """
create table if not exists meta.source_loads (
    run_id varchar,
    source varchar,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    error varchar,
    rows_loaded bigint
)
"""
# Added later: what a load spent of its API's rate budget (null for sources that do not count it), and the
# budget as last answered. Added to tables made before them; the report reads them for its last lines.
SOURCE_LOADS_BUDGET_COLUMNS = {
    "api_requests": "bigint",
    "api_points": "bigint",
    "api_rate_remaining": "bigint",
    "api_rate_reset_at": "timestamp",
}


def record_source_load(
    build_db: Path,
    run_id: str,
    source: str,
    started_at: datetime,
    status: str,
    error: str | None = None,
    rows_loaded: int | None = None,
    spent: dict[str, Any] | None = None,
) -> None:
    """One row of `meta.source_loads` (docs/sources.md): how a source's load ended in this run, and what
    it spent of its API's rate budget (`spent`, from `api_spent`) when the source counts that."""
    finished_at = datetime.now(UTC).replace(tzinfo=None)
    spent = spent or {}
    con = connect_duckdb(build_db)
    try:
        con.execute("create schema if not exists meta")
        con.execute(SOURCE_LOADS_DDL)
        for column, data_type in SOURCE_LOADS_BUDGET_COLUMNS.items():
            con.execute(f"alter table meta.source_loads add column if not exists {column} {data_type}")
        con.execute(
            "insert into meta.source_loads"
            " (run_id, source, started_at, finished_at, status, error, rows_loaded,"
            " api_requests, api_points, api_rate_remaining, api_rate_reset_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, source, started_at, finished_at, status, error, rows_loaded]
            + [spent.get(column) for column in SOURCE_LOADS_BUDGET_COLUMNS],
        )
    finally:
        con.close()


def source_failure(exc: BaseException) -> BaseException | None:
    """The API failure behind a failed load (dlt wraps it in its step errors), or None for anything else.

    Only an API that stays unreachable, throttled, failing or refusing past the retries makes a source
    stale; any other error (a bug, bad data) fails the refresh as before.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ApiError | requests.RequestException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def api_spent(usage: ApiUsage | None, before: dict[str, Any] | None) -> dict[str, Any]:
    """What a load spent since `before` (an earlier `usage.snapshot()`), and the budget it left: of
    GraphQL when the load spent points, else of REST."""
    if usage is None or before is None:
        return {}
    now = usage.snapshot()
    points = now["points"] - before["points"]
    budget = now["budget"].get("graphql" if points else "core") or {}
    reset = budget.get("reset")
    return {
        "api_requests": now["requests"] - before["requests"],
        "api_points": points,
        "api_rate_remaining": budget.get("remaining"),
        "api_rate_reset_at": datetime.fromtimestamp(reset, UTC).replace(tzinfo=None) if reset else None,
    }


def _rows_loaded(pipeline: Any) -> int:
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    counts = info.row_counts if info is not None else {}
    return sum(n for table, n in counts.items() if not table.startswith("_dlt"))


def _asset_resources(context: dg.AssetExecutionContext, source: Any, pipeline: Any) -> tuple[dict, Any]:
    """The dlt resources of the step's selected assets by asset key, and the source narrowed to them (as
    dagster-dlt selects them)."""
    translator = IngestionTranslator()
    resources = {
        translator.get_asset_spec(
            DltResourceTranslatorData(resource=resource, pipeline=pipeline)
        ).key: resource
        for resource in source.selected_resources.values()
    }
    if context.is_subset:
        resources = {key: r for key, r in resources.items() if key in context.selected_asset_keys}
        source = source.with_resources(*[r.name for r in resources.values()])
    return resources, source


def _extract(
    context: dg.AssetExecutionContext, name: str, source: Any, pipeline: Any, build_db: Path, started_at: Any
) -> tuple[str, Any]:
    """A source's extraction into a load package of its pipeline (run in a process of its own, whose
    memory goes when it ends): ("extracted", what it spent of the API), or ("stale", why) when its API failed
    past the retries; any other error is raised. A failure is recorded in `meta.source_loads`."""
    usage = getattr(source, "api_usage", None)  # sources that count their API requests carry one
    before = usage.snapshot() if usage is not None else None
    _, source = _asset_resources(context, source, pipeline)
    try:
        # As a dlt run starts: drop the local state (restored from the destination) or pending packages.
        if pipeline.config.restore_from_destination:
            pipeline.drop()
            pipeline.sync_destination()
        else:
            pipeline.drop_pending_packages()
        pipeline.extract(source)
    except Exception as exc:
        failure = source_failure(exc)
        message = str(failure) if failure is not None else f"{type(exc).__name__}: {exc}"
        spent = api_spent(usage, before)
        record_source_load(
            build_db, context.run.run_id, name, started_at, "failed", message[:2000], spent=spent
        )
        if failure is None or name == "org_config":
            raise
        pipeline.abort_packages()
        log.warning("%s: failed (%s); the warehouse keeps its last good %s data", name, message, name)
        return "stale", message
    return "extracted", api_spent(usage, before)


def _load_source(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    name: str,
    source: Any,
    pipeline: Any,
    build_db: Path,
) -> tuple[str, Any]:
    """One source's load, recorded in `meta.source_loads`: ("ok", its materializations), or ("stale", why)
    when its API failed past the retries (any other error is raised).

    The extraction runs in a process of its own (what the source's pages and dlt's buffers left in the
    heap goes with it); normalise and load then run here, from the package it left on disk, in a fresh
    pipeline object that reads the pipeline's state and schemas as the extraction wrote them."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    outcome, value = in_child(lambda: _extract(context, name, source, pipeline, build_db, started_at))
    if outcome == "stale":
        return "stale", value
    spent = value
    loader = make_pipeline(name, build_db, pipeline.pipelines_dir)
    loader.config.restore_from_destination = False  # the extraction restored the state and extended it
    try:
        load_info = loader.run()  # normalises and loads the pending package, in one trace
        if load_info is not None:
            load_info.raise_on_failed_jobs()
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        record_source_load(
            build_db, context.run.run_id, name, started_at, "failed", message[:2000], spent=spent
        )
        raise
    record_source_load(
        build_db, context.run.run_id, name, started_at, "ok", rows_loaded=_rows_loaded(loader), spent=spent
    )
    resources, _ = _asset_resources(context, source, loader)
    results = [
        dg.MaterializeResult(
            asset_key=key,
            metadata=dlt.extract_resource_metadata(context, resource, load_info, loader) if load_info else {},
        )
        for key, resource in resources.items()
    ]
    return "ok", results


def _load_asset(name: str, source: Any, pipeline: Any, build_db: Path) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=source,
        dlt_pipeline=pipeline,
        name=f"load_{name}",
        dagster_dlt_translator=IngestionTranslator(),
    )
    def _load(context: dg.AssetExecutionContext, dlt: DagsterDltResource, build_lock: BuildLock) -> Iterator:
        """Load the source; when its API fails past the retries, keep its last good raw data instead.

        The load runs in a process of its own that exits when it ends (orchestration/load_process.py):
        what it held at its peak goes back to the system before the next step. dlt commits a load (data
        and incremental state) only once it completes, so a failed extraction leaves the source's raw
        tables as the previous load left them; its pending package is aborted (and the local state
        restored) so nothing of it is loaded later. The step then succeeds with `stale` materializations,
        and the models build from the other sources' fresh data and this one's last good data.
        """
        log.info("loading %s", name)
        outcome, value = in_child(lambda: _load_source(context, dlt, name, source, pipeline, build_db))
        release_memory()  # the next step starts from what this one kept, not its peak
        if outcome == "stale":
            for key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key, metadata={"stale": True, "error": value})
            return
        yield from value

    return _load


def fail_if_nothing_fresh(build_db: Path, run_id: str) -> list[str]:
    """Stop the refresh when every source failed in this run: publishing would show nothing new. Returns the
    sources that failed (some did, not all)."""
    if not build_db.exists():
        return []
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        present = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'meta' and table_name = 'source_loads'"
        ).fetchone()[0]
        if not present:
            return []
        rows = con.execute(
            "select source, status, error from meta.source_loads where run_id = ?"
            " and source not in ('org_config', 'dora_quickcheck', 'assessments')",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    if rows and all(status == "failed" for _, status, _ in rows):
        detail = "; ".join(f"{source}: {error}" for source, _, error in rows)
        raise RuntimeError(f"every source failed to load, nothing fresh to publish ({detail})")
    return [source for source, status, _ in rows if status == "failed"]


def ensure_dbt_manifest(target_path: Path) -> Path:
    """Parse the dbt project so its manifest exists for the asset graph (a few seconds, once per change)."""
    manifest = target_path / "manifest.json"
    inputs = [*(DBT_PROJECT_DIR.parent / "models").rglob("*"), *DBT_PROJECT_DIR.rglob("*")]
    sources = [
        p
        for p in inputs
        if p.suffix in {".sql", ".yml", ".yaml", ".py", ".csv"} and not {"target", "logs"} & set(p.parts)
    ]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        "parse",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--quiet",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    (target_path / PARSED_FOR).write_text(_build_db_setting())
    return manifest


# Which build database the project's parse saw: dbt keys its partial parse on the profile's connection
# settings, so the seed is re-keyed for each workdir's build database (see `seed_partial_parse`).
PARSED_FOR = "deploylens_parsed_for.txt"
DEFAULT_BUILD_DB = "../.deploylens/build/deploylens.duckdb"  # profiles.yml's default


def _build_db_setting() -> str:
    return os.environ.get("DEPLOYLENS_BUILD_DB", DEFAULT_BUILD_DB)


def profile_checksum(build_db: str) -> str:
    """The checksum dbt stores as `profile_hash` for a parse made with this build database."""
    import pprint

    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.contracts.files import FileHash

    credentials = DuckDBCredentials.from_dict(
        {
            "type": "duckdb",
            "path": build_db,
            "database": Path(build_db).stem,
            "schema": "main",
            "settings": duckdb_settings(),
        }
    )
    keys = sorted(credentials.connection_info())
    return FileHash.from_contents(pprint.pformat(keys)).checksum


def _rekey_partial_parse(msgpack_file: Path, parsed_for: str, build_db: str) -> bool:
    """Make a copied partial parse valid for another build database: only the profile checksum differs.

    The old checksum is recomputed from the build database the parse saw and replaced only if it is found
    exactly once; anything unexpected leaves the file alone and dbt simply parses again (slower, correct).
    """
    if parsed_for == build_db:
        return True
    try:
        old, new = profile_checksum(parsed_for).encode(), profile_checksum(build_db).encode()
    except Exception:  # noqa: BLE001 - an optimisation only: any failure means a full parse
        return False
    data = msgpack_file.read_bytes()
    if data.count(old) != 1:
        return False
    msgpack_file.write_bytes(data.replace(old, new))
    return True


class DbtProgressFilter:
    """A stdout that drops dbt's `N of M START …` and `N of M PASS …` lines and passes everything else.

    A build prints two lines per model and test; what a person reads is each model built (`OK created`),
    warnings, failures and the summary. The checks' count is reported at the end of the refresh.
    """

    NOISE = re.compile(r"^\s*\d+ of \d+ (START|PASS) ")
    ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, target: Any) -> None:
        self.target = target
        self.hidden = 0

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            if self.NOISE.match(self.ANSI.sub("", line)):
                self.hidden += 1
            else:
                self.target.write(line)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


@contextlib.contextmanager
def _concise_dbt_output() -> Iterator[DbtProgressFilter]:
    saved = sys.stdout
    sys.stdout = DbtProgressFilter(saved)
    try:
        yield sys.stdout
    finally:
        sys.stdout = saved


def import_gx_suites() -> None:
    try:
        import data_tests.fct_deployments  # noqa: F401
    except Exception:  # noqa: BLE001 - the check imports it again and reports any error itself
        log.debug("warm import of the GX suites failed", exc_info=True)
        return
    freeze_more()  # Great Expectations' modules stay for the run: out of the collector's walks too


def seed_partial_parse(parsed: Path, target: Path) -> None:
    """Start the build's own target folder from the project's parse, so dbt does not parse again.

    Each workdir builds into its own target folder (runs of different workdirs never share run
    artefacts), but the parse only depends on the project files, which `ensure_dbt_manifest` keeps fresh.
    """
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in ("partial_parse.msgpack", "manifest.json"):
        source = parsed / name
        if source.exists() and (
            not (target / name).exists() or (target / name).stat().st_mtime < source.stat().st_mtime
        ):
            shutil.copy2(source, target / name)
            copied.append(name)
    marker = parsed / PARSED_FOR
    if "partial_parse.msgpack" in copied and marker.exists():
        _rekey_partial_parse(target / "partial_parse.msgpack", marker.read_text(), _build_db_setting())


def build_assets(config: OrgConfig, workdir: Workdir) -> tuple[list, list, dict]:
    """Assets, asset checks and resources for one org configuration and workdir."""
    assets: list = []
    for name, source in dlt_sources(config, workdir.assessments).items():
        pipeline = make_pipeline(name, workdir.build_db, workdir.dlt_dir)
        assets.append(_load_asset(name, source, pipeline, workdir.build_db))

    manifest = ensure_dbt_manifest(DBT_PROJECT_DIR / "target")

    unused = unused_sources(config.sources, workdir.build_db)
    left_out = stand_in_tests(unused)

    @dbt_assets(
        manifest=manifest,
        dagster_dbt_translator=TransformTranslator(left_out=unused),
        name="transform",
        exclude=left_out,
    )
    def transform(context: dg.AssetExecutionContext, dbt: DbtCliResource, build_lock: BuildLock) -> Iterator:
        """dbt build, unless nothing it reads changed since the last published build (build_state.py):
        then nothing is yielded, so Dagster skips the checks and the publish after it."""
        run_id = context.run.run_id
        failed_sources = fail_if_nothing_fresh(workdir.build_db, run_id)
        full_rebuild = context.run.tags.get(FULL_REBUILD_TAG, "").lower() == "true"
        args = dbt_build_args(full_rebuild)
        fingerprint = build_fingerprint(workdir.build_db, [*args, "--exclude", left_out or ""])
        # A source that failed in this run is news the published warehouse must carry (meta.source_loads,
        # the Data health page): such a refresh builds and publishes even on unchanged raw tables.
        may_skip = not full_rebuild and not failed_sources
        reused = unchanged_since(workdir.build_db, workdir.warehouse, fingerprint) if may_skip else None
        if reused is not None:
            record_build(workdir.build_db, run_id, fingerprint, SKIPPED)
            quiet_reused_checks()
            log.info(
                "nothing changed since the build run %s published (raw tables, configuration, models, "
                "seeds): dbt build, checks and publish skipped; the warehouse stays as published",
                reused,
            )
            return
        record_build(workdir.build_db, run_id, fingerprint, BUILDING)
        log.info("building models and running their data tests (dbt build)")
        # Great Expectations takes seconds to import; the check after the build needs it, and dbt runs in
        # its own process meanwhile, so the import overlaps the build instead of following it.
        threading.Thread(target=import_gx_suites, name="gx-import", daemon=True).start()
        seed_partial_parse(DBT_PROJECT_DIR / "target", workdir.dbt_target)
        if full_rebuild:
            log.info("rebuilding the incremental models from scratch (full rebuild)")
        started = time.time()
        try:
            with _concise_dbt_output():
                # dagster-dbt adds `--select fqn:*` and the asset's own `--exclude` (dbt unites them).
                command = [*args, *DBT_LOG_FILE_ARGS]
                yield from dbt.cli(command, context=context, target_path=workdir.dbt_target).stream()
        finally:
            record_dbt_checks(workdir, context.run.run_id, started)

    assets.append(transform)

    marts = [key for key in transform.keys if key.path[-1].startswith(("fct_", "dim_", "dora_"))]

    @dg.asset(
        deps=list(transform.keys),
        group_name="publish",
        description="Copies the build over warehouse.duckdb atomically: no reader sees a partial build.",
    )
    def warehouse(context: dg.AssetExecutionContext, build_lock: BuildLock) -> dg.MaterializeResult:
        log.info("publishing the warehouse")
        run_id = context.run.run_id
        result = publish(workdir.build_db, workdir.warehouse, run_id=run_id)
        # after the rename: a refresh killed before it rebuilds, never skips (build_state.py)
        if (fingerprint := building_fingerprint(workdir.build_db, run_id)) is not None:
            record_build(workdir.build_db, run_id, fingerprint, PUBLISHED)
        return dg.MaterializeResult(metadata={"path": str(workdir.warehouse), **result})

    assets.append(warehouse)

    from orchestration.checks import build_checks

    checks = build_checks(workdir, marts)
    resources = {
        "dlt": DagsterDltResource(),
        # The dbt installed beside this Python, as `ensure_dbt_manifest` runs it: the one on PATH may differ.
        "dbt": RefreshDbtResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            # In a command-line refresh, the launcher of the dbt process started while the sources load.
            dbt_executable=os.environ.get(WARM_LAUNCHER_ENV) or str(Path(sys.executable).with_name("dbt")),
        ),
        "build_lock": BuildLock(lock_path=str(workdir.lock_file)),
    }
    return assets, checks, resources
