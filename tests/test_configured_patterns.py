"""`matches_configured_pattern` (transform/macros/configured_patterns.sql): a pattern from org.yml matched
through a DuckDB variable, compiled once, when the variable holds the row's pattern, and per row otherwise.

Whatever the variable holds (not set, the row's pattern, another value), the match is that of
`regexp_matches(value, pattern, 'i')` on every row."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    ("Hotfix: login loop", r"\bhot[ _-]?fix"),
    ("hot-fix/payments", r"^hot[ _-]?fix[/_-]"),
    ("feature/hotfixes-page", r"^hot[ _-]?fix[/_-]"),
    ("Add hot fix docs", r"\bhot[ _-]?fix"),
    ("Refactor", r"\bhot[ _-]?fix"),
    ("no pattern", None),
    (None, r"\bhot[ _-]?fix"),
]


def _compiled(sql: str, tmp_path: Path) -> str:
    from dbt.cli.main import dbtRunner

    project = str(REPO_ROOT / "transform")
    saved = os.environ.get("DEPLOYLENS_BUILD_DB")
    os.environ["DEPLOYLENS_BUILD_DB"] = str(tmp_path / "empty.duckdb")
    try:
        result = dbtRunner().invoke(
            ["compile", "--inline", sql, "--project-dir", project, "--profiles-dir", project]
            + ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--quiet"]
        )
    finally:
        if saved is None:
            os.environ.pop("DEPLOYLENS_BUILD_DB", None)
        else:
            os.environ["DEPLOYLENS_BUILD_DB"] = saved
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def matching(tmp_path_factory) -> str:
    tmp_path = tmp_path_factory.mktemp("patterns")
    expression = _compiled(
        "select {{ matches_configured_pattern('v', 'p', 'hotfix_title_pattern') }}", tmp_path
    )
    assert "getvariable('deploylens_hotfix_title_pattern')" in expression
    return expression.removeprefix("select").strip()


@pytest.mark.parametrize(
    "variable",
    [None, r"\bhot[ _-]?fix", r"^hot[ _-]?fix[/_-]", "stale"],
    ids=["not set", "one row pattern", "the other", "another value"],
)
def test_a_configured_pattern_matches_as_regexp_matches_whatever_the_variable_holds(matching, variable):
    con = duckdb.connect()
    con.execute("create table t (v varchar, p varchar)")
    con.executemany("insert into t values (?, ?)", ROWS)
    if variable is not None:
        con.execute("set variable deploylens_hotfix_title_pattern = ?", [variable])
    got = con.execute(f"select v, p, {matching} from t order by all").fetchall()
    expected = con.execute("select v, p, regexp_matches(v, p, 'i') from t order by all").fetchall()
    assert got == expected
    assert [row[2] for row in got].count(True) == 3  # the rows hold matches and misses both
