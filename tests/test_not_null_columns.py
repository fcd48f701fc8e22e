"""`not_null_columns` (transform/tests/generic/): one data test a model over all its not-null columns and
its single-column keys.

It replaces one `not_null` and one `unique` test per column, so it must fail the build the same way: a
null in any listed column, or a value repeated in a key column, fails it, and the refresh's recorded
result names the model and the column. Built on the alerts staging model, whose raw table a test can
write by hand (test_alerts_staging)."""

from __future__ import annotations

import json

import duckdb
import pytest
from dbt_build import dbt_build_result

from data_tests.check_results import dbt_check_results
from orchestration.workdir import DBT_PROJECT_DIR

TEST_NAME = "not_null_columns_stg_alerts__alerts_alert_id__source_system__alert_id"


def _build_alerts(tmp_path, rows: str):
    """`dbt build` of stg_alerts__alerts over a raw table of `rows` (id, source); the dbt result."""
    db = tmp_path / "alerts.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw_alerts")
        con.execute(
            f"""
            create table raw_alerts.alerts as
            select id, source, 'checkout-api' as service, 'High 5xx rate' as title,
                timestamptz '2026-06-01 12:30:00+00:00' as started_at
            from (values {rows}) as rows(id, source)
            """
        )
    result = dbt_build_result(db, tmp_path, "stg_alerts__alerts")
    statuses = {r.node.name: (str(r.status), r.failures) for r in result.result or []}
    return result, statuses, db


def test_a_null_in_any_listed_column_fails_the_build_and_is_named(tmp_path):
    # one row without an id (alert_id is null), one without a source (alert_id and source_system are)
    result, statuses, db = _build_alerts(
        tmp_path, "('a-1', 'alertmanager'), (null, 'datadog'), ('7', null), ('8', null)"
    )
    assert not result.success
    assert statuses[TEST_NAME] == ("fail", 3)
    assert not [name for name in statuses if name.startswith(("not_null_stg", "unique_stg"))]  # one test
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}[f"dbt test {TEST_NAME}"]
    assert (recorded.passed, recorded.severity) == (False, "error")
    assert recorded.details == (
        "fail: stg_alerts__alerts.alert_id and source_system null in 2 rows; "
        "stg_alerts__alerts.alert_id null in 1 row"
    )
    # without the build database the count from dbt still fails it
    plain = {r.check_name: r for r in dbt_check_results(tmp_path / "target")}[f"dbt test {TEST_NAME}"]
    assert not plain.passed and plain.details.startswith("fail: Got 3 results")


def test_a_repeated_key_fails_the_build_and_is_named(tmp_path):
    # alert_id (source:id) repeats twice for 'datadog:7' and once for 'pd:1'; a null key is no duplicate
    result, statuses, db = _build_alerts(
        tmp_path,
        "('7', 'datadog'), ('7', 'datadog'), ('7', 'datadog'), ('1', 'pd'), ('1', 'pd'), ('2', 'pd'),"
        " (null, 'pd')",
    )
    assert not result.success
    assert statuses[TEST_NAME] == ("fail", 3)  # the null row and the two repeated values
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}[f"dbt test {TEST_NAME}"]
    assert recorded.details == (
        "fail: stg_alerts__alerts.alert_id null in 1 row; "
        "stg_alerts__alerts.alert_id not unique: 2 values repeated (e.g. 'datadog:7')"
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("('a-1', 'alertmanager'), ('2', 'datadog'), ('2', 'pd')", ("pass", 0)),
        ("(null, null)", ("fail", 1)),
        ("('2', 'pd'), ('2', 'pd')", ("fail", 1)),
    ],
)
def test_the_test_passes_only_without_nulls_or_repeated_keys(tmp_path, rows, expected):
    result, statuses, _ = _build_alerts(tmp_path, rows)
    assert statuses[TEST_NAME] == expected
    assert result.success is (expected[0] == "pass")


# Keys that were `unique` tests on an expression and `unique_combination_of_columns` tests of their own:
# folded into the model's `not_null_columns`, they must still fail the build on the same rows.
PAGERDUTY_TEST = (
    "not_null_columns_stg_config__service_pagerduty_service__pd_service_id__service_pd_service_id"
)
SCORES_TEST = "not_null_columns_stg_assessments__scores_team__assessed_on__item___team_assessed_on_item_"


