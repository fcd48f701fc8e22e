"""Incremental refreshes give the marts a full rebuild gives.

A tiny org is served as it was days before its end, refreshed, moved forward a day, refreshed, moved to its
end and refreshed again: each refresh loads only what changed at the sources and the incremental models
build only what their inputs changed. The same org built from scratch at its end must have the same public
marts, row for row, and both must match the simulator's truth. The window is chosen so that records
arrive late: incidents opened after the earlier refreshes that blame deployments those refreshes built,
deployments that ship commits loaded before them, and pull requests merged after their commits landed.

The org built from scratch is the session's tiny org (tests/conftest.py: same scale, seed, end and
dimensions), which most test processes build anyway; the stepped org gets the same dimensions.
"""

from __future__ import annotations

import os
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
import yaml
from orgs import FIXED_END, add_benchmarks, add_dimensions, build_org
from truth import MART_KEYS, assert_matches_truth, compare, read_marts, read_truth, snapshot_marts

SEED = 11
# FIXED_END is a Monday: the last weekend is quiet. The Tuesday before, the tiny org deploys in the early
# afternoon and opens incidents against those deployments late in the afternoon: the first refresh (16:00)
# sees the deployments, the second (a day later) the incidents.
FIRST_NOW = FIXED_END - timedelta(days=5, hours=8)
SECOND_NOW = FIXED_END - timedelta(days=4, hours=8)


def _walks(build_db) -> dict[tuple[str, str], list[int]]:
    """Per service+environment, the walks its commit attribution rows come from (deployments walked)."""
    con = duckdb.connect(str(build_db))
    try:
        rows = con.execute(
            """select service, environment, list(distinct walked_deployments order by walked_deployments)
            from intermediate.int_commits_attributed_to_deployments group by all"""
        ).fetchall()
    finally:
        con.close()
    return {(service, environment): walks for service, environment, walks in rows}


def _assert_same_marts(incremental: dict, full: dict) -> None:
    """Row for row: `snapshot_marts` sorts each mart by its key, unique in both (test_end_to_end).

    One column may know more incrementally: PagerDuty clears an incident's acknowledgements when it
    resolves, so a load from scratch cannot see them, while refreshes that saw the incident open remember
    its first acknowledgement (ingestion/pagerduty). Where both know it, it is the same.
    """
    for name in MART_KEYS:
        assert len(full[name]) > 0, f"{name} is empty"
        left, right = incremental[name], full[name]
        if name == "fct_incidents":
            remembered = left["acknowledged_at"]
            seen = right["acknowledged_at"]
            assert (seen.isna() | (remembered == seen)).all(), "acknowledged_at differs where both know it"
            left, right = left.drop(columns="acknowledged_at"), right.drop(columns="acknowledged_at")
        pd.testing.assert_frame_equal(left, right, obj=name)


