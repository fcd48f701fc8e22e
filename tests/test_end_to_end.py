"""End to end: simulated org → emulated APIs → dlt → dbt → Dagster → published warehouse, against truth."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest
import yaml
from orgs import FIXED_END, REPO_ROOT
from truth import MART_KEYS, assert_matches_truth, compare, read_marts, read_truth, snapshot_marts

_snapshot = snapshot_marts


def _horizon(config_path) -> pd.Timestamp:
    return pd.Timestamp(yaml.safe_load(config_path.read_text())["sources"]["github"]["start_date"])


def test_tiny_org_marts_match_ground_truth(tiny_org):
    truth = read_truth(tiny_org.workdir.truth)
    result = compare(truth, read_marts(tiny_org.workdir.warehouse), _horizon(tiny_org.config_path))
    assert_matches_truth(result)
    # the tiny world fixes forward with both a revert and a hotfix (docs/simulator.md)
    assert result.truth_fix_signals["revert"] > 0 and result.truth_fix_signals["hotfix"] > 0


def test_every_mart_key_is_unique(tiny_org):
    for name, frame in _snapshot(tiny_org.workdir.warehouse).items():
        assert len(frame) > 0, f"{name} is empty"
        assert not frame.duplicated(MART_KEYS[name]).any(), f"{name} has duplicate keys"


# The tiny org's second refresh (an unchanged upstream is not read again in full, every mart stays the
# same): tests/reliability/test_kills_publish.py, whose first refresh it is.


def test_great_expectations_check_ran_in_the_refresh(tiny_org):
    checks = tiny_org.refresh["checks"]
    assert checks["gx_fct_deployments"] is True
    # dbt's data tests run as asset checks too; every one of them passed, except the warning DORA's own 2025
    # Quick Check files raise when they are loaded (they disagree on all respondents: docs/metrics.md).
    assert len(checks) > 75, len(checks)  # one a data test: a model's column checks are one test
    failed = {name for name, passed in checks.items() if not passed}
    assert failed <= {"dora_quickcheck_files_agree"}, sorted(failed)


def test_published_warehouse_records_the_refresh(tiny_org):
    con = duckdb.connect(str(tiny_org.workdir.warehouse), read_only=True)
    try:
        rows = con.execute("select count(*), max(published_at) from meta.refreshes").fetchone()
    finally:
        con.close()
    assert rows[0] >= 1
    assert rows[1] is not None


def test_dagster_definitions_load_as_one_lineage_graph(tiny_org, monkeypatch):
    import dagster as dg

    from orchestration.definitions import REFRESH_JOB, build_definitions

    defs = build_definitions(tiny_org.config_path, tiny_org.workdir)
    assert defs.resolve_job_def(REFRESH_JOB) is not None
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    dlt_keys = {key for key in keys if key.startswith("dlt_")}
    assert {"dlt_github_deployments", "dlt_pagerduty_incidents", "dlt_org_config_services"} <= dlt_keys
    # dbt staging models depend on the dlt assets themselves (not on separate source assets).
    stg = dg.AssetKey(["staging", "stg_github__deployments"])
    upstream = {key.to_user_string() for key in graph.get(stg).parent_keys}
    assert upstream == {"dlt_github_deployments"}
    assert "warehouse" in keys
    # Publishing waits for the marts: the warehouse asset is downstream of every mart.
    marts = {key for key in keys if key.startswith("marts/")}
    assert {"marts/fct_deployments", "marts/dora_team_weekly"} <= marts
    assert marts <= {key.to_user_string() for key in graph.get(dg.AssetKey("warehouse")).parent_keys}
    schedules = [s.name for s in defs.schedules]
    assert schedules == ["hourly_refresh"]
    # the daemon marks runs killed refreshes left STARTED failed, so the one-run queue keeps moving
    assert [s.name for s in defs.sensors] == ["reap_orphaned_runs"]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """`deploylens demo --no-serve` on the default small org, its world ending on FIXED_END: the workdir."""
    # The demo ends its world today; pin it so the expectation does not drift with the calendar.
    import simulator.cache
    from orchestration.cli import main
    from simulator import generate_org

    workdir = tmp_path_factory.mktemp("small-demo")
    with pytest.MonkeyPatch.context() as monkeypatch:
        # the demo generates through the world cache (in the workdir here)
        pinned = lambda scale, seed, end=None: generate_org(scale, seed, FIXED_END)  # noqa: E731
        monkeypatch.setattr(simulator.cache, "generate_org", pinned)
        for key in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB"):
            monkeypatch.setenv(key, os.environ.get(key, ""))
        args = ["demo", "--no-serve", "--workdir", str(workdir), "--scale", "small", "--emulator-port", "0"]
        status = main(args)
    assert status == 0
    return workdir


@pytest.mark.e2e
def test_small_demo_through_the_cli_matches_ground_truth(small_demo):
    """`deploylens demo --no-serve` on the default small org holds the same promises."""
    assert (small_demo / "org.yml").exists()
    result = compare(
        read_truth(small_demo / "truth"),
        read_marts(small_demo / "warehouse.duckdb"),
        _horizon(small_demo / "org.yml"),
    )
    assert_matches_truth(result)
    assert result.truth_fix_signals["revert"] > 0 and result.truth_fix_signals["hotfix"] > 0


def test_app_overview_renders_the_real_warehouse(tiny_org, monkeypatch):
    """The Overview on real marts: the team table shows each team's deployments as dora_summary has them."""
    from streamlit.testing.v1 import AppTest

    from app.state import DATES_KEY

    monkeypatch.setenv("DEPLOYLENS_WAREHOUSE", str(tiny_org.workdir.warehouse))
    app = AppTest.from_file(str(REPO_ROOT / "app" / "streamlit_app.py"), default_timeout=60)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    assert app.error.len == 0
    assert [metric.label for metric in app.metric][:1] == ["Deploys / week"]
    # the four keys and the rework rate
    assert app.metric.len == 5
    start, end = app.session_state[DATES_KEY]
    con = duckdb.connect(str(tiny_org.workdir.warehouse), read_only=True)
    try:
        expected = con.execute(
            "select team, deployments from marts.dora_summary(?::date, ?::date, null) where team <> '(org)'",
            [start, end],
        ).df()
    finally:
        con.close()
    shown = app.dataframe[0].value
    assert len(expected) == 3
    assert dict(zip(shown["Team"], shown["Deployments"], strict=True)) == dict(
        zip(expected["team"], expected["deployments"], strict=True)
    )
    # Production deployments of the tiny org did happen in the default period.
    assert expected["deployments"].sum() > 0
    app.switch_page("app_pages/deployments.py").run()
    assert not app.exception


