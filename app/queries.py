"""Every SQL statement the app runs, against the public marts only.

Each query opens its own read-only DuckDB connection and closes it at once: the refresh publishes a new
warehouse by renaming a file over the old one, and a long-lived connection would pin the old file (and on
some platforms block the rename). Results are cached for a minute, keyed also by the file's modification
time, so a fresh publish shows up on the next rerun. User input only ever travels as query parameters.
"""

from __future__ import annotations

import datetime as dt
import os
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


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    last_error: Exception | None = None
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return duckdb.connect(str(path), read_only=True)
        except (duckdb.Error, OSError) as error:
            last_error = error
            if attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(OPEN_BACKOFF_SECONDS * (attempt + 1))
    raise WarehouseUnavailable(
        f"Could not open the warehouse {path} for reading after {OPEN_ATTEMPTS} attempts "
        f"(a refresh may be publishing it right now): {last_error}"
    )


def run_query(path: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    """Run one parameterised query on a connection that lives only as long as the query."""
    connection = _connect(path)
    try:
        return connection.execute(sql, params or []).df()
    except duckdb.Error as error:
        raise WarehouseUnavailable(f"The warehouse {path} could not answer a query: {error}") from error
    finally:
        connection.close()


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached_query(path: str, mtime_ns: int, sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    # mtime_ns is unused in the body: it is part of the cache key so a newly published file misses.
    del mtime_ns
    values = [list(value) if isinstance(value, tuple) else value for value in params]
    return run_query(Path(path), sql, values)


def _query(path: Path, sql: str, *params: object) -> pd.DataFrame:
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError as error:
        raise WarehouseUnavailable(f"The warehouse {path} is not there: {error}") from error
    # Lists are not hashable for the cache key; they travel as tuples and become lists again.
    key_params = tuple(tuple(value) if isinstance(value, list) else value for value in params)
    return _cached_query(str(path), mtime_ns, sql, key_params)


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
        int(limit),
    )


# ------------------------------------------------------------------------------------------ data health
# The health tables are written by the refresh (schema `meta`) and by dbt (schema `health`). A warehouse
# published by an older version lacks some of them: each query first asks the catalogue which exist, so
# the page shows what there is instead of failing.


def _tables(path: Path) -> pd.DataFrame:
    return _query(
        path,
        """
        select table_schema, table_name
        from information_schema.tables
        where table_schema in ('meta', 'health')
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
    """The changes (pull requests, merge requests, direct pushes) this deployment shipped first."""
    return _query(
        path,
        """
        select
            change_id,
            change_kind,
            pr_number,
            title,
            author_login,
            first_commit_at,
            merged_at,
            commit_count,
            coding_minutes,
            pickup_minutes,
            review_minutes,
            deploy_minutes,
            lead_time_minutes,
        from marts.fct_changes
        where deployment_id = ?
        order by lead_time_minutes desc nulls last, change_id
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
