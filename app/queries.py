"""Every SQL statement the app runs, against the public marts only.

The app keeps one read-only DuckDB database open on the published warehouse file and runs each query on a
cursor of its own (Streamlit serves sessions on threads; a cursor is a connection of that database and
costs next to nothing, where opening the file costs tens to hundreds of milliseconds). The database is an
in-memory one with the file attached READ_ONLY as `warehouse` (its own `memory` database detached): it is
the app's alone, so no other connection in the process (DuckDB shares one database per path between
`duckdb.connect` calls) can hand it an old file or be handed the app's.

The refresh publishes a new warehouse by renaming a file over the old one, so the database is tied to the
file it opened (device, inode, size, modification time). The first query after a publish sees another
file and opens it; the old one is closed once the queries still reading it end. With no query coming, a
watcher thread does the same within `RELEASE_CHECK_SECONDS`, so a replaced file (its disk space) is not
kept. Results are cached for a minute, keyed also by the file's identity, so a fresh publish shows up on
the next rerun. User input only ever travels as query parameters.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

DEFAULT_WAREHOUSE = Path(".deploylens") / "warehouse.duckdb"
WAREHOUSE_ENV = "DEPLOYLENS_WAREHOUSE"

# The publish is a rename, so a failed open is brief; a few short retries ride it out.
OPEN_ATTEMPTS = 5
OPEN_BACKOFF_SECONDS = 0.2
# With no query running, how often the watcher checks whether an open file has been replaced.
RELEASE_CHECK_SECONDS = 5.0
# Paths kept open at once: the app reads one warehouse; more are opened only by tests and tools.
MAX_OPEN_FILES = 2
# The open database keeps the file's blocks it read between queries: its buffer memory is bounded by the
# variable that bounds the refresh's DuckDB (docs/architecture.md, Memory), with the same default
# (ingestion.pipelines.MEMORY_DEFAULTS, which the app does not import: it imports dlt).
MEMORY_LIMIT_ENV = "DEPLOYLENS_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GB"

CACHE_TTL_SECONDS = 60

# The row `marts.dora_summary` returns for the whole organisation.
ORG_TEAM = "(org)"


class WarehouseUnavailable(RuntimeError):
    """The warehouse file exists but could not be read (being replaced, locked, or not a warehouse)."""


@dataclass(frozen=True)
class DataBounds:
    """First and last day with deployments: the date filter's limits and the default window's anchor."""

    first_day: dt.date
    last_day: dt.date


def warehouse_path() -> Path:
    """The published warehouse the app reads; the env var lets tests and deployments point elsewhere."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


# ------------------------------------------------------------------------------ the open warehouse file

FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity:
    """Which file `path` names now (device, inode, size, modification time): a publish renames another
    file over it."""
    try:
        stat = path.stat()
    except OSError as error:
        raise WarehouseUnavailable(f"The warehouse {path} is not there: {error}") from error
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _identity_or_none(path: Path) -> FileIdentity | None:
    try:
        return file_identity(path)
    except WarehouseUnavailable:
        return None