@pytest.fixture(scope="module")
def orgs(tmp_path_factory, tiny_org):
    saved = {
        key: os.environ.get(key)
        for key in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB")
    }
    from orchestration.cli import run_refresh

    scratch = tiny_org
    assert (scratch.world.scale, scratch.world.seed, scratch.world.end) == ("tiny", SEED, FIXED_END)
    full = snapshot_marts(scratch.workdir.warehouse)

    stepped = build_org(
        tmp_path_factory.mktemp("stepped"),
        "tiny",
        seed=SEED,
        now=FIRST_NOW,
        edit_config=lambda org: add_benchmarks(add_dimensions(org)),
    )
    first = snapshot_marts(stepped.workdir.warehouse)
    stepped.emulator.set_now(SECOND_NOW)
    run_refresh(stepped.config_path, stepped.workdir)
    second = snapshot_marts(stepped.workdir.warehouse)
    walks = [_walks(stepped.workdir.build_db)]
    stepped.emulator.set_now(FIXED_END)
    run_refresh(stepped.config_path, stepped.workdir)
    incremental = snapshot_marts(stepped.workdir.warehouse)
    walks.append(_walks(stepped.workdir.build_db))
    yield {
        "stepped": stepped,
        "scratch": scratch,
        "first": first,
        "second": second,
        "incremental": incremental,
        "full": full,
        "walks": walks,
    }
    stepped.emulator.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_the_window_has_late_arrivals(orgs):
    """The steps are worth comparing: later refreshes brought records that change earlier ones."""
    first, second, full = orgs["first"], orgs["second"], orgs["full"]
    assert len(second["fct_deployments"]) > len(first["fct_deployments"])
    deployments = full["fct_deployments"]
    known_first = set(first["fct_deployments"]["deployment_id"])
    # deployments the first refresh did not have, each shipping commits it had loaded already
    new_production = deployments[
        deployments["is_production"] & ~deployments["deployment_id"].isin(known_first)
    ]
    assert len(new_production) > 0
    commits = full["fct_commits"]
    shipped_late = commits[
        commits["deployment_id"].isin(new_production["deployment_id"])
        & commits["commit_sha"].isin(first["fct_commits"]["commit_sha"])
    ]
    assert len(shipped_late) > 0
    # incidents opened after the first refresh, blaming a deployment it had built already
    incidents = full["fct_incidents"]
    late_blame = incidents[
        ~incidents["incident_id"].isin(first["fct_incidents"]["incident_id"])
        & incidents["deployment_id"].isin(known_first)
    ]
    assert len(late_blame) > 0
    # and the second refresh saw what the first could not: those deployments are failures now
    blamed = second["fct_deployments"]
    blamed = blamed[blamed["deployment_id"].isin(late_blame["deployment_id"])]
    before = first["fct_deployments"].set_index("deployment_id").loc[blamed["deployment_id"], "is_failure"]
    assert blamed["is_failure"].all() and not before.any()
    # pull requests merged after the first refresh, whose first commit it had seen
    changes = full["fct_changes"]
    merged_late = changes[
        (changes["merged_at"] >= FIRST_NOW.replace(tzinfo=None))
        & (changes["first_commit_at"] < FIRST_NOW.replace(tzinfo=None))
        & (changes["change_kind"] != "direct_push")
    ]
    assert len(merged_late) > 0


def test_incremental_refreshes_give_the_marts_of_a_full_build(orgs):
    _assert_same_marts(orgs["incremental"], orgs["full"])


def test_incremental_refreshes_match_ground_truth(orgs):
    stepped = orgs["stepped"]
    horizon = pd.Timestamp(yaml.safe_load(stepped.config_path.read_text())["sources"]["github"]["start_date"])
    result = compare(read_truth(stepped.workdir.truth), read_marts(stepped.workdir.warehouse), horizon)
    assert_matches_truth(result)


def test_refreshes_extend_commit_walks(orgs):
    """The marts above came from extended walks: after each later refresh some service+environment keeps
    the rows of an earlier walk beside those of the walk that extended it (docs/architecture.md)."""
    for walks in orgs["walks"]:
        assert all(None not in walk for walk in walks.values())
        extended = [key for key, walk in walks.items() if len(walk) > 1]
        assert extended, walks


def test_full_rebuild_gives_the_same_marts(orgs):
    """`refresh --full-rebuild` rebuilds the incremental models from scratch, to the same marts."""
    from orchestration.cli import run_refresh

    stepped = orgs["stepped"]
    build_db = stepped.workdir.build_db
    # A wrong row in the incremental state: only a rebuild from scratch removes it.
    con = duckdb.connect(str(build_db))
    try:
        con.execute(
            "update intermediate.int_commits_attributed_to_deployments set is_baseline = not is_baseline"
        )
    finally:
        con.close()
    run_refresh(stepped.config_path, stepped.workdir, full_rebuild=True)
    _assert_same_marts(snapshot_marts(stepped.workdir.warehouse), orgs["full"])


def test_incremental_refreshes_leave_no_build_relations_behind(orgs):
    """dbt-duckdb leaves an incremental Python model's `__dbt_tmp` relation in the build database after each
    extension; the build drops it at its end, so neither the build database nor the published warehouse
    holds one after the stepped refreshes."""
    stepped = orgs["stepped"]
    for path in (stepped.workdir.build_db, stepped.workdir.warehouse):
        con = duckdb.connect(str(path), read_only=True)
        try:
            leftovers = con.execute(
                "select schema_name || '.' || table_name from duckdb_tables()"
                " where not temporary and table_name like '%\\_\\_dbt\\_tmp%' escape '\\'"
            ).fetchall()
        finally:
            con.close()
        assert leftovers == [], f"{path.name}: {leftovers}"
