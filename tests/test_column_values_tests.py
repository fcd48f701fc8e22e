"""`accepted_values_columns` and `relationships_columns` (transform/tests/generic/): one data test a model
over all its columns with accepted values, and one over all its references to other models; and the same
checks as `not_null_columns`' arguments `accepted_values` and `relationships`, where a model has one.

They replace one `accepted_values` and one `relationships` test per column, so they must fail the build the
same way: a value outside a column's list, or a value its parent does not hold, fails the test (nulls pass,
as they do in dbt's tests), and the refresh's recorded result names the model, the column and the values.
Built on the configuration's staging models, whose raw tables the test writes through the org_config source
and then spoils by hand: `stg_config__deploy_rules` has both checks (`rule_kind` accepted values in its
`not_null_columns` test; `service` and `environment` referring to the services and environments in its
`relationships_columns`), `dim_services` its reference to `dim_teams` in its `not_null_columns` test."""

from __future__ import annotations

import duckdb
import pytest
from dbt_build import dbt_build_result

from data_tests.check_results import dbt_check_results
from ingestion.config import parse_config
from ingestion.org_config import org_config_source
from ingestion.pipelines import make_pipeline

VALUES_TEST = "not_null_columns_stg_config__deploy_rules"  # accepted values folded in
PARENTS_TEST = "relationships_columns_stg_config__deploy_rules"
SELECT = "stg_config__deploy_rules stg_config__services stg_config__environments stg_config__teams"
SERVICES_TEST = "not_null_columns_dim_services"  # its reference to dim_teams folded in
CONFIG = """
org: acme
sources:
  github: {base_url: "https://api.github.com", organization: acme, token: t}
teams: [{name: core}]
services:
  - name: pay
    team: core
    repository: acme/pay
    deployments:
      - {environment: production, github_environment: "^prod"}
      - {environment: staging, github_environment: "^stag"}
  - name: api
    team: core
    repository: acme/api
    deployments: [{environment: production, tag: "^v"}]
environments:
  - {name: staging, match: "^stag"}
  - {name: production, match: "^prod", production: true}
"""


def _build(tmp_path, spoil: str | None, select: str = SELECT, *options: str):
    """The configuration's raw tables, `spoil` (SQL) run on them, then `dbt build` of `select`."""
    db = tmp_path / "config.duckdb"
    config = parse_config(CONFIG)
    make_pipeline("org_config", db, tmp_path / "dlt").run(
        org_config_source(config.teams, config.services, config.environments, config.settings)
    )
    if spoil:
        with duckdb.connect(str(db)) as con:
            con.execute(spoil)
    result = dbt_build_result(db, tmp_path, select, "build", *options)
    statuses = {r.node.name: (str(r.status), r.failures) for r in result.result or []}
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}
    return result, statuses, recorded


def test_good_configuration_passes_with_one_test_of_each_kind(tmp_path):
    result, statuses, recorded = _build(tmp_path, None)
    assert result.success
    assert statuses[VALUES_TEST] == ("pass", 0)
    assert statuses[PARENTS_TEST] == ("pass", 0)
    # no per-column test is left for these columns, nor a test of the model's accepted values apart
    assert not [name for name in statuses if name.startswith(("accepted_values_stg", "relationships_stg"))]
    assert "accepted_values_columns_stg_config__deploy_rules" not in statuses
    assert recorded[f"dbt test {VALUES_TEST}"].passed


def test_a_value_outside_the_list_fails_and_is_named(tmp_path):
    result, statuses, recorded = _build(
        tmp_path,
        "update raw_config.deploy_rules set kind = 'carrier_pigeon' where service = 'pay';"
        "update raw_config.deploy_rules set kind = null where service = 'api'",  # a null passes
    )
    assert not result.success
    assert statuses[VALUES_TEST] == ("fail", 1)  # one value, in two rows
    assert statuses[PARENTS_TEST] == ("pass", 0)
    found = recorded[f"dbt test {VALUES_TEST}"]
    assert (found.passed, found.severity) == (False, "error")
    assert found.details == (
        "fail: stg_config__deploy_rules.rule_kind not accepted: 1 value in 2 rows (e.g. 'carrier_pigeon')"
    )


def test_a_value_its_parent_lacks_fails_and_is_named(tmp_path):
    result, statuses, recorded = _build(
        tmp_path,
        "update raw_config.deploy_rules set service = 'ghost' where service = 'api';"
        "update raw_config.deploy_rules set environment = 'qa' where environment = 'staging';"
        "update raw_config.deploy_rules set environment = null where service = 'ghost'",  # a null passes
    )
    assert not result.success
    assert statuses[PARENTS_TEST] == ("fail", 2)  # 'ghost' and 'qa'
    assert statuses[VALUES_TEST] == ("fail", 1)  # the null environment, no value outside the list
    assert recorded[f"dbt test {VALUES_TEST}"].details == (
        "fail: stg_config__deploy_rules.environment null in 1 row"
    )
    assert recorded[f"dbt test {PARENTS_TEST}"].details == (
        "fail: stg_config__deploy_rules.environment not in stg_config__environments.environment: "
        "1 value in 1 row (e.g. 'qa'); "
        "stg_config__deploy_rules.service not in stg_config__services.service: "
        "1 value in 1 row (e.g. 'ghost')"
    )


@pytest.mark.parametrize("column", ["service", "environment"])
def test_each_reference_is_checked(tmp_path, column):
    _, statuses, _ = _build(tmp_path, f"update raw_config.deploy_rules set {column} = 'nowhere'")
    assert statuses[PARENTS_TEST] == ("fail", 1)


def test_a_folded_reference_fails_and_is_named(tmp_path):
    """`dim_services.team` refers to `dim_teams` through its `not_null_columns` test: a team that
    `dim_teams` lacks fails that test, named and counted as `relationships_columns` names it."""
    select = f"{SELECT} stg_config__service_pagerduty dim_teams dim_services"
    # the tests of the selected models only, not those of the marts that refer to them
    result, statuses, _ = _build(tmp_path, None, select, "--indirect-selection", "cautious")
    assert result.success
    assert statuses[SERVICES_TEST] == ("pass", 0)
    assert "relationships_columns_dim_services" not in statuses
    db = tmp_path / "config.duckdb"
    with duckdb.connect(str(db)) as con:  # both services name a team that dim_teams lacks
        con.execute("update marts.dim_services set team = 'ghost'")
    tested = dbt_build_result(db, tmp_path, SERVICES_TEST, command="test")
    assert not tested.success
    tests = {r.node.name: (str(r.status), r.failures) for r in tested.result}
    assert {name: found for name, found in tests.items() if "on-run-end" not in name} == {
        SERVICES_TEST: ("fail", 1)
    }
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}
    assert recorded[f"dbt test {SERVICES_TEST}"].details == (
        "fail: dim_services.team not in dim_teams.team: 1 value in 2 rows (e.g. 'ghost')"
    )
