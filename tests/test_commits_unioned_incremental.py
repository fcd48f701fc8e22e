"""The incremental int_commits_unioned under dbt: a refresh builds again only the commits whose listings
changed, deletes those no source lists any more, and gives the rows of a build from scratch.

A stub build database holds the staging relations the model reads, as tables; dbt builds only the model
(and its data test) on top of them, through dbt-duckdb's own incremental materialization. Day 2 brings a
new commit, a second listing of a commit with another parent, a landing the host reports late, a changed
message and a commit a force-push dropped from the only pull request that listed it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_build import dbt_build

SELECT = "int_commits_unioned"
MODEL = "intermediate.int_commits_unioned"
COLUMNS = (
    "repository, commit_sha, parent_shas, authored_at, committed_at, author_login, author_name, author_email,"
    " message, title, landing_pr_number, is_on_branch, source"
)
STAGING = {
    "stg_git__commits": """repository varchar, commit_sha varchar, parent_shas varchar[], author_name varchar,
        author_email varchar, authored_at timestamp, committed_at timestamp, message varchar,
        pr_number integer""",
    "stg_github__commits": """repository varchar, commit_sha varchar, parent_shas varchar[],
        author_login varchar, author_email varchar, authored_at timestamp, committed_at timestamp,
        message varchar""",
    "stg_gitlab__commits": """project varchar, commit_sha varchar, parent_shas varchar[], author_name varchar,
        author_email varchar, authored_at timestamp, committed_at timestamp, message varchar""",
    "stg_github__pull_request_commits": """repository varchar, pr_number integer, commit_sha varchar,
        parent_shas varchar[], authored_at timestamp, committed_at timestamp, message varchar""",
    "stg_gitlab__merge_request_commits": """project varchar, mr_iid integer, commit_sha varchar,
        parent_shas varchar[], authored_at timestamp, committed_at timestamp, message varchar""",
    "stg_github__pull_requests": """repository varchar, pr_number integer, is_merged boolean,
        merge_commit_sha varchar""",
    "stg_gitlab__merge_requests": """project varchar, mr_iid integer, is_merged boolean,
        merge_commit_sha varchar, squash_commit_sha varchar""",
}
T = "2026-06-01 10:00:00"
# rows the day-2 build wrote (the day-1 rows are marked before it)
REBUILT = "author_email is distinct from 'marked'"

DAY_1 = {
    "stg_github__commits": [
        ("acme/api", "a", [], "ann", "ann@x", T, T, "first"),
        ("acme/api", "b", ["a"], "ann", "ann@x", T, T, "second"),
        ("acme/api", "m", ["b"], "bob", "bob@x", T, T, "Merge pull request #7"),
        ("acme/api", "k", ["a"], "bob", "bob@x", T, T, "kept as built"),
    ],
    "stg_github__pull_request_commits": [
        (("acme/api", 5, "f", ["b"], T, T, "on a branch")),
        (("acme/api", 6, "gone", ["b"], T, T, "force-pushed away")),
    ],
    "stg_gitlab__commits": [("acme/web", "w1", [], "cy", "cy@x", T, T, "web")],
}
DAY_2 = {
    # a new commit; m's landing is reported; b's message changed upstream (a re-read); c is new to GitLab
    "stg_github__commits": [
        ("acme/api", "a", [], "ann", "ann@x", T, T, "first"),
        ("acme/api", "b", ["a"], "ann", "ann@x", T, T, "second, reworded"),
        ("acme/api", "m", ["b"], "bob", "bob@x", T, T, "Merge pull request #7"),
        ("acme/api", "k", ["a"], "bob", "bob@x", T, T, "kept as built"),
        ("acme/api", "n", ["m"], "ann", "ann@x", T, T, "new"),
    ],
    # f listed by a second pull request with another parent; "gone" dropped by a force-push
    "stg_github__pull_request_commits": [
        (("acme/api", 5, "f", ["b"], T, T, "on a branch")),
        (("acme/api", 8, "f", ["b", "a"], T, T, "on a branch")),
    ],
    "stg_github__pull_requests": [("acme/api", 7, True, "m")],
    "stg_gitlab__commits": [("acme/web", "w1", [], "cy", "cy@x", T, T, "web")],
}


def _load(db: Path, rows: dict[str, list]) -> None:
    """Replace every stub staging relation's rows with `rows` (a relation not named is empty)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists staging")
        for name, columns in STAGING.items():
            con.execute(f"create or replace table staging.{name} ({columns})")
            values = rows.get(name, [])
            if values:
                marks = ", ".join("?" * len(values[0]))
                con.executemany(f"insert into staging.{name} values ({marks})", values)
    finally:
        con.close()


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql).fetchall()