def _build_raw(tmp_path, table: str, select: str, model: str):
    db = tmp_path / "raw.duckdb"
    schema = table.split(".")[0]
    with duckdb.connect(str(db)) as con:
        con.execute(f"create schema {schema}")
        con.execute(f"create table {table} as {select}")
    result = dbt_build_result(db, tmp_path, model)
    statuses = {r.node.name: (str(r.status), r.failures) for r in result.result or []}
    return result, statuses, db


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("('checkout', 'P1'), ('checkout', 'P2'), ('billing', 'P1')", ("pass", 0)),
        # 'checkout/P1' twice (the `unique` test on `service || '/' || pd_service_id` failed with 1 too)
        ("('checkout', 'P1'), ('checkout', 'P1'), ('checkout', 'P2'), ('billing', 'P1')", ("fail", 1)),
    ],
)
def test_a_repeated_expression_key_fails_the_build(tmp_path, rows, expected):
    result, statuses, db = _build_raw(
        tmp_path,
        "raw_config.service_pagerduty",
        f"select * from (values {rows}) as rows(service, pd_service_id)",
        "stg_config__service_pagerduty",
    )
    assert statuses[PAGERDUTY_TEST] == expected
    assert not [name for name in statuses if name.startswith("unique")]  # one test
    assert result.success is (expected[0] == "pass")
    if expected[0] == "fail":
        recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}
        assert recorded[f"dbt test {PAGERDUTY_TEST}"].details == (
            "fail: stg_config__service_pagerduty.service || '/' || pd_service_id not unique: "
            "1 value repeated (e.g. 'checkout/P1')"
        )


def test_a_repeated_combination_fails_the_build_nulls_included(tmp_path):
    # (red, 2026-06-01, ci) twice; (blue, null, ci) twice: a combination groups its nulls together, as
    # `unique_combination_of_columns` did (the null date also fails as a null, once a row)
    rows = (
        "('a.yml', 'red', date '2026-06-01', 'ci', 3), ('b.yml', 'red', date '2026-06-01', 'ci', 2),"
        " ('a.yml', 'red', date '2026-06-01', 'tests', 1),"
        " ('c.yml', 'blue', null, 'ci', 1), ('d.yml', 'blue', null, 'ci', 1)"
    )
    result, statuses, db = _build_raw(
        tmp_path,
        "raw_assessments.scores",
        f"select * from (values {rows}) as rows(file_name, team, assessed_on, item, score)",
        "stg_assessments__scores",
    )
    assert not result.success
    assert statuses[SCORES_TEST] == ("fail", 4)  # two null rows, two repeated combinations
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}
    assert recorded[f"dbt test {SCORES_TEST}"].details == (
        "fail: stg_assessments__scores.assessed_on null in 2 rows; "
        "stg_assessments__scores.(team, assessed_on, item) not unique: 2 values repeated"
        " (e.g. 'blue / null / ci')"
    )


def _held_back_differently(manifest: dict) -> dict[str, list[str]]:
    """The `not_null_columns` tests with `relationships` whose parents are not all upstream of every model
    downstream of the tested model, with those models. dbt lets a failing test hold back (skip) only the
    models downstream of every node it reads: for such a test a null in the model would no longer hold
    back all that its `not_null_columns` test held back."""
    nodes = manifest["nodes"]
    parents = {k: n["depends_on"].get("nodes", []) for k, n in nodes.items() if n["resource_type"] != "test"}
    children: dict[str, set[str]] = {}
    for node, node_parents in parents.items():
        for parent in node_parents:
            children.setdefault(parent, set()).add(node)

    def reach(start: str, graph) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    found = {}
    for node in nodes.values():
        test = node.get("test_metadata") or {}
        if test.get("name") == "not_null_columns" and (test.get("kwargs") or {}).get("relationships"):
            model = node["attached_node"]
            read = set(node["depends_on"]["nodes"]) - {model}
            if missed := sorted(d for d in reach(model, children) if not read <= reach(d, parents)):
                found[node["name"]] = missed
    return found


def test_a_folded_reference_holds_back_what_the_model_held_back():
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    with_references = [
        n
        for n in manifest["nodes"].values()
        if (n.get("test_metadata") or {}).get("name") == "not_null_columns"
        and n["test_metadata"]["kwargs"].get("relationships")
    ]
    assert len(with_references) >= 10
    assert _held_back_differently(manifest) == {}
