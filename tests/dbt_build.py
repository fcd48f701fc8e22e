"""Run `dbt build` on a selection against a given DuckDB file, for source and staging tests."""

from __future__ import annotations

import os
import shutil
import tempfile
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


# The project's parse per name of build database, kept by the first call in this process that parsed it:
# later calls start from it, re-keyed to their own file, as a refresh's first build in a new workdir starts
# from the project's parse (orchestration/assets.py, `seed_partial_parse`). dbt keys a parse on the
# profile, whose database is the file's name without `.duckdb`: a parse is only reused for the same name.
_PARSES: dict[str, Path] = {}


def _seed(db: Path, target: Path) -> None:
    from orchestration.assets import seed_partial_parse

    if db.stem in _PARSES:
        seed_partial_parse(_PARSES[db.stem], target)


def _keep_parse(db: Path, target: Path) -> None:
    from orchestration.assets import PARSED_FOR

    parsed = target / "partial_parse.msgpack"
    if db.stem in _PARSES or not parsed.exists():
        return
    kept = Path(tempfile.mkdtemp(prefix=f"dbt-parse-{db.stem}-"))
    for name in ("partial_parse.msgpack", "manifest.json"):
        if (target / name).exists():
            shutil.copy2(target / name, kept / name)
    (kept / PARSED_FOR).write_text(str(db))
    _PARSES[db.stem] = kept


def dbt_build_result(db: Path, work: Path, select: str, command: str = "build", *options: str):
    """`dbt build` (or another `command`) of `select` into `db` (artefacts and logs under `work`), with
    dbt's `options`: dbt's result, failed or not. dbt parses the project once per name of database and
    process (`_PARSES`); with `options` (vars, for instance) it is left to decide for itself."""
    from dbt.cli.main import dbtRunner

    saved = os.environ.get("DEPLOYLENS_BUILD_DB")
    os.environ["DEPLOYLENS_BUILD_DB"] = str(db)
    project = str(REPO_ROOT / "transform")
    target = work / "target"
    try:
        if not options:
            _seed(db, target)
        result = dbtRunner().invoke(
            [
                command,
                "--select",
                select,
                "--project-dir",
                project,
                "--profiles-dir",
                project,
                "--target-path",
                str(target),
                "--log-path",
                str(work / "logs"),
                "--quiet",
                *options,
            ]
        )
        if not options:
            _keep_parse(db, target)
        return result
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