class _OpenFile:
    """The database open on one file, and how many queries are reading it."""

    def __init__(self, path: Path, identity: FileIdentity, connection: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.identity = identity
        self.connection = connection
        self.in_flight = 0
        self.retired = False
        self.closed = False


# Guards `_OPEN`, each file's count and the watcher.
_LOCK = threading.Lock()
# The file each path named when it was opened, in the order they were opened.
_OPEN: dict[Path, _OpenFile] = {}
_WAKE_WATCHER = threading.Event()
_watcher: threading.Thread | None = None


def _open_database(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database with `path` attached read-only as its only database."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("set memory_limit = ?", [os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT])
        connection.execute("attach ? as warehouse (read_only)", [str(path)])
        connection.execute("use warehouse")
        connection.execute("detach memory")
    except BaseException:
        connection.close()
        raise
    return connection


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    last_error: Exception | None = None
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return _open_database(path)
        except (duckdb.Error, OSError) as error:
            last_error = error
            if attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(OPEN_BACKOFF_SECONDS * (attempt + 1))
    raise WarehouseUnavailable(
        f"Could not open the warehouse {path} for reading after {OPEN_ATTEMPTS} attempts "
        f"(a refresh may be publishing it right now): {last_error}"
    )


def _retire(opened: _OpenFile) -> None:
    """With `_LOCK` held: hand `opened` out no more, and close it once its last query ends."""
    if _OPEN.get(opened.path) is opened:
        del _OPEN[opened.path]
    opened.retired = True
    if opened.in_flight == 0 and not opened.closed:
        opened.closed = True
        opened.connection.close()


def _checkout(path: Path, identity: FileIdentity) -> tuple[_OpenFile, duckdb.DuckDBPyConnection]:
    """A cursor of the database open on the file `path` names (`identity`), opening it when needed; the
    caller hands both back to `_checkin`."""
    key = path.absolute()
    with _LOCK:
        opened = _OPEN.get(key)
        if opened is not None and opened.identity != identity:
            _retire(opened)
            opened = None
        if opened is None:
            opened = _OpenFile(key, identity, _connect(key))
            _OPEN[key] = opened
            for other in list(_OPEN.values())[:-MAX_OPEN_FILES]:
                _retire(other)
            _start_watcher()
        cursor = opened.connection.cursor()
        opened.in_flight += 1
        return opened, cursor


def _checkin(opened: _OpenFile, cursor: duckdb.DuckDBPyConnection, broken: bool = False) -> None:
    """A query is done with its cursor; `broken`: the database failed and must not answer again."""
    with _LOCK:
        cursor.close()
        opened.in_flight -= 1
        if broken or opened.retired:
            _retire(opened)


def release_replaced() -> None:
    """Close every open file its path no longer names (a publish replaced it, or it was removed)."""
    with _LOCK:
        for opened in list(_OPEN.values()):
            if _identity_or_none(opened.path) != opened.identity:
                _retire(opened)


def close_all() -> None:
    """Close every file the app has open, or, for those a query is reading, once it ends (the next query
    opens the file again): for a process that goes on to write a warehouse it read."""
    with _LOCK:
        for opened in list(_OPEN.values()):
            _retire(opened)
    _WAKE_WATCHER.set()


def open_files() -> list[Path]:
    """The paths the app has a database open on (each of them once)."""
    with _LOCK:
        return list(_OPEN)


def _watch() -> None:
    global _watcher
    stopped = False
    try:
        while not stopped:
            _WAKE_WATCHER.wait(RELEASE_CHECK_SECONDS)
            _WAKE_WATCHER.clear()
            release_replaced()
            with _LOCK:
                stopped = not _OPEN
                if stopped:
                    _watcher = None
    finally:
        if not stopped:
            with _LOCK:
                _watcher = None


def _start_watcher() -> None:
    """With `_LOCK` held: one watcher thread per process, running while a file is open."""
    global _watcher
    if _watcher is None:
        _watcher = threading.Thread(target=_watch, name="deploylens-warehouse-watcher", daemon=True)
        _watcher.start()


# Errors after which a database is not asked again: its file failed under it, or DuckDB invalidated it.
_BROKEN_DATABASE_ERRORS = (duckdb.IOException, duckdb.FatalException, duckdb.InternalException)


def run_query(path: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    """Run one parameterised query on a cursor of the database open on the warehouse file. A query that
    fails because the file was replaced or failed under it runs once more, on the file opened anew."""
    for attempt in range(2):
        identity = file_identity(path)
        opened, cursor = _checkout(path, identity)
        broken = False
        try:
            return cursor.execute(sql, params or []).df()
        except duckdb.Error as error:
            broken = isinstance(error, _BROKEN_DATABASE_ERRORS)
            if attempt == 0 and (broken or _identity_or_none(path) != identity):
                continue
            raise WarehouseUnavailable(f"The warehouse {path} could not answer a query: {error}") from error
        finally:
            _checkin(opened, cursor, broken)
    raise AssertionError("unreachable: the second attempt returns or raises")


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached_query(path: str, identity: FileIdentity, sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    # identity is unused in the body: it is part of the cache key so a newly published file misses.
    del identity
    values = [list(value) if isinstance(value, tuple) else value for value in params]
    return run_query(Path(path), sql, values)


def _query(path: Path, sql: str, *params: object) -> pd.DataFrame:
    # Lists are not hashable for the cache key; they travel as tuples and become lists again.
    key_params = tuple(tuple(value) if isinstance(value, list) else value for value in params)
    return _cached_query(str(path), file_identity(path), sql, key_params)


def _team_filter(teams: list[str] | None) -> list[str] | None:
    """An empty selection means every team, which the marts spell NULL."""
    return sorted(teams) if teams else None


def data_bounds(path: Path) -> DataBounds | None:
    """Days of the first and last deployment in the warehouse, or None when it holds none."""
    frame = _query(
        path,
        """
        select
            min(deployed_at)::date as first_day,
            max(deployed_at)::date as last_day,
        from marts.fct_deployments
        where deployed_at is not null
        """,
    )
    if frame.empty or pd.isna(frame.loc[0, "first_day"]):
        return None
    return DataBounds(
        first_day=pd.Timestamp(frame.loc[0, "first_day"]).date(),
        last_day=pd.Timestamp(frame.loc[0, "last_day"]).date(),
    )


def team_names(path: Path) -> list[str]:
    """All teams, for the sidebar filter."""
    frame = _query(path, "select team from marts.dim_teams order by team")
    return [str(team) for team in frame["team"]]


def dora_summary(path: Path, start: dt.date, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """The four metrics and their 2023 levels per team plus the org row, as the mart's macro defines them."""
    return _query(
        path,
        "select * from marts.dora_summary(?::date, ?::date, ?::varchar[]) order by team",
        start,
        end,
        _team_filter(teams),
    )


def org_weekly(path: Path, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Weekly org metrics for every week overlapping the period."""
    return _query(
        path,
        """
        select *
        from marts.dora_org_weekly
        where week_start between date_trunc('week', ?::date) and ?::date
        order by week_start
        """,
        start,
        end,
    )


def team_weekly(path: Path, start: dt.date, end: dt.date, teams: list[str]) -> pd.DataFrame:
    """Weekly metrics of the given teams for every week overlapping the period."""
    return _query(
        path,
        """
        select *
        from marts.dora_team_weekly
        where week_start between date_trunc('week', ?::date) and ?::date
            and list_contains(?::varchar[], team)
        order by team, week_start
        """,
        start,
        end,
        sorted(teams),
    )


def environment_names(path: Path) -> list[str]:
    """Environments seen in deployments, lowest rank first, for the Deployments page filter."""
    frame = _query(
        path,
        """
        select environment
        from marts.fct_deployments
        group by environment
        order by min(environment_rank), environment
        """,
    )
    return [str(name) for name in frame["environment"]]


def deployments(
    path: Path,
    start: dt.date,
    end: dt.date,
    teams: list[str] | None,
    environments: list[str] | None = None,
    statuses: list[str] | None = None,
    limit: int = 1000,
    services: list[str] | None = None,
) -> pd.DataFrame:
    """Deployments in the period, newest first, filtered on what the Deployments page offers."""
    return _query(
        path,
        """
        select
            deployed_at,
            team,
            service,
            environment,
            status,
            commit_sha,
            commit_count,
            pr_count,
            is_failure,
            is_rollback,
            is_baseline,
            time_to_restore_minutes,
            deployment_id,
        from marts.fct_deployments
        where deployed_at >= ?::date
            and deployed_at < ?::date + interval 1 day
            and (?::varchar[] is null or list_contains(?::varchar[], team))
            and (?::varchar[] is null or list_contains(?::varchar[], environment))
            and (?::varchar[] is null or list_contains(?::varchar[], status))
            and (?::varchar[] is null or list_contains(?::varchar[], service))
        order by deployed_at desc
        limit ?
        """,
        start,
        end,
        _team_filter(teams),
        _team_filter(teams),
        environments or None,
        environments or None,
        statuses or None,
        statuses or None,
        services or None,
        services or None,
        int(limit),
    )


# ------------------------------------------------------------------------------------------ data health
# The health tables are written by the refresh (schema `meta`) and by dbt (schema `health`). A warehouse
# published by an older version lacks some of them: each query first asks the catalogue which exist, so
# the page shows what there is instead of failing.


def _tables(path: Path) -> pd.DataFrame:
    """The tables and views of the schemas the app reads: one query per published file answers every
    page's "does this warehouse have it yet" (health tables, newer marts)."""
    return _query(
        path,
        """
        select table_schema, table_name
        from information_schema.tables
        where table_schema in ('marts', 'meta', 'health')
        order by table_schema, table_name
        """,
    )


def _has(tables: pd.DataFrame, schema: str, table: str) -> bool:
    return bool(((tables["table_schema"] == schema) & (tables["table_name"] == table)).any())


def last_publishes(path: Path) -> pd.DataFrame:
    """When the warehouse was published and by which run (newest first)."""
    if not _has(_tables(path), "meta", "refreshes"):
        return pd.DataFrame(columns=["published_at", "run_id"])
    return _query(path, "select published_at, run_id from meta.refreshes order by published_at desc")


SOURCE_LOAD_COLUMNS = ["source", "status", "last_attempt_at", "last_success_at", "rows_loaded", "error"]


def source_loads(path: Path) -> pd.DataFrame:
    """Per source: its latest load (status, error, rows) and its last successful one (`meta.source_loads`)."""
    if not _has(_tables(path), "meta", "source_loads"):
        return pd.DataFrame(columns=SOURCE_LOAD_COLUMNS)
    return _query(
        path,
        """
        with ranked as (
            select
                *,
                row_number() over (partition by source order by started_at desc) as recency,
            from meta.source_loads
        ),
        last_ok as (
            select source, max(finished_at) as last_success_at,
            from meta.source_loads
            where status = 'ok'
            group by source
        )
        select
            ranked.source,
            ranked.status,
            ranked.finished_at as last_attempt_at,
            last_ok.last_success_at,
            ranked.rows_loaded,
            ranked.error,
        from ranked
        left join last_ok on ranked.source = last_ok.source
        where ranked.recency = 1
        order by ranked.source
        """,
    )


def check_results(path: Path) -> pd.DataFrame:
    """The checks of the published run: failed and warned first, then the passed ones."""
    if not _has(_tables(path), "meta", "check_results"):
        return pd.DataFrame(columns=["check_name", "severity", "passed", "details", "checked_at"])
    return _query(
        path,
        """
        with latest as (
            select run_id from meta.check_results order by checked_at desc limit 1
        )
        select check_name, severity, passed, details, checked_at,
        from meta.check_results
        where run_id = (select run_id from latest)
        order by passed, severity = 'warn', check_name
        """,
    )


def quarantine_summary(path: Path) -> pd.DataFrame:
    """Records set aside or counted by the loads, per source, resource, reason and action."""
    if not _has(_tables(path), "health", "health_quarantine_summary"):
        return pd.DataFrame()
    return _query(path, "select * from health.health_quarantine_summary")


# ------------------------------------------------------------------------------------- deployment card


def deployment(path: Path, deployment_id: str) -> pd.DataFrame:
    """One deployment's row of `fct_deployments` (empty when the id is unknown)."""
    return _query(path, "select * from marts.fct_deployments where deployment_id = ?", deployment_id)


def deployment_changes(path: Path, deployment_id: str) -> pd.DataFrame:
    """The changes (pull requests, merge requests, direct pushes) this deployment shipped first for its
    service (fct_change_services: a change touching two services has a first deployment in each), with the
    deploy phase and lead time to it."""
    return _query(
        path,
        """
        select
            fct_changes.change_id,
            fct_changes.change_kind,
            fct_changes.pr_number,
            fct_changes.title,
            fct_changes.author_login,
            fct_changes.first_commit_at,
            fct_changes.merged_at,
            fct_changes.commit_count,
            change_services.coding_minutes,
            change_services.pickup_minutes,
            change_services.review_minutes,
            change_services.deploy_minutes,
            change_services.lead_time_minutes,
        from marts.fct_change_services as change_services
        inner join marts.fct_changes as fct_changes
            on change_services.change_id = fct_changes.change_id
        where change_services.deployment_id = ?
        order by change_services.lead_time_minutes desc nulls last, fct_changes.change_id
        """,
        deployment_id,
    )


def deployment_commits(path: Path, deployment_id: str) -> pd.DataFrame:
    """The commits this deployment brought to its environment's production line first."""
    return _query(
        path,
        """
        select commit_sha, author_login, authored_at, committed_at, pr_number,
        from marts.fct_commits
        where deployment_id = ?
        order by committed_at desc, commit_sha
        """,
        deployment_id,
    )


def deployment_incidents(path: Path, deployment_id: str) -> pd.DataFrame:
    """The incidents blamed on this deployment."""
    return _query(
        path,
        """
        select incident_id, title, urgency, created_at, acknowledged_at, resolved_at, time_to_resolve_minutes,
        from marts.fct_incidents
        where deployment_id = ?
        order by created_at
        """,
        deployment_id,
    )


def deployment_counts(path: Path) -> dict[str, int]:
    """How many deployments the warehouse holds in all, and how many reached production successfully."""
    frame = _query(
        path,
        """
        select
            count(*) as deployments,
            count(*) filter (where is_production and status = 'success') as production,
        from marts.fct_deployments
        """,
    )
    return {"deployments": int(frame.loc[0, "deployments"]), "production": int(frame.loc[0, "production"])}


# ------------------------------------------------------------------------------- shared filter choices

# The choices the entry point offers on every page, as `data_bounds`, `team_names`, `service_names`,
# `environment_names`, `department_names`, `language_names` and `label_names` give them one by one.
FILTER_CHOICES = ("teams", "services", "environments", "departments", "languages", "labels")


def filter_choices(path: Path) -> tuple[DataBounds | None, dict[str, list[str]]]:
    """The date filter's bounds and the values of each sidebar filter (`FILTER_CHOICES`), in one query."""
    frame = _query(
        path,
        """
        select
            (select min(deployed_at)::date from marts.fct_deployments where deployed_at is not null)
                as first_day,
            (select max(deployed_at)::date from marts.fct_deployments where deployed_at is not null)
                as last_day,
            (select list(team order by team) from marts.dim_teams) as teams,
            (select list(service order by service) from marts.dim_services) as services,
            (
                select list(environment order by environment_rank, environment)
                from (
                    select environment, min(environment_rank) as environment_rank
                    from marts.fct_deployments
                    group by environment
                )
            ) as environments,
            (
                select list(department order by department)
                from (select distinct department from marts.dim_teams where department is not null)
            ) as departments,
            (
                select list(language order by language)
                from (select distinct language from marts.dim_services where language is not null)
            ) as languages,
            (
                select list(label order by label)
                from (
                    select distinct label
                    from (select unnest(labels) as label from marts.dim_services)
                    where label is not null
                )
            ) as labels,
        """,
    )
    row = frame.iloc[0]
    bounds = None
    if not pd.isna(row["first_day"]):
        bounds = DataBounds(
            first_day=pd.Timestamp(row["first_day"]).date(), last_day=pd.Timestamp(row["last_day"]).date()
        )
    return bounds, {name: _names(row[name]) for name in FILTER_CHOICES}


def _names(values: object) -> list[str]:
    """A list column's value as names (no rows: the aggregate is NULL)."""
    if values is None or (not hasattr(values, "__len__") and pd.isna(values)):
        return []
    return [str(value) for value in values]


def service_names(path: Path) -> list[str]:
    """All services, for the sidebar filter."""
    frame = _query(path, "select service from marts.dim_services order by service")
    return [str(service) for service in frame["service"]]


def _list_filter(values: list[str] | None) -> list[str] | None:
    """An empty selection means all, which the queries below spell NULL."""
    return sorted(values) if values else None


# ----------------------------------------------------------------------------------------------- teams
# Ranks, percentiles and the compare-to deltas are window functions over the rows `dora_summary` returns;
# the metrics themselves are the macro's.

TEAM_METRICS = {
    # column of dora_summary: True when a higher value is better
    "deployments_per_week": True,
    "lead_time_median_minutes": False,
    "change_failure_rate": False,
    "time_to_restore_median_minutes": False,
}


def team_comparison(
    path: Path,
    start: dt.date,
    end: dt.date,
    compare_start: dt.date,
    compare_end: dt.date,
    teams: list[str] | None,
) -> pd.DataFrame:
    """Every selected team's four keys with their 2023 levels, rank (1 = best) and percentile (share of teams
    doing no better, 1.0 = best) among the selected teams, and the change against the compare-to period."""
    return _query(
        path,
        """
        with
        current as (
            select * from marts.dora_summary(?::date, ?::date, ?::varchar[]) where team <> '(org)'
        ),
        compared_all as (
            select * from marts.dora_summary(?::date, ?::date, ?::varchar[])
        ),
        compared as (
            select * from compared_all where team <> '(org)'
        ),
        -- A compare-to period before the data begins (no deployment of the selected teams) compares with
        -- nothing: no change is shown rather than every figure as a rise.
        compared_org as (
            select deployments from compared_all where team = '(org)'
        )
        select
            current.*,
            case when current.deployments_per_week is not null then
                rank() over (
                    partition by current.deployments_per_week is null
                    order by current.deployments_per_week desc
                )
            end as deployments_per_week_rank,
            case when current.deployments_per_week is not null then
                cume_dist() over (
                    partition by current.deployments_per_week is null
                    order by current.deployments_per_week asc
                )
            end as deployments_per_week_percentile,
            case when (select deployments from compared_org) > 0
                then current.deployments_per_week - compared.deployments_per_week
            end as deployments_per_week_change,
            case when current.lead_time_median_minutes is not null then
                rank() over (
                    partition by current.lead_time_median_minutes is null
                    order by current.lead_time_median_minutes asc
                )
            end as lead_time_median_minutes_rank,
            case when current.lead_time_median_minutes is not null then
                cume_dist() over (
                    partition by current.lead_time_median_minutes is null
                    order by current.lead_time_median_minutes desc
                )
            end as lead_time_median_minutes_percentile,
            case when (select deployments from compared_org) > 0
                then current.lead_time_median_minutes - compared.lead_time_median_minutes
            end as lead_time_median_minutes_change,
            case when current.change_failure_rate is not null then
                rank() over (
                    partition by current.change_failure_rate is null
                    order by current.change_failure_rate asc
                )
            end as change_failure_rate_rank,
            case when current.change_failure_rate is not null then
                cume_dist() over (
                    partition by current.change_failure_rate is null order by current.change_failure_rate desc
                )
            end as change_failure_rate_percentile,
            case when (select deployments from compared_org) > 0
                then current.change_failure_rate - compared.change_failure_rate
            end as change_failure_rate_change,
            case when current.time_to_restore_median_minutes is not null then
                rank() over (
                    partition by current.time_to_restore_median_minutes is null
                    order by current.time_to_restore_median_minutes asc
                )
            end as time_to_restore_median_minutes_rank,
            case when current.time_to_restore_median_minutes is not null then
                cume_dist() over (
                    partition by current.time_to_restore_median_minutes is null
                    order by current.time_to_restore_median_minutes desc
                )
            end as time_to_restore_median_minutes_percentile,
            case when (select deployments from compared_org) > 0
                then current.time_to_restore_median_minutes - compared.time_to_restore_median_minutes
            end as time_to_restore_median_minutes_change,
            compared.deployments as compared_deployments,
        from current
        left join compared on current.team = compared.team
        order by current.team
        """,
        start,
        end,
        _team_filter(teams),
        compare_start,
        compare_end,
        _team_filter(teams),
    )


def team_weighted_averages(path: Path, start: dt.date, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """The teams' figures averaged with each team weighted by its production deployments in the period (a team
    without deployments, or without a value for a metric, does not weigh)."""
    return _query(
        path,
        """
        with teams as (
            select * from marts.dora_summary(?::date, ?::date, ?::varchar[]) where team <> '(org)'
        )
        select
            sum(deployments_per_week * deployments) / nullif(sum(deployments), 0) as deployments_per_week,
            sum(lead_time_median_minutes * deployments)
                / nullif(sum(deployments) filter (where lead_time_median_minutes is not null), 0)
                as lead_time_median_minutes,
            sum(change_failure_rate * deployments)
                / nullif(sum(deployments) filter (where change_failure_rate is not null), 0)
                as change_failure_rate,
            sum(time_to_restore_median_minutes * deployments)
                / nullif(sum(deployments) filter (where time_to_restore_median_minutes is not null), 0)
                as time_to_restore_median_minutes,
        from teams
        """,
        start,
        end,
        _team_filter(teams),
    )


# -------------------------------------------------------------------------------------------- services
# `dora_summary` is per team; per service the same definitions are applied here to the facts: successful
# production deployments counted on their deploy day, failures and restores of those deployments, lead times
# of the changes they shipped first (docs/metrics.md).


def loaded_days(path: Path, start: dt.date, end: dt.date) -> int:
    """Days of the period inside the loaded data (the first to the last day holding a deployment of any
    environment or status, or an incident), as `dora_summary` and the rollups count them; 0 outside it."""
    frame = _query(
        path,
        """
        with loaded as (
            select min(loaded_day) as loaded_from, max(loaded_day) as loaded_through,
            from (
                select coalesce(deployed_at, created_at)::date as loaded_day from marts.fct_deployments
                union all
                select created_at::date as loaded_day from marts.fct_incidents
            )
        )
        select
            coalesce(
                greatest(
                    0,
                    date_diff('day', greatest(?::date, loaded_from), least(?::date, loaded_through)) + 1
                ),
                0
            ) as loaded_days,
        from loaded
        """,
        start,
        end,
    )
    return int(frame.loc[0, "loaded_days"])


def service_summary(
    path: Path,
    start: dt.date,
    end: dt.date,
    teams: list[str] | None,
    services: list[str] | None,
) -> pd.DataFrame:
    """Per service: production deployments, per week, failures, change failure rate, time to restore and
    lead time percentiles in the period (a change counts for each service it touches)."""
    return _query(
        path,
        """
        with
        selected as (
            select service, team, repository
            from marts.dim_services
            where (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
        ),
        -- Per week over the period's loaded days, as dora_summary: days after the last load (or before
        -- the first) are not days without deployments.
        period as (select ?::date as period_start, ?::date as period_end, ?::integer as loaded_days),
        deployments as (
            select
                fct_deployments.service,
                count(*) as deployments,
                count(distinct fct_deployments.deployed_at::date) as deploy_days,
                count(*) filter (where fct_deployments.is_failure) as failed_deployments,
                median(fct_deployments.time_to_restore_minutes) as time_to_restore_median_minutes,
            from marts.fct_deployments as fct_deployments
            cross join period
            where fct_deployments.status = 'success'
                and fct_deployments.is_production
                and fct_deployments.deployed_at::date between period.period_start and period.period_end
            group by fct_deployments.service
        ),
        -- A change counts for each service it touches, with that service's lead time (fct_change_services).
        changes as (
            select
                change_services.service,
                count(*) as changes,
                median(change_services.lead_time_minutes) as lead_time_median_minutes,
                quantile_cont(change_services.lead_time_minutes, 0.75) as lead_time_p75_minutes,
                quantile_cont(change_services.lead_time_minutes, 0.9) as lead_time_p90_minutes,
            from marts.fct_change_services as change_services
            cross join period
            where change_services.lead_time_minutes is not null
                and change_services.deployed_at::date between period.period_start and period.period_end
            group by change_services.service
        ),
        environments as (
            select
                service,
                string_agg(distinct environment, ', ' order by environment) as environments,
            from marts.fct_deployments
            group by service
        )
        select
            selected.service,
            selected.team,
            selected.repository,
            environments.environments,
            coalesce(deployments.deployments, 0) as deployments,
            case when period.loaded_days > 0
                then cast(coalesce(deployments.deployments, 0) as double) * 7 / period.loaded_days
            end as deployments_per_week,
            coalesce(deployments.deploy_days, 0) as deploy_days,
            coalesce(deployments.failed_deployments, 0) as failed_deployments,
            deployments.failed_deployments / nullif(deployments.deployments, 0) as change_failure_rate,
            deployments.time_to_restore_median_minutes,
            coalesce(changes.changes, 0) as changes,
            changes.lead_time_median_minutes,
            changes.lead_time_p75_minutes,
            changes.lead_time_p90_minutes,
        from selected
        cross join period
        left join deployments on selected.service = deployments.service
        left join changes on selected.service = changes.service
        left join environments on selected.service = environments.service
        order by selected.service
        """,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
        start,
        end,
        loaded_days(path, start, end),
    )


def service_environments(
    path: Path, teams: list[str] | None, services: list[str] | None, environments: list[str] | None
) -> pd.DataFrame:
    """Per service and environment: how it is named at the source, whether it counts as production, and its
    deployments of all time (last one, successes)."""
    return _query(
        path,
        """
        select
            service,
            environment,
            string_agg(distinct source_environment, ', ' order by source_environment) as source_environments,
            bool_or(is_production) as is_production,
            min(environment_rank) as environment_rank,
            count(*) as deployments,
            count(*) filter (where status = 'success') as successful,
            max(deployed_at) as last_deployed_at,
            string_agg(distinct source_system, ', ' order by source_system) as source_systems,
        from marts.fct_deployments
        where (?::varchar[] is null or list_contains(?::varchar[], team))
            and (?::varchar[] is null or list_contains(?::varchar[], service))
            and (?::varchar[] is null or list_contains(?::varchar[], environment))
        group by service, environment
        order by service, environment_rank, environment
        """,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
        _list_filter(environments),
        _list_filter(environments),
    )


def deploy_rules(path: Path) -> pd.DataFrame:
    """The configured deploy rules per service, from the configuration the refresh loaded (`raw_config`);
    empty when the warehouse carries none."""
    tables = _query(
        path,
        """
        select table_name
        from information_schema.tables
        where table_schema = 'raw_config' and table_name = 'deploy_rules'
        """,
    )
    if tables.empty:
        return pd.DataFrame()
    frame = _query(path, "select * from raw_config.deploy_rules")
    return frame[[column for column in frame.columns if not column.startswith("_dlt")]]


# ------------------------------------------------------------------------------------------- lead time
# Changes count in the period of their first production deployment, as the marts do; changes shipped by a
# baseline deployment have no lead time and are left out. A change counts for each service it touches
# (`fct_change_services`, docs/metrics.md "Services by path"), with that service's deployment and lead
# time: filtering by team or service keeps the change's rows of the chosen ones, the per-team figures count
# it once per team at the team's first deployment of it among the chosen services (as `dora_rollup_*` count
# it per team), and the list of changes shows it once per service.


def _period_params(
    start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> tuple[object, ...]:
    return (
        start,
        end,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
    )


def _scope_params(teams: list[str] | None, services: list[str] | None) -> tuple[object, ...]:
    return (_list_filter(teams), _list_filter(teams), _list_filter(services), _list_filter(services))


def lead_time_distribution(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """Per team: changes, lead time median / p75 / p90, and the median of each phase, in the period."""
    return _query(
        path,
        """
        with measured as (
            select
                change_id, service, team, deployed_at, lead_time_minutes,
                coding_minutes, pickup_minutes, review_minutes, deploy_minutes,
            from marts.fct_change_services
            where lead_time_minutes is not null
                and team is not null
                and (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
            -- once per team: at the team's first production deployment of it among the chosen services
            qualify row_number() over (partition by team, change_id order by deployed_at, service) = 1
        )
        select
            team,
            count(*) as changes,
            median(lead_time_minutes) as lead_time_median_minutes,
            quantile_cont(lead_time_minutes, 0.75) as lead_time_p75_minutes,
            quantile_cont(lead_time_minutes, 0.9) as lead_time_p90_minutes,
            median(coding_minutes) as coding_median_minutes,
            median(pickup_minutes) as pickup_median_minutes,
            median(review_minutes) as review_median_minutes,
            median(deploy_minutes) as deploy_median_minutes,
        from measured
        where deployed_at::date between ?::date and ?::date
        group by team
        order by team
        """,
        *_scope_params(teams, services),
        start,
        end,
    )


def lead_time_phases_weekly(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """Per team and week: the mean minutes of each phase over the changes that have all four (means of
    phases that add up add up to the mean lead time; medians would not), long format for a stacked chart."""
    return _query(
        path,
        """
        with measured as (
            select
                change_id, service, team, deployed_at, lead_time_minutes,
                coding_minutes, pickup_minutes, review_minutes, deploy_minutes,
            from marts.fct_change_services
            where lead_time_minutes is not null
                and team is not null
                and (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
            -- once per team: at the team's first production deployment of it among the chosen services
            qualify row_number() over (partition by team, change_id order by deployed_at, service) = 1
        ),
        phases as (
            select
                team,
                date_trunc('week', deployed_at)::date as week_start,
                avg(coding_minutes) as coding,
                avg(pickup_minutes) as pickup,
                avg(review_minutes) as review,
                avg(deploy_minutes) as deploy,
                count(*) as changes,
            from measured
            where deployed_at::date between ?::date and ?::date
                and coding_minutes is not null
                and pickup_minutes is not null
                and review_minutes is not null
                and deploy_minutes is not null
            group by all
        )
        unpivot phases on coding, pickup, review, deploy into name phase value mean_minutes
        order by team, week_start, phase
        """,
        *_scope_params(teams, services),
        start,
        end,
    )


def slowest_changes(
    path: Path,
    start: dt.date,
    end: dt.date,
    teams: list[str] | None,
    services: list[str] | None,
    limit: int = 25,
) -> pd.DataFrame:
    """The changes with the longest lead time in the period, slowest first: a change touching two of the
    chosen services is listed under each, with that service's lead time and deployment."""
    return _query(
        path,
        """
        select
            changes.change_id,
            changes.change_kind,
            changes.team,
            changes.service,
            changes.repository,
            fct_changes.pr_number,
            fct_changes.title,
            fct_changes.author_login,
            changes.lead_time_minutes,
            changes.coding_minutes,
            changes.pickup_minutes,
            changes.review_minutes,
            changes.deploy_minutes,
            changes.deployed_at,
            changes.deployment_id,
        from marts.fct_change_services as changes
        inner join marts.fct_changes as fct_changes
            on changes.change_id = fct_changes.change_id
        where changes.lead_time_minutes is not null
            and changes.team is not null
            and (?::varchar[] is null or list_contains(?::varchar[], changes.team))
            and (?::varchar[] is null or list_contains(?::varchar[], changes.service))
            and changes.deployed_at::date between ?::date and ?::date
        order by changes.lead_time_minutes desc, changes.change_id, changes.service
        limit ?
        """,
        *_scope_params(teams, services),
        start,
        end,
        int(limit),
    )


# -------------------------------------------------------------------------------- failures & recovery


def failed_deployments(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """Failed production deployments in the period, newest first, with their signals and the incidents
    blamed on them (`fct_incidents.deployment_id`)."""
    return _query(
        path,
        """
        with incidents as (
            select
                deployment_id,
                count(*) as incidents,
                string_agg(incident_id || ' ' || coalesce(title, ''), '; ' order by created_at)
                    as incident_titles,
                count(*) filter (where resolved_at is null) as open_incidents,
            from marts.fct_incidents
            where deployment_id is not null
            group by deployment_id
        )
        select
            fct_deployments.deployed_at,
            fct_deployments.team,
            fct_deployments.service,
            fct_deployments.has_incident_failure,
            fct_deployments.has_rollback_failure,
            fct_deployments.failure_signals,
            fct_deployments.first_failure_signal_at,
            fct_deployments.time_to_detect_minutes,
            fct_deployments.recovery_kind,
            coalesce(incidents.incidents, 0) as incidents,
            incidents.incident_titles,
            fct_deployments.recovered_at,
            fct_deployments.time_to_restore_minutes,
            fct_deployments.recovered_at is null as is_open,
            fct_deployments.deployment_id,
        from marts.fct_deployments as fct_deployments
        left join incidents on fct_deployments.deployment_id = incidents.deployment_id
        where fct_deployments.is_failure
            and fct_deployments.deployed_at::date between ?::date and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], fct_deployments.team))
            and (?::varchar[] is null or list_contains(?::varchar[], fct_deployments.service))
        order by fct_deployments.deployed_at desc, fct_deployments.deployment_id
        """,
        *_period_params(start, end, teams, services),
    )


def open_incidents(path: Path, teams: list[str] | None, services: list[str] | None) -> pd.DataFrame:
    """Incidents not resolved yet, whatever the period, oldest first, with the deployment blamed."""
    return _query(
        path,
        """
        select incident_id, team, service, title, urgency, created_at, acknowledged_at, deployment_id,
        from marts.fct_incidents
        where resolved_at is null
            and (?::varchar[] is null or list_contains(?::varchar[], team))
            and (?::varchar[] is null or list_contains(?::varchar[], service))
        order by created_at
        """,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
    )


# ----------------------------------------------------------------------------------- where is my change

SEARCH_LIMIT = 50


def find_changes(
    path: Path, text: str, services: list[str] | None, limit: int = SEARCH_LIMIT
) -> pd.DataFrame:
    """Changes whose number, title, author, id or one of whose commits (SHA prefix) matches the text, among
    the changes touching one of `services` (fct_change_services); `services` lists every service each
    touches and `waiting_services` those that have not shipped it to production yet."""
    text = text.strip()
    if not text:
        return pd.DataFrame()
    number = text.lstrip("#!")
    return _query(
        path,
        """
        with
        matching_commits as (
            select distinct service, pr_number
            from marts.fct_commits
            where length(?) >= 6 and starts_with(lower(commit_sha), lower(?)) and pr_number is not null
        ),
        change_services as (
            select
                change_id,
                list(service order by service) as services,
                list(service order by service) filter (where deployment_id is null) as waiting_services,
            from marts.fct_change_services
            group by change_id
        )
        select
            fct_changes.change_id, fct_changes.change_kind, fct_changes.team, fct_changes.service,
            coalesce(change_services.services, [fct_changes.service]) as services,
            coalesce(
                change_services.waiting_services,
                case when fct_changes.deployment_id is null then [fct_changes.service] else [] end
            ) as waiting_services,
            fct_changes.repository, fct_changes.pr_number, fct_changes.title, fct_changes.author_login,
            fct_changes.merged_at, fct_changes.deployed_at, fct_changes.deployment_id,
        from marts.fct_changes as fct_changes
        left join change_services
            on fct_changes.change_id = change_services.change_id
        where (
                ?::varchar[] is null
                or list_has_any(coalesce(change_services.services, [fct_changes.service]), ?::varchar[])
            )
            and (
                cast(fct_changes.pr_number as varchar) = ?
                or contains(lower(coalesce(fct_changes.title, '')), lower(?))
                or lower(coalesce(fct_changes.author_login, '')) = lower(?)
                or contains(lower(fct_changes.change_id), lower(?))
                or (fct_changes.service, fct_changes.pr_number)
                    in (select (service, pr_number) from matching_commits)
            )
        order by
            lower(fct_changes.change_id) = lower(?) desc,
            fct_changes.merged_at desc nulls last,
            fct_changes.change_id
        limit ?
        """,
        text,
        text,
        _list_filter(services),
        _list_filter(services),
        number,
        text,
        text,
        text,
        text,
        int(limit),
    )


def change_reach(path: Path, change_id: str) -> pd.DataFrame:
    """Each environment of each service the change touches (fct_change_services) and when the change
    reached it there.

    Production is the marts' answer: the service's first production deployment of the change
    (`fct_change_services.deployment_id`). For the other environments the marts keep no per-environment
    shipment, so the first successful deployment there of one of the change's commits counts
    (`how = 'its commit'`), else the first successful deployment there after the merge
    (`how = 'after merge'`: right when that environment deploys the default branch's head)."""
    return _query(
        path,
        """
        with
        change as (select * from marts.fct_changes where change_id = ?),
        change_services as (
            select service, deployment_id, deployed_at from marts.fct_change_services where change_id = ?
        ),
        change_commits as (
            select fct_commits.commit_sha
            from marts.fct_commits as fct_commits
            inner join change
                on fct_commits.service = change.service and fct_commits.pr_number = change.pr_number
            union
            select split_part(change.change_id, '@', 2) from change where change.change_kind = 'direct_push'
        ),
        environments as (
            select
                service,
                environment,
                min(environment_rank) as environment_rank,
                bool_or(is_production) as is_production,
            from marts.fct_deployments
            where service in (select service from change_services)
            group by service, environment
        ),
        candidates as (
            select
                fct_deployments.service,
                fct_deployments.environment,
                fct_deployments.deployment_id,
                fct_deployments.deployed_at,
                case when fct_deployments.commit_sha in (select commit_sha from change_commits)
                    then 'its commit' else 'after merge' end as how,
                row_number() over (
                    partition by fct_deployments.service, fct_deployments.environment
                    order by fct_deployments.commit_sha in (select commit_sha from change_commits) desc,
                        fct_deployments.deployed_at
                ) as pick,
            from marts.fct_deployments as fct_deployments
            cross join change
            where fct_deployments.service in (select service from change_services)
                and fct_deployments.status = 'success'
                and not fct_deployments.is_production
                and (
                    fct_deployments.commit_sha in (select commit_sha from change_commits)
                    or fct_deployments.deployed_at >= change.merged_at
                )
        ),
        reached as (
            select service, environment, deployment_id, deployed_at, how from candidates where pick = 1
            union all
            select
                change_services.service,
                fct_deployments.environment,
                change_services.deployment_id,
                change_services.deployed_at,
                'first production deployment',
            from change_services
            inner join marts.fct_deployments as fct_deployments
                on change_services.deployment_id = fct_deployments.deployment_id
        )
        select
            environments.service,
            environments.environment,
            environments.is_production,
            reached.deployed_at as reached_at,
            reached.how,
            reached.deployment_id,
        from environments
        left join reached
            on environments.service = reached.service
            and environments.environment = reached.environment
        order by environments.service, environments.environment_rank, environments.environment
        """,
        change_id,
        change_id,
    )


def waiting_changes(path: Path, teams: list[str] | None, services: list[str] | None) -> pd.DataFrame:
    """Merged changes a service they touch has not shipped to production yet, oldest merge first: one row
    per change and waiting service (fct_change_services)."""
    return _query(
        path,
        """
        select
            change_services.change_id,
            change_services.team,
            change_services.service,
            fct_changes.pr_number,
            fct_changes.title,
            fct_changes.author_login,
            fct_changes.merged_at,
        from marts.fct_change_services as change_services
        inner join marts.fct_changes as fct_changes
            on change_services.change_id = fct_changes.change_id
        where change_services.deployment_id is null
            and fct_changes.merged_at is not null
            and (?::varchar[] is null or list_contains(?::varchar[], change_services.team))
            and (?::varchar[] is null or list_contains(?::varchar[], change_services.service))
        order by fct_changes.merged_at, change_services.change_id, change_services.service
        """,
        *_scope_params(teams, services),
    )


# The department, language and label filters narrow the teams and services a page shows; each page passes
# the resulting names on to its own queries, as if they had been picked one by one.


def department_names(path: Path) -> list[str]:
    """Departments of the configured teams, for the sidebar filter."""
    frame = _query(
        path,
        "select distinct department from marts.dim_teams where department is not null order by department",
    )
    return [str(value) for value in frame["department"]]


def language_names(path: Path) -> list[str]:
    """Languages of the configured services, for the sidebar filter."""
    frame = _query(
        path,
        "select distinct language from marts.dim_services where language is not null order by language",
    )
    return [str(value) for value in frame["language"]]


def label_names(path: Path) -> list[str]:
    """Labels carried by any configured service, for the sidebar filter."""
    frame = _query(
        path,
        """
        select distinct label
        from (select unnest(labels) as label from marts.dim_services)
        where label is not null
        order by label
        """,
    )
    return [str(value) for value in frame["label"]]


def scoped_services(
    path: Path,
    teams: list[str] | None,
    services: list[str] | None,
    departments: list[str] | None,
    languages: list[str] | None,
    labels: list[str] | None,
) -> list[str]:
    """The services that pass every filter: their team, themselves, their team's department, their language,
    and any of the labels (an empty filter passes everything)."""
    frame = _query(
        path,
        """
        select dim_services.service
        from marts.dim_services as dim_services
        left join marts.dim_teams as dim_teams
            on dim_services.team = dim_teams.team
        where (?::varchar[] is null or list_contains(?::varchar[], dim_services.team))
            and (?::varchar[] is null or list_contains(?::varchar[], dim_services.service))
            and (?::varchar[] is null or list_contains(?::varchar[], dim_teams.department))
            and (?::varchar[] is null or list_contains(?::varchar[], dim_services.language))
            and (?::varchar[] is null or list_has_any(dim_services.labels, ?::varchar[]))
        order by dim_services.service
        """,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
        _list_filter(departments),
        _list_filter(departments),
        _list_filter(languages),
        _list_filter(languages),
        _list_filter(labels),
        _list_filter(labels),
    )
    return [str(value) for value in frame["service"]]


def scoped_teams(
    path: Path,
    teams: list[str] | None,
    departments: list[str] | None,
    languages: list[str] | None,
    labels: list[str] | None,
) -> list[str]:
    """The teams that pass the team and department filters and, when a language or label is chosen, own at
    least one service that has it."""
    frame = _query(
        path,
        """
        select dim_teams.team
        from marts.dim_teams as dim_teams
        where (?::varchar[] is null or list_contains(?::varchar[], dim_teams.team))
            and (?::varchar[] is null or list_contains(?::varchar[], dim_teams.department))
            and (
                (?::varchar[] is null and ?::varchar[] is null)
                or exists (
                    select 1
                    from marts.dim_services as dim_services
                    where dim_services.team = dim_teams.team
                        and (?::varchar[] is null or list_contains(?::varchar[], dim_services.language))
                        and (?::varchar[] is null or list_has_any(dim_services.labels, ?::varchar[]))
                )
            )
        order by dim_teams.team
        """,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(departments),
        _list_filter(departments),
        _list_filter(languages),
        _list_filter(labels),
        _list_filter(languages),
        _list_filter(languages),
        _list_filter(labels),
        _list_filter(labels),
    )
    return [str(value) for value in frame["team"]]


# ---------------------------------------------------------------------------- outliers & suggestions
# The marts fct_change_outliers, fct_deployment_outliers, team_weekly_anomalies and team_suggestions judge
# every row; these queries only select and join names for display. A warehouse published before they
# existed lacks them: `has_marts` lets the page say so instead of failing.

OUTLIER_MARTS = (
    "fct_change_outliers",
    "fct_deployment_outliers",
    "team_weekly_anomalies",
    "team_suggestions",
)


def has_marts(path: Path, names: tuple[str, ...]) -> bool:
    """Whether every one of the marts exists in the warehouse."""
    tables = _tables(path)
    return all(_has(tables, "marts", name) for name in names)


def change_outliers(
    path: Path,
    start: dt.date,
    end: dt.date,
    baseline_grouping: str,
    teams: list[str] | None,
    services: list[str] | None,
) -> pd.DataFrame:
    """Changes deployed in the period whose lead time is beyond their team's (or service's) normal, with the
    change's phases for the drill-down (the deploy phase to the row's service's deployment: a monorepo change
    is judged once per service it touches); the most extreme first (a constant baseline has no z: first)."""
    return _query(
        path,
        """
        select
            outliers.change_id,
            outliers.team,
            outliers.service,
            changes.title,
            changes.author_login,
            outliers.deployed_at,
            outliers.lead_time_minutes,
            outliers.baseline_median_minutes,
            outliers.baseline_mad_minutes,
            outliers.baseline_count,
            outliers.baseline_method,
            outliers.robust_z,
            outliers.outlier_direction,
            changes.coding_minutes,
            changes.pickup_minutes,
            changes.review_minutes,
            coalesce(change_services.deploy_minutes, changes.deploy_minutes) as deploy_minutes,
            outliers.deployment_id,
        from marts.fct_change_outliers as outliers
        left join marts.fct_changes as changes
            on outliers.change_id = changes.change_id
        left join marts.fct_change_services as change_services
            on outliers.change_id = change_services.change_id
            and outliers.service = change_services.service
        where outliers.is_outlier
            and outliers.baseline_grouping = ?
            and outliers.deployed_at::date between ?::date and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], outliers.team))
            and (?::varchar[] is null or list_contains(?::varchar[], outliers.service))
        order by abs(outliers.robust_z) desc nulls first, outliers.deployed_at desc, outliers.change_id
        """,
        baseline_grouping,
        *_period_params(start, end, teams, services),
    )


def deployment_outliers(
    path: Path,
    start: dt.date,
    end: dt.date,
    baseline_grouping: str,
    teams: list[str] | None,
    services: list[str] | None,
) -> pd.DataFrame:
    """Production deployments in the period with a measure (commits, pull requests, time to restore)
    beyond their team's (or service's) normal; the most extreme first."""
    return _query(
        path,
        """
        select
            deployment_id,
            team,
            service,
            deployed_at,
            measure,
            value,
            baseline_median,
            baseline_mad,
            baseline_count,
            baseline_method,
            robust_z,
            outlier_direction,
            is_failure,
        from marts.fct_deployment_outliers
        where is_outlier
            and baseline_grouping = ?
            and deployed_at::date between ?::date and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], team))
            and (?::varchar[] is null or list_contains(?::varchar[], service))
        order by abs(robust_z) desc nulls first, deployed_at desc, deployment_id, measure
        """,
        baseline_grouping,
        *_period_params(start, end, teams, services),
    )


def weekly_anomalies(path: Path, start: dt.date, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """Team weeks overlapping the period whose figure moved beyond the team's normal, newest first."""
    return _query(
        path,
        """
        select
            team,
            week_start,
            metric,
            value,
            previous_value,
            week_over_week_change,
            baseline_median,
            baseline_mad,
            baseline_weeks,
            baseline_method,
            robust_z,
            direction,
            is_worse,
        from marts.team_weekly_anomalies
        where is_anomaly
            and week_start between date_trunc('week', ?::date) and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], team))
        order by week_start desc, team, metric
        """,
        start,
        end,
        _list_filter(teams),
        _list_filter(teams),
    )


def latest_weekly_normals(path: Path, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """Each team's latest complete week on or before `end`: every metric against its normal, flagged or
    not."""
    return _query(
        path,
        """
        with latest as (
            select team, max(week_start) as week_start,
            from marts.team_weekly_anomalies
            where is_complete_period and week_start <= ?::date
            group by team
        )
        select
            anomalies.team,
            anomalies.week_start,
            anomalies.metric,
            anomalies.value,
            anomalies.baseline_median,
            anomalies.baseline_weeks,
            anomalies.robust_z,
            anomalies.is_anomaly,
            anomalies.is_worse,
        from marts.team_weekly_anomalies as anomalies
        inner join latest
            on anomalies.team = latest.team and anomalies.week_start = latest.week_start
        where (?::varchar[] is null or list_contains(?::varchar[], anomalies.team))
        order by anomalies.team, anomalies.metric
        """,
        end,
        _list_filter(teams),
        _list_filter(teams),
    )


def team_suggestions(path: Path, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """Each team's phase, next milestone and advice for its latest complete month ending on or before `end`,
    or, without one, its latest month starting on or before it."""
    return _query(
        path,
        """
        with ranked as (
            select
                *,
                row_number() over (
                    partition by team
                    order by is_complete_period and period_end <= ?::date desc, period_start desc
                ) as pick,
            from marts.team_suggestions
            where period_start <= ?::date
        )
        select * exclude (pick)
        from ranked
        where pick = 1
            and (?::varchar[] is null or list_contains(?::varchar[], team))
        order by team
        """,
        end,
        end,
        _list_filter(teams),
        _list_filter(teams),
    )


# ------------------------------------------------------------------------------ teams that moved most

MOVE_METRICS = {
    # column of the rollups: True when a higher value is better
    "deployments_per_week": True,
    "lead_time_median_minutes": False,
    "change_failure_rate": False,
    "time_to_restore_median_minutes": False,
}


def teams_that_moved(path: Path, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """Per team and metric, the latest complete month ending on or before `end` (or, without one, the latest
    month starting on or before it) against the previous month, from `dora_rollup_monthly`: the change and
    the relative change, biggest relative moves first."""
    return _query(
        path,
        """
        with
        team_months as (
            select * from marts.dora_rollup_monthly where grouping = 'team'
        ),
        chosen as (
            select period_start
            from team_months
            where period_start <= ?::date
            order by is_complete_period and period_end <= ?::date desc, period_start desc
            limit 1
        ),
        moves as (
            select
                team_months.group_value as team,
                team_months.period_start,
                team_months.period_end,
                team_months.is_complete_period,
                metrics.metric,
                metrics.higher_is_better,
                metrics.value,
                metrics.previous_value,
            from team_months
            inner join chosen on team_months.period_start = chosen.period_start
            cross join lateral (
                values
                    ('deployments_per_week', true,
                        team_months.deployments_per_week, team_months.previous_deployments_per_week),
                    ('lead_time_median_minutes', false,
                        team_months.lead_time_median_minutes, team_months.previous_lead_time_median_minutes),
                    ('change_failure_rate', false,
                        team_months.change_failure_rate, team_months.previous_change_failure_rate),
                    ('time_to_restore_median_minutes', false,
                        team_months.time_to_restore_median_minutes,
                        team_months.previous_time_to_restore_median_minutes)
            ) as metrics(metric, higher_is_better, value, previous_value)
            where (?::varchar[] is null or list_contains(?::varchar[], team_months.group_value))
        )
        select
            *,
            value - previous_value as change,
            case when previous_value <> 0 then (value - previous_value) / abs(previous_value) end
                as relative_change,
            case
                when value = previous_value then null
                when higher_is_better then value > previous_value
                else value < previous_value
            end as is_better,
        from moves
        where value is not null and previous_value is not null
        order by abs(relative_change) desc nulls last, abs(change) desc, team, metric
        """,
        end,
        end,
        _list_filter(teams),
        _list_filter(teams),
    )


# ------------------------------------------------------------------------------- environments and drift
# marts.fct_commit_promotions, fct_promotions and drift_daily (docs/metrics.md, "Promotion" and "Drift").


def drift_as_of(
    path: Path, day: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """Per service and environment pair, drift_daily's row for `day` (the end of the chosen period): what
    the upstream environment has that the downstream one has not, and since when. Pairs whose history
    starts after `day` have no row."""
    return _query(
        path,
        """
        select
            drift_daily.service,
            dim_services.team,
            drift_daily.upstream_environment,
            drift_daily.downstream_environment,
            drift_daily.day,
            drift_daily.commits_waiting,
            drift_daily.oldest_waiting_commit_at,
            drift_daily.oldest_waiting_age_hours,
        from marts.drift_daily as drift_daily
        left join marts.dim_services as dim_services
            on drift_daily.service = dim_services.service
        where drift_daily.day = least(
                ?::date,
                (select max(day) from marts.drift_daily)
            )
            and (?::varchar[] is null or list_contains(?::varchar[], dim_services.team))
            and (?::varchar[] is null or list_contains(?::varchar[], drift_daily.service))
        order by drift_daily.commits_waiting desc, drift_daily.oldest_waiting_commit_at, drift_daily.service
        """,
        day,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
    )


def drift_over_time(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """drift_daily's rows in the period, for the chart."""
    return _query(
        path,
        """
        select
            drift_daily.service,
            drift_daily.upstream_environment,
            drift_daily.downstream_environment,
            drift_daily.day,
            drift_daily.commits_waiting,
            drift_daily.oldest_waiting_age_hours,
        from marts.drift_daily as drift_daily
        left join marts.dim_services as dim_services
            on drift_daily.service = dim_services.service
        where drift_daily.day between ?::date and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], dim_services.team))
            and (?::varchar[] is null or list_contains(?::varchar[], drift_daily.service))
        order by drift_daily.service, drift_daily.day
        """,
        *_period_params(start, end, teams, services),
    )


def promotions(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """fct_promotions' downstream deployments in the period, newest first."""
    return _query(
        path,
        """
        select
            fct_promotions.deployed_at,
            fct_promotions.service,
            dim_services.team,
            fct_promotions.upstream_environment,
            fct_promotions.downstream_environment,
            fct_promotions.commits_shipped,
            fct_promotions.commits_promoted,
            fct_promotions.commits_not_from_upstream,
            fct_promotions.promotion_lag_minutes,
            fct_promotions.longest_commit_wait_minutes,
            fct_promotions.is_same_sha,
            fct_promotions.deployment_id,
            fct_promotions.promoted_deployment_id,
        from marts.fct_promotions as fct_promotions
        left join marts.dim_services as dim_services
            on fct_promotions.service = dim_services.service
        where fct_promotions.deployed_at >= ?::date
            and fct_promotions.deployed_at < ?::date + interval 1 day
            and (?::varchar[] is null or list_contains(?::varchar[], dim_services.team))
            and (?::varchar[] is null or list_contains(?::varchar[], fct_promotions.service))
        order by fct_promotions.deployed_at desc, fct_promotions.deployment_id
        """,
        *_period_params(start, end, teams, services),
    )


def commits_waiting(path: Path, day: dt.date, service: str) -> pd.DataFrame:
    """The commits of one service that wait to be promoted at the end of `day` (the rows drift_daily counts
    that day), oldest first, with the pull request that brought each."""
    return _query(
        path,
        """
        select
            promotions.upstream_environment,
            promotions.downstream_environment,
            promotions.commit_sha,
            fct_commits.pr_number,
            fct_changes.title,
            fct_commits.author_login,
            promotions.reached_upstream_at,
            promotions.reached_downstream_at,
            promotions.upstream_deployment_id,
        from marts.fct_commit_promotions as promotions
        left join marts.fct_commits as fct_commits
            on promotions.service = fct_commits.service
            and promotions.commit_sha = fct_commits.commit_sha
        left join marts.fct_changes as fct_changes
            on fct_commits.service = fct_changes.service
            and fct_commits.pr_number = fct_changes.pr_number
            and fct_changes.change_kind = 'pull_request'
        where promotions.service = ?
            and promotions.reached_upstream_at < ?::date + interval 1 day
            and (
                promotions.reached_downstream_at is null
                or promotions.reached_downstream_at >= ?::date + interval 1 day
            )
        order by promotions.reached_upstream_at, promotions.commit_sha
        """,
        service,
        day,
        day,
    )


def changes_waiting_to_be_promoted(path: Path, change_ids: list[str]) -> pd.DataFrame:
    """Of the given changes, the commits an upstream environment has and the next one not yet (as of the
    latest data): where each waits and since when."""
    return _query(
        path,
        """
        with change_commits as (
            select fct_changes.change_id, fct_changes.service, fct_commits.commit_sha,
            from marts.fct_changes as fct_changes
            inner join marts.fct_commits as fct_commits
                on fct_changes.service = fct_commits.service
                and fct_changes.pr_number = fct_commits.pr_number
            where list_contains(?::varchar[], fct_changes.change_id)
                and fct_changes.change_kind = 'pull_request'
            union
            select change_id, service, split_part(change_id, '@', 2),
            from marts.fct_changes
            where list_contains(?::varchar[], change_id) and change_kind = 'direct_push'
        )
        select
            change_commits.change_id,
            promotions.service,
            promotions.upstream_environment,
            promotions.downstream_environment,
            count(*) as commits_waiting,
            min(promotions.reached_upstream_at) as waiting_since,
            arg_min(promotions.upstream_deployment_id, promotions.reached_upstream_at)
                as upstream_deployment_id,
        from change_commits
        inner join marts.fct_commit_promotions as promotions
            on change_commits.service = promotions.service
            and change_commits.commit_sha = promotions.commit_sha
        where promotions.promotion_status = 'waiting'
        group by all
        order by waiting_since, change_commits.change_id
        """,
        sorted(change_ids),
        sorted(change_ids),
    )


# ------------------------------------------------------------------------------ benchmarks, assessment
# Levels, Quick Check scores and self-assessment sections as the marts hold them (dora_levels,
# dora_quickcheck_scores, assessment_section_scores); a warehouse built before them has none of them.

BENCHMARK_GRAINS = ("month", "week", "day")


def _has_mart(path: Path, table: str) -> bool:
    return _has(_tables(path), "marts", table)


def report_years(path: Path) -> list[int]:
    """The DORA report years the bands seed holds, newest first (empty before the mart exists)."""
    if not _has_mart(path, "dora_levels"):
        return []
    frame = _query(path, "select distinct report_year from marts.dora_levels order by report_year desc")
    return [int(year) for year in frame["report_year"]]


def team_levels(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, grain: str, report_year: int
) -> pd.DataFrame:
    """Each team's level of the four metrics per period of `grain` overlapping the dates, for one report
    year: one row per team and period, one column per metric (value and level)."""
    if not _has_mart(path, "dora_levels"):
        return pd.DataFrame()
    return _query(
        path,
        """
        select
            group_value as team,
            period_start,
            max(level) filter (where metric = 'deployment_frequency') as deployment_frequency_level,
            max(value) filter (where metric = 'deployment_frequency') as deployment_frequency_value,
            max(unit) filter (where metric = 'deployment_frequency') as deployment_frequency_unit,
            max(level) filter (where metric = 'lead_time') as lead_time_level,
            max(value) filter (where metric = 'lead_time') as lead_time_median_minutes,
            max(level) filter (where metric = 'change_failure_rate') as change_failure_rate_level,
            max(value) filter (where metric = 'change_failure_rate') as change_failure_rate,
            max(level) filter (where metric = 'time_to_restore') as time_to_restore_level,
            max(value) filter (where metric = 'time_to_restore') as time_to_restore_median_minutes,
        from marts.dora_levels
        where grouping = 'team'
            and period_grain = ?
            and report_year = ?
            and period_start <= ?::date
            and period_start >= date_trunc(?, ?::date)
            and (?::varchar[] is null or list_contains(?::varchar[], group_value))
        group by group_value, period_start
        order by team, period_start
        """,
        grain,
        report_year,
        end,
        grain,
        start,
        _list_filter(teams),
        _list_filter(teams),
    )


def quickcheck_scores(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, grain: str
) -> pd.DataFrame:
    """The Quick Check rows (every metric and the performance average) of the teams' periods of `grain`
    overlapping the dates."""
    if not _has_mart(path, "dora_quickcheck_scores"):
        return pd.DataFrame()
    return _query(
        path,
        """
        select *
        from marts.dora_quickcheck_scores
        where period_grain = ?
            and period_start <= ?::date
            and period_start >= date_trunc(?, ?::date)
            and (?::varchar[] is null or list_contains(?::varchar[], team))
        order by team, period_start, metric
        """,
        grain,
        end,
        grain,
        start,
        _list_filter(teams),
        _list_filter(teams),
    )


def assessment_sections(path: Path, teams: list[str] | None) -> pd.DataFrame:
    """Every self-assessment's section averages of the teams, oldest first."""
    if not _has_mart(path, "assessment_section_scores"):
        return pd.DataFrame()
    return _query(
        path,
        """
        select team, assessed_on, section, items_scored, section_items, average_score,
        from marts.assessment_section_scores
        where ?::varchar[] is null or list_contains(?::varchar[], team)
        order by team, assessed_on, section
        """,
        _list_filter(teams),
        _list_filter(teams),
    )


def team_monthly_metrics(path: Path, start: dt.date, end: dt.date, teams: list[str] | None) -> pd.DataFrame:
    """The measured four keys per team and month overlapping the dates (dora_rollup_monthly), to read
    beside the self-assessments."""
    if not _has_mart(path, "dora_rollup_monthly"):
        return pd.DataFrame()
    return _query(
        path,
        """
        select
            group_value as team,
            period_start,
            deployments_per_week,
            lead_time_median_minutes,
            change_failure_rate,
            time_to_restore_median_minutes,
        from marts.dora_rollup_monthly
        where grouping = 'team'
            and period_start <= ?::date
            and period_start >= date_trunc('month', ?::date)
            and (?::varchar[] is null or list_contains(?::varchar[], group_value))
        order by team, period_start
        """,
        end,
        start,
        _list_filter(teams),
        _list_filter(teams),
    )


# ------------------------------------------------------------------------------ failure signals and rework
# The five failure signals of fct_deployments (docs/metrics.md, "Failure signals, recovery, time to detect
# and rework"), in the order the page lists them.
FAILURE_SIGNALS = ("incident", "rollback", "revert", "hotfix", "alert")


def rework_summary(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None = None
) -> pd.DataFrame:
    """One row: the period's production deployments, those that are rework (fct_deployments.is_rework) and
    their share, the rollups' rework_rate over an arbitrary period; open failures beside them."""
    return _query(
        path,
        """
        select
            count(*) as deployments,
            count(*) filter (where is_rework) as rework_deployments,
            count(*) filter (where is_rework) / nullif(count(*), 0) as rework_rate,
            count(*) filter (where is_failure and not coalesce(is_recovered, false)) as open_failures,
        from marts.fct_deployments
        where status = 'success'
            and is_production
            and team is not null
            and deployed_at::date between ?::date and ?::date
            and (?::varchar[] is null or list_contains(?::varchar[], team))
            and (?::varchar[] is null or list_contains(?::varchar[], service))
        """,
        *_period_params(start, end, teams, services),
    )


def failures_by_signal(
    path: Path, start: dt.date, end: dt.date, teams: list[str] | None, services: list[str] | None
) -> pd.DataFrame:
    """Per failure signal, then 'any signal': the period's production deployments it failed, their share
    of all production deployments (the change failure rate that signal alone gives), the median time to
    restore and to detect of those deployments (a deployment failed by two signals counts under both), and
    how many are still open."""
    return _query(
        path,
        """
        with production as (
            select *, is_failure and not coalesce(is_recovered, false) as is_open_failure,
            from marts.fct_deployments
            where status = 'success'
                and is_production
                and team is not null
                and deployed_at::date between ?::date and ?::date
                and (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
        ),
        total as (select count(*) as deployments from production),
        per_signal as (
            select unnest(failure_signals) as signal, deployment_id, time_to_restore_minutes,
                time_to_detect_minutes, is_open_failure,
            from production
            where is_failure
            union all
            select 'any signal', deployment_id, time_to_restore_minutes, time_to_detect_minutes,
                is_open_failure,
            from production
            where is_failure
        ),
        signals as (
            select unnest(?::varchar[]) as signal, generate_subscripts(?::varchar[], 1) as position
            union all
            select 'any signal', 99
        )
        select
            signals.signal,
            count(per_signal.deployment_id) as failed_deployments,
            total.deployments,
            count(per_signal.deployment_id) / nullif(total.deployments, 0) as change_failure_rate,
            quantile_cont(per_signal.time_to_restore_minutes, 0.5) as time_to_restore_median_minutes,
            quantile_cont(per_signal.time_to_detect_minutes, 0.5) as time_to_detect_median_minutes,
            count(*) filter (where per_signal.is_open_failure) as open_failures,
        from signals
        cross join total
        left join per_signal on per_signal.signal = signals.signal
        group by signals.signal, signals.position, total.deployments
        order by signals.position
        """,
        *_period_params(start, end, teams, services),
        list(FAILURE_SIGNALS),
        list(FAILURE_SIGNALS),
    )


def team_failure_weeks(path: Path, start: dt.date, end: dt.date, teams: list[str]) -> pd.DataFrame:
    """Per team and week overlapping the period, from `dora_rollup_weekly`: production deployments,
    rework deployments and rework rate, median time to detect, open failures. Empty when the warehouse was
    built before the rollups."""
    if not _has_mart(path, "dora_rollup_weekly"):
        return pd.DataFrame()
    return _query(
        path,
        """
        select
            group_value as team, period_start as week_start, deployments, failed_deployments,
            rework_deployments, rework_rate, time_to_detect_median_minutes, open_failures,
        from marts.dora_rollup_weekly
        where grouping = 'team'
            and list_contains(?::varchar[], group_value)
            and period_end >= ?::date
            and period_start <= ?::date
        order by team, week_start
        """,
        sorted(teams),
        start,
        end,
    )


# ----------------------------------------------------------------------- batch, pipeline and review measures
# The rollups' definitions (dora_rollup_*, docs/metrics.md "Batch, pipeline and review measures in the
# rollups") applied to the chosen period, per team or per service.
DELIVERY_GROUPS = ("team", "service")


def delivery_measures(
    path: Path,
    start: dt.date,
    end: dt.date,
    group: str,
    teams: list[str] | None,
    services: list[str] | None,
) -> pd.DataFrame:
    """Per team or service (`group`): the rework rate, median batch size (lines) and pipeline duration of the
    period's successful production deployments, and the review compliance and deployed-by-author shares of
    the period's changes with a lead time (each share among the changes where it is known)."""
    if group not in DELIVERY_GROUPS:
        raise ValueError(f"group must be one of {DELIVERY_GROUPS}, not {group!r}")
    return _query(
        path,
        """
        with deployments as (
            select
                case ?::varchar when 'team' then team else service end as key,
                count(*) filter (where is_rework) / nullif(count(*), 0) as rework_rate,
                quantile_cont(batch_lines_changed, 0.5) as batch_size_median_lines,
                quantile_cont(pipeline_duration_minutes, 0.5) as pipeline_duration_median_minutes,
            from marts.fct_deployments
            where status = 'success'
                and is_production
                and team is not null
                and deployed_at::date between ?::date and ?::date
                and (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
            group by all
        ),
        -- As the rollups count changes: per service each change touching it, per team each change once,
        -- at the team's first production deployment of it (fct_change_services).
        measured_changes as (
            select
                case ?::varchar when 'team' then team else service end as key,
                deployed_at,
                is_reviewed_by_other,
                is_deployed_by_author,
            from marts.fct_change_services
            where lead_time_minutes is not null
                and team is not null
                and (?::varchar[] is null or list_contains(?::varchar[], team))
                and (?::varchar[] is null or list_contains(?::varchar[], service))
            qualify row_number() over (partition by key, change_id order by deployed_at, service) = 1
        ),
        changes as (
            select
                key,
                count(*) filter (where is_reviewed_by_other) / nullif(count(is_reviewed_by_other), 0)
                    as review_compliance_rate,
                count(*) filter (where is_deployed_by_author) / nullif(count(is_deployed_by_author), 0)
                    as deployed_by_author_share,
            from measured_changes
            where deployed_at::date between ?::date and ?::date
            group by all
        )
        select * from deployments full join changes using (key)
        order by key
        """,
        group,
        *_period_params(start, end, teams, services),
        group,
        *_scope_params(teams, services),
        start,
        end,
    )


# --------------------------------------------------------------------------- levels over a chosen period
# The level of a chosen period for one report year, banded as `dora_levels` bands a rollup period
# (docs/metrics.md, "Benchmark levels"). The rule is the model layer's: the table macro
# `marts.dora_period_levels` (transform/macros/dora_banding.sql, the same SQL `dora_levels` is built from)
# bands the figures this query gives it, with the bands of the seed `reference.dora_bands`. The figures are
# the rollups' over the chosen dates: deployments of the group's services, changes counted as the rollups
# count them (per service with that service's lead time, once per team at its first deployment among the
# team's services, once for the org row as fct_changes has them). Over a calendar month, week or day the
# levels equal that period's `dora_levels` rows (tested).
LEVEL_GROUPS = ("team", "service")


def has_period_levels(path: Path) -> bool:
    """True when the warehouse holds `dora_levels` and the banding macro (built with the bands seed)."""
    frame = _query(
        path,
        """
        select
            (
                select count(*)
                from information_schema.tables
                where table_schema = 'marts' and table_name = 'dora_levels'
            )
            + (
                select count(*)
                from duckdb_functions()
                where schema_name = 'marts' and function_name = 'dora_period_levels'
            ) as n
        """,
    )
    return int(frame.loc[0, "n"]) == 2


def period_levels(
    path: Path,
    start: dt.date,
    end: dt.date,
    group: str,
    teams: list[str] | None,
    services: list[str] | None,
    report_year: int,
) -> pd.DataFrame:
    """One row per team (and the `(org)` row over the selected teams) or per service (`group`): the level of
    each of the four metrics over the period by the bands of `report_year`, with the value banded."""
    if group not in LEVEL_GROUPS:
        raise ValueError(f"group must be one of {LEVEL_GROUPS}, not {group!r}")
    return _query(
        path,
        """
        with
        -- Days not loaded (before the first load, after the last) are not days without deployments.
        period as (
            select ?::date as period_start, ?::date as period_end, ?::integer as loaded_days
        ),
        -- As the rollups group: a service's events count for its team (and the org row) or for itself.
        service_groups as (
            select service, team as group_value, 'team' as grouping from marts.dim_services
            where ?::varchar = 'team'
            union all
            select service, '(org)' as group_value, 'org' as grouping from marts.dim_services
            where ?::varchar = 'team'
            union all
            select service, service as group_value, 'service' as grouping from marts.dim_services
            where ?::varchar = 'service'
        ),
        selected_services as (
            select service_groups.*
            from service_groups
            inner join marts.dim_services as dim_services
                on service_groups.service = dim_services.service
            where (?::varchar[] is null or list_contains(?::varchar[], dim_services.team))
                and (?::varchar[] is null or list_contains(?::varchar[], dim_services.service))
        ),
        deployment_figures as (
            select
                selected_services.group_value,
                count(*) as deployments,
                count(distinct fct_deployments.deployed_at::date) as deploy_days,
                count(*) filter (where fct_deployments.is_failure) as failed_deployments,
                quantile_cont(fct_deployments.time_to_restore_minutes, 0.5) as time_to_restore_median_minutes,
            from marts.fct_deployments as fct_deployments
            inner join selected_services
                on fct_deployments.service = selected_services.service
            cross join period
            where fct_deployments.status = 'success'
                and fct_deployments.is_production
                and fct_deployments.team is not null
                and fct_deployments.deployed_at::date between period.period_start and period.period_end
            group by selected_services.group_value
        ),
        -- The org row: each change once, as fct_changes has it. Teams and services: the bridge, a change
        -- once per group at the group's first production deployment of it (docs/metrics.md, "Services by
        -- path").
        counted_changes as (
            select
                selected_services.group_value,
                fct_changes.lead_time_minutes,
                fct_changes.deployed_at,
            from marts.fct_changes as fct_changes
            inner join selected_services
                on fct_changes.service = selected_services.service
                and selected_services.grouping = 'org'
            where fct_changes.lead_time_minutes is not null
                and fct_changes.team is not null
            union all
            select
                selected_services.group_value,
                change_services.lead_time_minutes,
                change_services.deployed_at,
            from marts.fct_change_services as change_services
            inner join selected_services
                on change_services.service = selected_services.service
                and selected_services.grouping != 'org'
            where change_services.lead_time_minutes is not null
                and change_services.team is not null
            qualify row_number() over (
                partition by selected_services.group_value, change_services.change_id
                order by change_services.deployed_at, change_services.service
            ) = 1
        ),
        change_figures as (
            select
                counted_changes.group_value,
                quantile_cont(counted_changes.lead_time_minutes, 0.5) as lead_time_median_minutes,
            from counted_changes
            cross join period
            where counted_changes.deployed_at::date between period.period_start and period.period_end
            group by counted_changes.group_value
        ),
        figures as (
            select
                groups.group_value,
                period.loaded_days,
                coalesce(deployment_figures.deployments, 0) as deployments,
                coalesce(deployment_figures.deploy_days, 0) as deploy_days,
                case when deployment_figures.deployments > 0
                    then cast(deployment_figures.failed_deployments as double)
                        / deployment_figures.deployments
                end as change_failure_rate,
                deployment_figures.time_to_restore_median_minutes,
                change_figures.lead_time_median_minutes,
            from (select distinct group_value from selected_services) as groups
            cross join period
            left join deployment_figures
                on groups.group_value = deployment_figures.group_value
            left join change_figures
                on groups.group_value = change_figures.group_value
        ),
        banded as (
            select * from marts.dora_period_levels(?::integer, (select list(figures) from figures))
        )
        select
            figures.group_value as key,
            max(banded.level) filter (where banded.metric = 'deployment_frequency')
                as deployment_frequency_level,
            max(banded.value) filter (where banded.metric = 'deployment_frequency')
                as deployment_frequency_value,
            max(banded.unit) filter (where banded.metric = 'deployment_frequency')
                as deployment_frequency_unit,
            max(banded.level) filter (where banded.metric = 'lead_time') as lead_time_level,
            max(banded.level) filter (where banded.metric = 'change_failure_rate')
                as change_failure_rate_level,
            max(banded.level) filter (where banded.metric = 'time_to_restore') as time_to_restore_level,
            any_value(figures.deployments) as deployments,
            any_value(figures.deploy_days) as deploy_days,
            any_value(figures.loaded_days) as loaded_days,
            any_value(figures.lead_time_median_minutes) as lead_time_median_minutes,
            any_value(figures.change_failure_rate) as change_failure_rate,
            any_value(figures.time_to_restore_median_minutes) as time_to_restore_median_minutes,
        from figures
        left join banded
            on figures.group_value = banded.group_value
        group by figures.group_value
        order by key
        """,
        start,
        end,
        loaded_days(path, start, end),
        group,
        group,
        group,
        _list_filter(teams),
        _list_filter(teams),
        _list_filter(services),
        _list_filter(services),
        report_year,
    )
