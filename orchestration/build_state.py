"""Whether a refresh's dbt build can change anything: a fingerprint of everything the build reads.

No model reads the clock (no `now()` or `current_date` under models/ or transform/), so a dbt build reads
only its project (models, macros, tests, seeds, dbt_project.yml), its command (arguments and selection),
the installed dbt and DuckDB, and the raw tables the sources loaded (`raw_*` schemas; the configuration's
teams, services, rules and settings are among them, in `raw_config`). When all of these are what the last
published build read, the build would give the same marts and the same test results: the refresh skips
dbt, the checks and the publish, and the warehouse stays the one that build published.

dlt's merge staging datasets (`raw_<source>_staging`) are its scratch space between loads, read by no
model, and left out. A raw table's part is its row count and an order-free hash of its rows over every
column but dlt's own (`_dlt_load_id`, `_dlt_id`, ...: a source that reads an overlap again and merges the
same records writes new load ids, and the marts do not read them). So any added, removed or changed value
changes the fingerprint, whoever wrote it, and a load that only read its overlap again does not.

`meta.builds` (in the build database) keeps one row per refresh's decision: `building` when dbt starts,
`published` once the publish renamed the build over the warehouse, `skipped` when nothing changed. A
refresh skips only when the last build started is the one published (none started since: a build killed
or failed after it may have left the build's models half made), its fingerprint is this refresh's, and the
warehouse is still that publish; and never when a source failed in this run (orchestration/assets.py: the
published warehouse must record the failure).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.pipelines import connect_duckdb
from orchestration.workdir import DBT_PROJECT_DIR

BUILDS_DDL = """
create table if not exists meta.builds (
    run_id varchar,
    recorded_at timestamp,
    fingerprint varchar,
    outcome varchar
)
"""
BUILDING, PUBLISHED, SKIPPED = "building", "published", "skipped"
# the folders of the dbt project's files (models/ lives beside transform/) and the kinds dbt reads
PROJECT_DIRS = (DBT_PROJECT_DIR.parent / "models", DBT_PROJECT_DIR)
PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".py", ".csv", ".md"}
NOT_PROJECT = {"target", "logs", "dbt_packages", "__pycache__"}
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")


def project_files(dirs: Iterable[Path] = PROJECT_DIRS) -> list[Path]:
    """The files of the dbt project a build reads, in a stable order."""
    found = []
    for root in dirs:
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and path.suffix in PROJECT_SUFFIXES and not NOT_PROJECT & set(relative.parts):
                found.append(path)
    return sorted(found)


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    rows = con.execute(
        """
        select table_schema, table_name, list(column_name order by column_name)
        from information_schema.columns
        where table_schema like 'raw\\_%' escape '\\'
            and table_schema not like '%\\_staging' escape '\\'
            and table_name not like '\\_dlt%' escape '\\'
            and column_name not like '\\_dlt\\_%' escape '\\'
        group by all
        order by all
        """
    ).fetchall()
    return [(schema, table, list(columns)) for schema, table, columns in rows]


def raw_table_digests(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """(schema.table, rows, sum of the rows' hashes) of every raw table, dlt's own columns left out."""
    out = []
    for schema, table, columns in _raw_tables(con):
        listed = ", ".join(f'"{column}"' for column in columns)
        count, total = con.execute(
            f'select count(*), coalesce(sum(hash(struct_pack({listed}))), 0) from "{schema}"."{table}"'
        ).fetchone()
        out.append((f"{schema}.{table}", int(count), int(total)))
    return out


def build_fingerprint(
    build_db: Path, dbt_command: Sequence[str], project_dirs: Iterable[Path] = PROJECT_DIRS
) -> str:
    """The fingerprint of what a `dbt build` of `build_db` with `dbt_command` reads (module docstring)."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode())
        digest.update(b"\n")

    add("command", tuple(dbt_command))
    for package in PACKAGES:
        add("package", package, importlib.metadata.version(package))
    for root in project_dirs:
        for path in project_files([root]):
            add("file", str(path.relative_to(root.parent)), hashlib.sha256(path.read_bytes()).hexdigest())
    if build_db.exists():
        con = duckdb.connect(str(build_db), read_only=True)
        try:
            for table in raw_table_digests(con):
                add("table", *table)
        finally:
            con.close()
    return digest.hexdigest()


class _ReusedChecksNote(logging.Filter):
    """Drops Dagster's warning that each blocking dbt check 'emitted no result in step transform': true of
    a skipped build (its checks stand from the published build) and said once by the refresh instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "emitted no result in step 'transform'" not in record.getMessage()


_REUSED_CHECKS_NOTE = _ReusedChecksNote()


def quiet_reused_checks() -> None:
    """Called when a build is skipped; Dagster logs the warnings while it plans the steps after it."""
    logger = logging.getLogger("dagster._core.execution.plan.active")
    if _REUSED_CHECKS_NOTE not in logger.filters:
        logger.addFilter(_REUSED_CHECKS_NOTE)


def record_build(build_db: Path, run_id: str, fingerprint: str, outcome: str) -> None:
    con = connect_duckdb(build_db)
    try:
        con.execute("create schema if not exists meta")
        con.execute(BUILDS_DDL)
        con.execute(
            "insert into meta.builds values (?, ?, ?, ?)",
            [run_id, datetime.now(UTC).replace(tzinfo=None), fingerprint, outcome],
        )
    finally:
        con.close()


def _builds(build_db: Path, sql: str, params: list) -> list[tuple]:
    if not build_db.exists():
        return []
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        present = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'meta' and table_name = 'builds'"
        ).fetchone()[0]
        return con.execute(sql, params).fetchall() if present else []
    finally:
        con.close()


def building_fingerprint(build_db: Path, run_id: str) -> str | None:
    """The fingerprint the build of `run_id` started from (None when it started none)."""
    rows = _builds(
        build_db, "select fingerprint from meta.builds where run_id = ? and outcome = ?", [run_id, BUILDING]
    )
    return rows[0][0] if rows else None


def _published_runs(warehouse: Path) -> set[str]:
    if not warehouse.exists():
        return set()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return set()
    try:
        return {row[0] for row in con.execute("select run_id from meta.refreshes").fetchall()}
    except duckdb.Error:
        return set()
    finally:
        con.close()


def unchanged_since(build_db: Path, warehouse: Path, fingerprint: str) -> str | None:
    """The run whose published build had these inputs, when nothing was built since and the warehouse is
    still its publish; None when the refresh must build."""
    last = _builds(
        build_db,
        "select run_id, fingerprint, outcome from meta.builds where outcome <> ?"
        " order by recorded_at desc limit 1",
        [SKIPPED],
    )
    if not last:
        return None
    run_id, built_from, outcome = last[0]
    if outcome != PUBLISHED or built_from != fingerprint or run_id not in _published_runs(warehouse):
        return None
    return run_id


def skipped_in(build_db: Path, run_id: str) -> bool:
    """Whether the refresh `run_id` skipped its build because nothing had changed."""
    return bool(
        _builds(build_db, "select 1 from meta.builds where run_id = ? and outcome = ?", [run_id, SKIPPED])
    )