def _execute(db: Path, sql: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(sql)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("commits_unioned_dbt")
    stepped = work / "stepped.duckdb"
    _load(stepped, DAY_1)
    dbt_build(stepped, work / "stepped", SELECT)
    day_1 = _rows(stepped, f"select {COLUMNS} from {MODEL} order by all")
    fingerprints_1 = dict(_rows(stepped, f"select commit_sha, input_fingerprint from {MODEL}"))
    # Mark the built rows: a row the refresh builds again loses its mark, a row it keeps has it still.
    _execute(stepped, f"update {MODEL} set author_email = 'marked'")
    _load(stepped, DAY_2)
    dbt_build(stepped, work / "stepped", SELECT)
    scratch = work / "scratch.duckdb"
    _load(scratch, DAY_2)
    dbt_build(scratch, work / "scratch", SELECT)
    return {"stepped": stepped, "scratch": scratch, "day_1": day_1, "fingerprints_1": fingerprints_1}


def test_day_1_has_every_listed_commit(builds):
    assert [(row[0], row[1]) for row in builds["day_1"]] == [
        ("acme/api", "a"),
        ("acme/api", "b"),
        ("acme/api", "f"),
        ("acme/api", "gone"),
        ("acme/api", "k"),
        ("acme/api", "m"),
        ("acme/web", "w1"),
    ]


def test_the_incremental_build_equals_a_build_from_scratch(builds):
    stepped = _rows(builds["stepped"], f"select {COLUMNS} from {MODEL} where {REBUILT} order by all")
    scratch = _rows(builds["scratch"], f"select {COLUMNS} from {MODEL} order by all")
    rebuilt = {row[1] for row in stepped}
    assert [row for row in scratch if row[1] in rebuilt] == stepped
    by_sha = {row[1]: row for row in scratch}
    assert by_sha["m"][10] == 7  # the landing reported on day 2
    assert by_sha["f"][2] == ["b", "a"]  # both pull requests' parents merged
    assert by_sha["b"][8] == "second, reworded"
    assert "gone" not in by_sha


def test_only_the_changed_commits_were_built_again(builds):
    kept = _rows(builds["stepped"], f"select commit_sha from {MODEL} where not ({REBUILT}) order by all")
    rebuilt = _rows(builds["stepped"], f"select commit_sha from {MODEL} where {REBUILT} order by all")
    assert kept == [("a",), ("k",), ("w1",)]
    assert rebuilt == [("b",), ("f",), ("m",), ("n",)]
    # the unlisted commit was deleted, and each key is there once
    keys = "count(*), count(distinct (repository, commit_sha))"
    assert _rows(builds["stepped"], f"select {keys} from {MODEL}") == [(7, 7)]


def test_fingerprints_change_with_the_listings_and_the_landing_only(builds):
    day_2 = dict(_rows(builds["stepped"], f"select commit_sha, input_fingerprint from {MODEL}"))
    before = builds["fingerprints_1"]
    assert {sha for sha in before.keys() & day_2.keys() if before[sha] != day_2[sha]} == {"b", "f", "m"}
    scratch = dict(_rows(builds["scratch"], f"select commit_sha, input_fingerprint from {MODEL}"))
    assert scratch == day_2


def test_a_table_built_before_the_fingerprint_is_built_whole_once(tmp_path):
    db = tmp_path / "upgraded.duckdb"
    _load(db, DAY_1)
    dbt_build(db, tmp_path / "build", SELECT)
    # the table as the previous version of the model built it: no fingerprint column
    _execute(db, f"alter table {MODEL} drop column input_fingerprint")
    _execute(db, f"update {MODEL} set author_email = 'marked'")
    _load(db, DAY_2)
    dbt_build(db, tmp_path / "build", SELECT)
    counts = "count(*), count(input_fingerprint)"
    assert _rows(db, f"select {counts} from {MODEL} where not ({REBUILT})") == [(0, 0)]
    assert _rows(db, f"select count(*), count(input_fingerprint) from {MODEL}") == [(7, 7)]
