"""Publish the build database as the warehouse readers open.

Readers (the app, users' SQL) never open the build file: DuckDB lets no reader in while a process writes.
Each refresh copies the finished build into a temporary file beside the warehouse, stamps it, and renames
it over `warehouse.duckdb`. The rename is atomic: a reader sees the old warehouse or the new one, never a
half-written file, and a reader that has the old file open keeps reading it.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb


def publish(build_db: Path, warehouse: Path, run_id: str | None = None) -> dict:
    """Copy `build_db` to `warehouse` atomically; returns what was published."""
    con = duckdb.connect(str(build_db))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(build_db, tmp)
        published_at = datetime.now(UTC).replace(tzinfo=None)
        con = duckdb.connect(str(tmp))
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
        os.replace(tmp, warehouse)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {
        "published_at": published_at.isoformat(),
        "mart_tables": tables,
        "bytes": warehouse.stat().st_size,
    }
