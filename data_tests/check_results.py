"""Every check outcome of a refresh, written to `meta.check_results` in the build database.

The publish copies the build database, so the app's data health page, the refresh's closing lines and SQL
users read the same rows. Severity is 'error' (the check blocks the publish when it fails) or 'warn'
(shown, never blocking). Great Expectations results arrive as `CheckResult`s from the suites in this
package; dbt's test results are read from the build's `run_results.json` with their severity from
`manifest.json`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

SEVERITIES = ("error", "warn")

CREATE_TABLE = """
create table if not exists meta.check_results (
    run_id varchar,
    checked_at timestamp,
    check_name varchar,
    severity varchar,
    passed boolean,
    details varchar
)
"""


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; `details` says what broke it (or what it verified) for a person to act on."""

    check_name: str
    severity: str
    passed: bool
    details: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"check {self.check_name!r}: severity {self.severity!r} is not one of {SEVERITIES}"
            )


def write_check_results(
    database: str | Path,
    run_id: str,
    results: Iterable[CheckResult],
    checked_at: dt.datetime | None = None,
) -> int:
    """Record `results` for `run_id`, replacing earlier rows of the same run and check (a retried step
    must not double them); returns how many rows were written."""
    rows = list(results)
    if not rows:
        return 0
    checked_at = checked_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    names = sorted({row.check_name for row in rows})
    if len(names) != len(rows):
        raise ValueError(f"{len(rows) - len(names)} check names appear more than once in one write")
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema if not exists meta")
        connection.execute(CREATE_TABLE)
        connection.execute("begin transaction")
        connection.execute(
            "delete from meta.check_results where run_id = ? and list_contains(?, check_name)",
            [run_id, names],
        )
        connection.executemany(
            "insert into meta.check_results values (?, ?, ?, ?, ?, ?)",
            [[run_id, checked_at, row.check_name, row.severity, row.passed, row.details] for row in rows],
        )
        connection.execute("commit")
    finally:
        connection.close()
    return len(rows)


# dbt's run statuses for tests: pass, warn (failed, severity warn), fail (failed, severity error), error (the
# test itself could not run), skipped (an upstream model failed).
_DBT_PASSED = {"pass": True, "warn": False, "fail": False, "error": False}


def failing_rows(database: str | Path, compiled_sql: str) -> list[tuple[str, str, int, int, str]]:
    """(failure, columns, values, rows, an example value) of a failed model-level column test's rows
    (`not_null_columns`, `accepted_values_columns`, `relationships_columns` in transform/tests/generic/),
    read again from the build: which columns are null, not unique, not accepted or without a parent. In
    the order the report names them: nulls and repeated keys first, the most rows first; then values by
    column."""
    connection = duckdb.connect(str(database))  # as the writer of meta.check_results opens it next
    try:
        return connection.execute(
            "select failure, columns, count(*), sum(row_count), min(value)"
            f" from ({compiled_sql}) group by failure, columns order by"
            " case failure when 'null' then 0 when 'duplicate' then 1 when 'not accepted' then 2 else 3 end,"
            " case when failure in ('null', 'duplicate') then -count(*) end, columns"
        ).fetchall()
    finally:
        connection.close()


# the model-level tests that fold per-column tests (transform/tests/generic/)
FOLDED_TESTS = ("not_null_columns", "accepted_values_columns", "relationships_columns")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _folded_details(node: dict, result: dict, database: str | Path | None) -> str | None:
    """What a failed model-level column test found, when the build can be read, each part of the test
    named: `<model>.<column> null in N rows`, `<model>.<column> not unique: N values repeated (e.g. 'x')`,
    `<model>.<column> not accepted: N values in M rows (e.g. 'x')`, `<model>.<column> not in
    <parent>.<field>: N values in M rows (e.g. 'x')`, joined by `; `."""
    test = (node.get("test_metadata") or {}).get("name")
    if database is None or test not in FOLDED_TESTS:
        return None
    model = str(node.get("attached_node") or "").rsplit(".", 1)[-1] or "?"
    compiled = result.get("compiled_code") or node.get("compiled_code") or ""
    try:
        found = failing_rows(database, compiled)
    except duckdb.Error:
        return None  # the count from dbt's message still stands
    parts = []
    for failure, columns, count, rows, example in found:
        if failure == "null":
            parts.append(f"{model}.{columns.replace(', ', ' and ')} null in {_plural(count, 'row')}")
        elif failure == "duplicate":
            key = f"({columns})" if ", " in columns else columns  # a combination of columns
            parts.append(f"{model}.{key} not unique: {_plural(count, 'value')} repeated (e.g. {example!r})")
        else:
            column, _, parent = columns.partition(" -> ")
            what = f"not in {parent}" if parent else "not accepted"
            found_values = f"{_plural(count, 'value')} in {_plural(int(rows), 'row')} (e.g. {example!r})"
            parts.append(f"{model}.{column} {what}: {found_values}")
    return "; ".join(parts) or None


def dbt_check_results(target: str | Path, database: str | Path | None = None) -> list[CheckResult]:
    """The data and unit tests of the last dbt invocation in `target` (run_results.json + manifest.json).

    A skipped test is recorded as failed with its reason: it checked nothing, and a reader must not take
    it for a pass. Absent files yield no results (dbt did not get as far as writing them). With the build
    `database`, a failed model-level column test (`not_null_columns`, `accepted_values_columns`,
    `relationships_columns`) names the model's failing columns, values and row counts.
    """
    target = Path(target)
    run_results = target / "run_results.json"
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text()).get("results") or []
    manifest_path = target / "manifest.json"
    nodes: dict = {}
    unit_tests: dict = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        nodes = manifest.get("nodes") or {}
        unit_tests = manifest.get("unit_tests") or {}
    out = []
    seen: set[str] = set()
    for result in results:
        unique_id = str(result.get("unique_id") or "")
        if not unique_id.startswith(("test.", "unit_test.")):
            continue
        node = nodes.get(unique_id) or unit_tests.get(unique_id) or {}
        status = str(result.get("status") or "")
        configured = str((node.get("config") or {}).get("severity") or "error").lower()
        severity = "warn" if status == "warn" or configured == "warn" else "error"
        message = result.get("message") or ""
        failures = result.get("failures")
        if status == "skipped":
            details = "skipped: an upstream node failed"
        elif status == "pass":
            details = "passed"
        else:
            details = f"{status}: {message}".strip() if message else f"{status}: {failures} failing rows"
            if status in ("fail", "warn") and (named := _folded_details(node, result, database)):
                details = f"{status}: {named}"
        kind = unique_id.split(".", 1)[0]
        name = f"dbt {kind} {node.get('name') or unique_id}"
        if name in seen:  # two tests of one name (other packages): the unique id tells them apart
            name = f"dbt {unique_id}"
        seen.add(name)
        out.append(
            CheckResult(
                check_name=name,
                severity=severity,
                passed=_DBT_PASSED.get(status, False),
                details=details[:2000],
            )
        )
    return out
