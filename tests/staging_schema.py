"""The columns and DuckDB types of every staging model in a built warehouse, and the snapshot they are
compared with (tests/contracts/staging_columns.json: what the staging layer returned before its optional
sources were read through one macro; staging must not change its interface silently)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "contracts" / "staging_columns.json"


def staging_columns(db: Path, read_only: bool = True) -> dict[str, list[list[str]]]:
    """{model: [[column, type], ...]} in column order, for every view of the `staging` schema.
    `read_only` False for a file dbt built in this process (DuckDB wants one configuration per file)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=read_only)
    try:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    columns: dict[str, list[list[str]]] = {}
    for table, column, data_type in rows:
        columns.setdefault(table, []).append([column, data_type])
    return columns


def read_snapshot() -> dict[str, dict[str, list[list[str]]]]:
    return json.loads(SNAPSHOT.read_text())


if __name__ == "__main__":  # python tests/staging_schema.py ORG=BUILD_DB ... : rewrite the snapshot
    snapshot = {}
    for arg in sys.argv[1:]:
        org, db = arg.split("=", 1)
        snapshot[org] = staging_columns(Path(db))
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
