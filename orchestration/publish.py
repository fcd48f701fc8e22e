"""Publish the build database as the warehouse readers open.

Readers (the app, users' SQL) never open the build file: DuckDB lets no reader in while a process writes.
Each refresh copies the finished build into a temporary file beside the warehouse, stamps it, and renames
it over `warehouse.duckdb`. The rename is atomic: a reader sees the old warehouse or the new one, never a
half-written file, and a reader that has the old file open keeps reading it.

A refresh killed while copying leaves its temporary file (`.warehouse.duckdb.<pid>.tmp`, as large as the
warehouse). The next publish removes those whose process is gone: the pid in the name tells whose it is,
and a live pid is left alone even though publishes hold the build lock, so `publish` stays safe to call
without it (a leftover whose pid was reused goes at the first publish after that process ends).
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.pipelines import connect_duckdb
from orchestration.resources import kill_point, process_alive


def tmp_files(warehouse: Path) -> list[Path]:
    """The temporary copies publishes of `warehouse` make (or left behind), with DuckDB's WAL files."""
    return sorted(warehouse.parent.glob(f".{warehouse.name}.*.tmp*"))


def remove_leftovers(warehouse: Path) -> list[Path]:
    """Delete temporary copies left by publishes whose process is gone; returns what was removed."""
    removed = []
    for path in tmp_files(warehouse):
        pid = path.name[len(f".{warehouse.name}.") :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if process_alive(f"{socket.gethostname()}:{pid}:") is False:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def publish(build_db: Path, warehouse: Path, run_id: str | None = None) -> dict:
    """Copy `build_db` to `warehouse` atomically; returns what was published."""
    con = connect_duckdb(build_db)
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(warehouse)
    tmp = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(build_db, tmp)
        published_at = datetime.now(UTC).replace(tzinfo=None)
        con = connect_duckdb(tmp)
        try:
            con.execute("create schema if not exists meta")
            con.execute("create table if not exists meta.refreshes (published_at timestamp, run_id varchar)")
            con.execute("insert into meta.refreshes values (?, ?)", [published_at, run_id])
            tables = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts'"
            ).fetchone()[0]
            con.execute("checkpoint")
        finally:
            con.close()
        kill_point("publish_before_rename")
        os.replace(tmp, warehouse)
        kill_point("publish_after_rename")
    finally:
        if tmp.exists():
            tmp.unlink()
    return {
        "published_at": published_at.isoformat(),
        "mart_tables": tables,
        "bytes": warehouse.stat().st_size,
    }


def _comparable(row: tuple) -> tuple:
    """Floats to 9 decimals: DuckDB's parallel aggregation may sum a mean's terms in another order, which
    moves the last binary digit between two builds of the same data."""
    return tuple(round(value, 9) if isinstance(value, float) else value for value in row)


def marts_rows(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table of schema `marts` as sorted rows: two publishes compare equal when their marts do."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_type = 'BASE TABLE'"
        ).fetchall()
        rows = {name: con.execute(f'select * from marts."{name}"').fetchall() for (name,) in names}
        return {name: sorted((_comparable(row) for row in table), key=repr) for name, table in rows.items()}
    finally:
        con.close()
