"""Helpers of the reliability tests: workdirs on the tiny org's emulator, refreshes as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml
from orgs import REPO_ROOT


def tiny_tokens(built) -> list[str]:
    """The API tokens of a built org, as its configuration holds them."""
    sources = yaml.safe_load(built.config_path.read_text())["sources"]
    return [spec["token"] for spec in sources.values() if spec.get("token")]


def workdir_on(built, root: Path, **tokens: str) -> Path:
    """A fresh workdir whose org.yml reads the built org's emulator; `github="x"` replaces a token."""
    org = yaml.safe_load(built.config_path.read_text())
    for source, token in tokens.items():
        org["sources"][source]["token"] = token
    root.mkdir(parents=True, exist_ok=True)
    config = root / "org.yml"
    config.write_text(yaml.safe_dump(org, sort_keys=False))
    return config


def refresh_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "orchestration.cli", "refresh", "--config", str(config), *extra]


def refresh_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPLOYLENS_", "DAGSTER_HOME"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def run_refresh_process(config: Path, *extra: str, **env: str) -> subprocess.CompletedProcess:
    """`deploylens refresh` in its own process, as a user or cron runs it; output captured."""
    return subprocess.run(
        refresh_command(config, *extra),
        cwd=REPO_ROOT,
        env=refresh_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def text_rows_containing(database: Path, needle: str) -> list[str]:
    """`schema.table` of every table in `database` with a row whose text (all columns) holds `needle`."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        hits = []
        for schema, table in tables:
            relation = f'"{schema}"."{table}"'
            found = con.execute(
                f"select count(*) from {relation} as row_ where cast(row_ as varchar) like ?",
                [f"%{needle}%"],
            ).fetchone()[0]
            if found:
                hits.append(f"{schema}.{table}")
        return hits
    finally:
        con.close()