def test_deployers_pipelines_sizes_and_reviews_match_ground_truth(tiny_org):
    """Who created each GitHub deployment, how long its pipeline ran, each pull request's size, review
    compliance and whether its author deployed it, against the simulator's truth; and batch sizes against
    the sizes of the pull requests truth says each production deployment shipped first."""
    from simulator.automation import automation_reviews

    world = tiny_org.world
    # the checks below bite only if automation reviewed before engineers and engineers deployed by hand
    assert sum(len(automation_reviews(world, svc, pr)) for svc in world.services for pr in svc.pulls) > 0
    truth = read_truth(tiny_org.workdir.truth)
    marts = read_marts(tiny_org.workdir.warehouse)

    t_dep = truth["deployments"].dropna(subset=["deployed_by"])
    assert t_dep["is_deployed_by_automation"].nunique() == 2
    deployments = marts["fct_deployments"]
    deployments = deployments.assign(deployment_id=deployments["source_deployment_id"].astype(str))
    joined = t_dep.merge(deployments, on=["service", "deployment_id"], suffixes=("_truth", ""))
    assert len(joined) == len(t_dep)
    assert (joined["deployed_by"] == joined["deployed_by_truth"]).all()
    assert (joined["is_deployed_by_automation"] == joined["is_deployed_by_automation_truth"]).all()
    pipeline_gap = (joined["pipeline_duration_minutes"] - joined["pipeline_duration_minutes_truth"]).abs()
    assert (pipeline_gap < 1e-6).all(), joined[pipeline_gap >= 1e-6]

    t_prs = truth["changes"].dropna(subset=["pr_number", "lines_changed"])
    changes = marts["fct_changes"]
    prs = t_prs.merge(changes, on=["service", "pr_number"], suffixes=("_truth", ""))
    assert len(prs) == len(t_prs)
    assert (prs["lines_changed"] == prs["lines_changed_truth"]).all()
    assert (prs["is_reviewed_by_other"] == prs["is_reviewed_by_other_truth"]).all()
    by_author = prs.dropna(subset=["is_deployed_by_author_truth"])
    assert by_author["is_deployed_by_author_truth"].nunique() == 2  # some by their author, some not
    assert (by_author["is_deployed_by_author"] == by_author["is_deployed_by_author_truth"]).all()
    pushes = changes[changes["change_kind"] == "direct_push"]
    assert (pushes["is_reviewed_by_other"] == False).all()  # noqa: E712 - a NULL would not be False

    # Batches: each production deployment's pull requests and lines are those of the pull requests truth
    # says it shipped first; a deployment that also shipped a direct push has no known size.
    t_changes = truth["changes"].dropna(subset=["deployment_id"])
    shipped = t_changes.groupby(["service", "deployment_id"]).agg(
        prs=("pr_number", "count"), changes=("deployed_at", "size"), lines=("lines_changed", "sum")
    )
    prod = deployments[
        deployments["is_production"] & (deployments["status"] == "success") & ~deployments["is_baseline"]
    ]
    batches = prod.merge(shipped.reset_index(), on=["service", "deployment_id"], how="left")
    batches[["prs", "changes", "lines"]] = batches[["prs", "changes", "lines"]].fillna(0)
    # A fix deployed from its branch before the merge ships commits the truth's changes attribute to the
    # merge's deployment: its batch is that one pull request, with its size.
    t_rework = set(truth["deployments"].loc[truth["deployments"]["is_rework"], "deployment_id"])
    from_branch = (batches["changes"] == 0) & (batches["commit_count"] > 0)
    fixes = batches[from_branch]
    assert len(fixes) > 0 and fixes["deployment_id"].isin(t_rework).all()
    assert (fixes["batch_pr_count"] == 1).all() and fixes["batch_size_class"].notna().all()
    batches = batches[~from_branch]
    sized = batches[batches["prs"] == batches["changes"]]
    assert len(sized) > 0 and sized["batch_size_class"].notna().all()
    assert (sized["batch_pr_count"] == sized["prs"]).all(), sized[sized["batch_pr_count"] != sized["prs"]]
    assert (sized["batch_lines_changed"] == sized["lines"]).all()
    assert batches.loc[batches["prs"] < batches["changes"], "batch_lines_changed"].isna().all()


def test_dbt_log_file_keeps_every_debug_line_in_dbts_text_format(tiny_org):
    log = (tiny_org.workdir.dbt_target / "dbt.log").read_text().splitlines()
    assert log and not any(line.startswith("{") for line in log)  # not dagster-dbt's JSON lines
    assert any("[debug]" in line and "SQL status: OK" in line for line in log)  # the queries are there
    assert any("Done. PASS=" in line for line in log)
    # the build's manifest is written once, when it ends (orchestration/dbt_warm.py, lighten_command)
    written = [i for i, line in enumerate(log) if "Wrote artifact WritableManifest" in line]
    finished = [i for i, line in enumerate(log) if "Finished running" in line]
    assert len(written) == 1 and finished and written[0] > finished[-1], (written, finished)
