"""The incremental commit attribution under dbt: an extended walk gives the rows of a build from scratch.

A stub build database holds the two tables the model reads (deployments mapped to environments, the
unioned commits); dbt builds only the model and its inputs' fingerprint view on top of them, as a refresh
does, through dbt-duckdb's own incremental materialization of a Python model. Day 1 is built, day 2
appends deployments and commits to one service+environment and brings a late record to another; the
incremental build must equal a build from scratch of day 2, extend the first and redo the second.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_build import dbt_build

SELECT = "int_commits_attributed_to_deployments_inputs int_commits_attributed_to_deployments"
MODEL = "intermediate.int_commits_attributed_to_deployments"
COLUMNS = "service, environment, commit_sha, deployment_id, deployed_at, is_baseline"
T0 = datetime(2026, 6, 1)

DAY_1_COMMITS = [
    ("acme/api", "a", []),
    ("acme/api", "b", ["a"]),
    ("acme/api", "c", ["b"]),
    ("acme/api", "c", ["b"]),  # the same commit again, from a pull request's commits
    ("acme/web", "w1", []),
    ("acme/web", "w2", ["w1"]),
    ("acme/web", "w3", ["w2"]),
]
# (service, environment, repository, deployment_id, commit_sha, hours after T0, successful)
DAY_1_DEPLOYMENTS = [
    ("api", "production", "acme/api", "p1", "b", 1, True),
    ("api", "production", "acme/api", "p2", "c", 5, True),
    ("api", "staging", "acme/api", "s1", "c", 2, True),
    ("web", "production", "acme/web", "w-1", "w1", 1, True),
    ("web", "production", "acme/web", "w-3", "w3", 6, True),
    ("web", "staging", "acme/web", "ws-1", "w3", 6, True),
]
DAY_2_COMMITS = [
    ("acme/api", "d", ["c"]),
    ("acme/api", "x", ["b"]),
    ("acme/api", "e", ["d", "x"]),  # merges a branch
]
DAY_2_DEPLOYMENTS = [
    ("api", "production", "acme/api", "p3", "e", 30, True),
    ("api", "production", "acme/api", "p4", "e", 31, True),  # a redeploy ships nothing
    ("web", "production", "acme/web", "w-2", "w2", 3, True),  # reported late, before w-3
]


def _create(db: Path, commits: list, deployments: list) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists intermediate")
        con.execute(
            """create table if not exists intermediate.int_commits_unioned (
                repository varchar, commit_sha varchar, parent_shas varchar[])"""
        )
        con.execute(
            """create table if not exists intermediate.int_deployments_mapped_to_environments (
                deployment_id varchar, service varchar, repository varchar, environment varchar,
                commit_sha varchar, deployed_at timestamp, is_successful boolean,
                deployment_order_key bigint)"""
        )
        con.executemany("insert into intermediate.int_commits_unioned values (?, ?, ?)", commits)
        con.executemany(
            "insert into intermediate.int_deployments_mapped_to_environments values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (deployment_id, service, repository, environment, sha, T0 + timedelta(hours=hours), ok, None)
                for service, environment, repository, deployment_id, sha, hours, ok in deployments
            ],
        )
    finally:
        con.close()


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as con:  # the configuration of dbt's in-process connection
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("attribution_dbt")
    stepped = work / "stepped.duckdb"
    _create(stepped, DAY_1_COMMITS, DAY_1_DEPLOYMENTS)
    dbt_build(stepped, work / "stepped", SELECT)
    day_1 = _rows(stepped, f"select {COLUMNS} from {MODEL}")
    _create(stepped, DAY_2_COMMITS, DAY_2_DEPLOYMENTS)
    dbt_build(stepped, work / "stepped", SELECT)
    scratch = work / "scratch.duckdb"
    _create(scratch, DAY_1_COMMITS + DAY_2_COMMITS, DAY_1_DEPLOYMENTS + DAY_2_DEPLOYMENTS)
    dbt_build(scratch, work / "scratch", SELECT)
    return {"stepped": stepped, "scratch": scratch, "day_1": day_1}


def test_day_1_ships_each_commit_once(builds):
    assert sorted((service, env, sha, dep) for service, env, sha, dep, _, _ in builds["day_1"]) == [
        ("api", "production", "a", "p1"),
        ("api", "production", "b", "p1"),
        ("api", "production", "c", "p2"),
        ("api", "staging", "a", "s1"),
        ("api", "staging", "b", "s1"),
        ("api", "staging", "c", "s1"),
        ("web", "production", "w1", "w-1"),
        ("web", "production", "w2", "w-3"),
        ("web", "production", "w3", "w-3"),
        ("web", "staging", "w1", "ws-1"),
        ("web", "staging", "w2", "ws-1"),
        ("web", "staging", "w3", "ws-1"),
    ]


def test_the_incremental_build_equals_a_build_from_scratch(builds):
    sql = f"select {COLUMNS} from {MODEL} order by all"
    stepped, scratch = _rows(builds["stepped"], sql), _rows(builds["scratch"], sql)
    assert stepped == scratch
    shipped = {(service, env, sha): dep for service, env, sha, dep, _, _ in scratch}
    assert {sha for (service, env, sha), dep in shipped.items() if dep == "p3"} == {"d", "x", "e"}
    assert shipped[("web", "production", "w2")] == "w-2"


def test_the_new_deployments_extended_the_walk_and_the_late_one_redid_it(builds):
    walks = dict(
        (key[:2], key[2])
        for key in _rows(
            builds["stepped"],
            f"""select service, environment, list(distinct walked_deployments order by walked_deployments)
                from {MODEL} group by all""",
        )
    )
    # api production: the day 1 rows kept their walk of 2 deployments, day 2's rows walked 4
    assert walks[("api", "production")] == [2, 4]
    # web production: redone whole over its 3 deployments
    assert walks[("web", "production")] == [3]
    # api staging: its graph grew, nothing was deployed: extended by nothing, its rows as they were
    assert walks[("api", "staging")] == [1]
    # web staging: its inputs did not change
    assert walks[("web", "staging")] == [1]
