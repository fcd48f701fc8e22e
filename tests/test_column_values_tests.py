"""`accepted_values_columns` and `relationships_columns` (transform/tests/generic/): one data test a model
over all its columns with accepted values, and one over all its references to other models.

They replace one `accepted_values` and one `relationships` test per column, so they must fail the build the
same way: a value outside a column's list, or a value its parent does not hold, fails the test (nulls pass,
as they do in dbt's tests), and the refresh's recorded result names the model, the column and the values.
Built on the configuration's staging models, whose raw tables the test writes through the org_config source
and then spoils by hand: `stg_config__deploy_rules` has both tests (`rule_kind` accepted values; `service`
and `environment` referring to the services and environments)."""

from __future__ import annotations

import duckdb
import pytest
from dbt_build import dbt_build_result

from data_tests.check_results import dbt_check_results
from ingestion.config import parse_config
from ingestion.org_config import org_config_source
from ingestion.pipelines import make_pipeline

VALUES_TEST = "accepted_values_columns_stg_config__deploy_rules"
PARENTS_TEST = "relationships_columns_stg_config__deploy_rules"
SELECT = "stg_config__deploy_rules stg_config__services stg_config__environments stg_config__teams"
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


def _build(tmp_path, spoil: str | None):
    """The configuration's raw tables, `spoil` (SQL) run on them, then `dbt build` of the staging models."""
    db = tmp_path / "config.duckdb"
    config = parse_config(CONFIG)
    make_pipeline("org_config", db, tmp_path / "dlt").run(
        org_config_source(config.teams, config.services, config.environments, config.settings)
    )
    if spoil:
        with duckdb.connect(str(db)) as con:
            con.execute(spoil)
    result = dbt_build_result(db, tmp_path, SELECT)
    statuses = {r.node.name: (str(r.status), r.failures) for r in result.result or []}
    recorded = {r.check_name: r for r in dbt_check_results(tmp_path / "target", db)}
    return result, statuses, recorded


def test_good_configuration_passes_with_one_test_of_each_kind(tmp_path):
    result, statuses, recorded = _build(tmp_path, None)
    assert result.success
    assert statuses[VALUES_TEST] == ("pass", 0)
    assert statuses[PARENTS_TEST] == ("pass", 0)
    # no per-column test is left for these columns
    assert not [name for name in statuses if name.startswith(("accepted_values_stg", "relationships_stg"))]
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
    assert statuses[VALUES_TEST] == ("pass", 0)
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
