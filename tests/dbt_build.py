"""Run `dbt build` on a selection against a given DuckDB file, for source and staging tests."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The columns (DuckDB types) of every `stg_<source>__quarantine` model, the stand-in without a raw table
# included (transform/macros/quarantine.sql).
QUARANTINE_STAGING_TYPES = {
    "source": "VARCHAR",
    "resource": "VARCHAR",
    "scope": "VARCHAR",
    "record_key": "VARCHAR",
    "reason": "VARCHAR",
    "action": "VARCHAR",
    "field_name": "VARCHAR",
    "field_value": "VARCHAR",
    "quarantined_at": "TIMESTAMP",
    "load_id": "VARCHAR",
    "quarantine_row_id": "VARCHAR",
}


def dbt_build_result(db: Path, work: Path, select: str, command: str = "build", *options: str):
    """`dbt build` (or another `command`) of `select` into `db` (artefacts and logs under `work`), with
    dbt's `options`: dbt's result, failed or not."""
    from dbt.cli.main import dbtRunner

    saved = os.environ.get("DEPLOYLENS_BUILD_DB")
    os.environ["DEPLOYLENS_BUILD_DB"] = str(db)
    project = str(REPO_ROOT / "transform")
    try:
        return dbtRunner().invoke(
            [
                command,
                "--select",
                select,
                "--project-dir",
                project,
                "--profiles-dir",
                project,
                "--target-path",
                str(work / "target"),
                "--log-path",
                str(work / "logs"),
                "--quiet",
                *options,
            ]
        )
    finally:
        if saved is None:
            os.environ.pop("DEPLOYLENS_BUILD_DB", None)
        else:
            os.environ["DEPLOYLENS_BUILD_DB"] = saved


def dbt_build(db: Path, work: Path, select: str):
    """Build `select` into `db` (artefacts and logs under `work`); fail with every failing node named."""
    result = dbt_build_result(db, work, select)
    failures = [
        f"{r.node.name}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success and not failures, failures or result.exception
    return result
