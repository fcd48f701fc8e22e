"""End to end on the mixed org: services shipping through GitHub deployments, GitHub Actions workflows,
Jenkins jobs, release tags and GitLab deployments, configured with deploy rules of each kind, through the
emulator, the refresh and the published warehouse, against the simulator's ground truth."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import yaml
from orgs import build_org
from truth import assert_matches_truth, compare, read_marts, read_truth

# Which source system each delivery style lands as in fct_deployments.
SOURCE_SYSTEM = {
    "github": "github",
    "actions": "github_actions",
    "jenkins": "jenkins",
    "tags": "git_tag",
    "gitlab": "gitlab",
}


@pytest.fixture(scope="module")
def mixed_org(tmp_path_factory):
    built = build_org(tmp_path_factory.mktemp("mixed-org"), "mixed", seed=5)
    try:
        yield built
    finally:
        built.emulator.stop()


def test_mixed_org_uses_every_delivery_style(mixed_org):
    styles = {svc.delivery for svc in mixed_org.world.services}
    assert styles == set(SOURCE_SYSTEM)
    config = yaml.safe_load(mixed_org.config_path.read_text())
    assert {"github", "gitlab", "jenkins", "pagerduty"} <= set(config["sources"])


def test_each_service_deploys_through_its_own_source(mixed_org):
    con = duckdb.connect(str(mixed_org.workdir.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select service, source_system, count(*) from marts.fct_deployments "
            "where is_production and status = 'success' group by all"
        ).fetchall()
    finally:
        con.close()
    by_service: dict[str, set[str]] = {}
    for service, source_system, count in rows:
        assert count > 0
        by_service.setdefault(service, set()).add(source_system)
    for svc in mixed_org.world.services:
        assert by_service.get(svc.name) == {SOURCE_SYSTEM[svc.delivery]}, svc.name


def test_mixed_org_marts_match_ground_truth(mixed_org):
    truth = read_truth(mixed_org.workdir.truth)
    horizon = yaml.safe_load(mixed_org.config_path.read_text())["sources"]["github"]["start_date"]
    result = compare(truth, read_marts(mixed_org.workdir.warehouse), pd.Timestamp(horizon))
    assert_matches_truth(result)
