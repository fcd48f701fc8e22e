"""A run's status is read case-insensitively: a server sending `COMPLETED` has completed runs."""

from __future__ import annotations

import duckdb
from dbt_build import dbt_build

RUNS = [
    # (id, status, conclusion)
    (1, "completed", "success"),
    (2, "COMPLETED", "SUCCESS"),
    (3, "Completed", "failure"),
    (4, "in_progress", None),
    (5, "QUEUED", None),
]


def test_completed_in_any_case_is_completed(tmp_path) -> None:
    database = tmp_path / "build.duckdb"
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema raw_github")
        connection.execute(
            """
            create table raw_github.workflow_runs (
                repository varchar, id bigint, name varchar, path varchar, workflow_id bigint,
                run_number bigint, run_attempt bigint, event varchar, status varchar, conclusion varchar,
                head_sha varchar, head_branch varchar, environment varchar, actor__login varchar,
                pull_requests json, created_at timestamptz, run_started_at timestamptz, updated_at timestamptz
            )
            """
        )
        connection.executemany(
            "insert into raw_github.workflow_runs (repository, id, name, workflow_id, status, conclusion, "
            "head_sha, head_branch, created_at, updated_at) values ('acme/api', ?, 'deploy', 7, ?, ?, 'a', "
            "'main', timestamptz '2026-06-01 10:00:00+00', timestamptz '2026-06-01 10:05:00+00')",
            RUNS,
        )
    finally:
        connection.close()
    dbt_build(database, tmp_path, "stg_github__workflow_runs")
    # dbt ran in this process and keeps its (read-write) connection: open the file the same way.
    connection = duckdb.connect(str(database))
    try:
        found = dict(
            connection.execute(
                "select run_id, is_completed from staging.stg_github__workflow_runs"
            ).fetchall()
        )
    finally:
        connection.close()
    assert found == {"1": True, "2": True, "3": True, "4": False, "5": False}
