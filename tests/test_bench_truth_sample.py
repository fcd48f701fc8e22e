"""The benchmark's truth sample (benchmarks/truth_sample.py) on the tiny org: its published marts equal the
truth on the sampled services, and a warehouse with a production deployment removed, or a change moved to
another deployment, is counted as differing on exactly that."""

from __future__ import annotations

import shutil
import sys

import duckdb
import pytest
from orgs import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))  # the repository root: `benchmarks` is no installed package
from benchmarks.truth_sample import compare_sample, sample_services  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tiny_org):
    return tiny_org.workdir.truth, tiny_org.workdir.warehouse, tiny_org.config_path


def test_every_nth_service_by_name(tiny) -> None:
    _, warehouse, _ = tiny
    with duckdb.connect(str(warehouse), read_only=True) as con:
        services = [
            row[0]
            for row in con.execute("select service from marts.dim_services order by service").fetchall()
        ]
    assert sample_services(warehouse, size=len(services)) == services
    two = sample_services(warehouse, size=2)
    assert two == [services[0], services[len(services) // 2]]


def test_the_tiny_org_matches_its_truth_on_every_service(tiny) -> None:
    truth_dir, warehouse, config = tiny
    services = sample_services(warehouse, size=100)
    counts = compare_sample(truth_dir, warehouse, config, services)
    assert counts["production_deployments"] > 0 and counts["commits_compared"] > 0
    assert counts["changes_compared"] > 0 and counts["lead_times_compared"] > 0
    assert counts["mismatches"] == 0, counts


def _production_with_changes(warehouse) -> tuple[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            """
            select d.service, d.deployment_id from marts.fct_deployments d
            where d.is_production and d.status = 'success'
                and d.deployment_id in (select deployment_id from marts.fct_changes)
            order by d.deployed_at limit 1
            """
        ).fetchone()


def test_a_missing_deployment_and_a_moved_change_are_counted(tiny, tmp_path) -> None:
    truth_dir, warehouse, config = tiny
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    service, deployment = _production_with_changes(copy)
    with duckdb.connect(str(copy)) as con:
        changes = con.execute(
            "select count(*) from marts.fct_changes where deployment_id = ?", [deployment]
        ).fetchone()[0]
        con.execute("delete from marts.fct_deployments where deployment_id = ?", [deployment])
    counts = compare_sample(truth_dir, copy, config, [service])
    assert counts["production_deployments_missing"] == 1, counts
    assert counts["production_deployments_extra"] == 0, counts
    # its changes now point at a deployment the sample does not know: each differs from the truth
    assert counts["change_deployment_mismatches"] >= changes > 0, counts
    assert counts["mismatches"] >= 1 + changes
    others = [name for name in sample_services(copy, size=100) if name != service]
    assert compare_sample(truth_dir, copy, config, others)["mismatches"] == 0
