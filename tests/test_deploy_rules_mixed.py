"""End to end on the mixed org: services shipping through GitHub deployments, GitHub Actions workflows,
Jenkins jobs, release tags and GitLab deployments, configured with deploy rules of each kind, through the
emulator, the refresh and the published warehouse, against the simulator's ground truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from browser import SCREENSHOTS, every_page_renders
from orgs import build_org
from staging_schema import read_snapshot, staging_columns
from truth import MART_KEYS, assert_matches_truth, compare, read_marts, read_truth, snapshot_marts

# Which source system each delivery style lands as in fct_deployments.
SOURCE_SYSTEM = {
    "github": "github",
    "actions": "github_actions",
    "jenkins": "jenkins",
    "tags": "git_tag",
    "gitlab": "gitlab",
    "git": "git_tag",
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
    assert {"github", "gitlab", "jenkins", "pagerduty", "git"} <= set(config["sources"])


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


def test_deploy_workflow_runs_of_pull_requests_and_forks_are_no_deployments(mixed_org):
    """The Actions service's deploy workflow also runs for pull requests (`pull_request_target`: head
    `main`, main's SHA) and after a fork's `ci` (`workflow_run`, the fork's `main` and SHA); its rule counts
    `workflow_run` but not forks. Its `workflow_run` runs are loaded, completed and successful, and deploy
    nothing; its `pull_request_target` runs, of an event no rule counts, are not read at all, nor is any
    repository's pull request CI (`workflow_runs: deploy`, the default)."""
    svc = next(s for s in mixed_org.world.services if s.delivery == "actions")
    end = mixed_org.world.end
    extra = {
        r.run_id: r for r in svc.runs if r.name == "deploy" and not r.deployment and r.completed_at <= end
    }
    assert {r.event for r in extra.values()} == {"pull_request_target", "workflow_run"}
    assert all(r.head_branch == "main" and r.conclusion == "success" for r in extra.values())
    forked = {r.run_id for r in extra.values() if r.fork is not None}
    assert forked and all(extra[i].event == "workflow_run" for i in forked)
    con = duckdb.connect(str(mixed_org.workdir.warehouse), read_only=True)
    try:
        shipped = {
            int(run_id)
            for (run_id,) in con.execute(
                "select source_deployment_id from marts.fct_deployments "
                "where source_system = 'github_actions'"
            ).fetchall()
        }
    finally:
        con.close()
    build = duckdb.connect(str(mixed_org.workdir.build_db), read_only=True)
    try:
        loaded = dict(
            build.execute(
                "select id, status from raw_github.workflow_runs where repository = ?", [svc.repository]
            ).fetchall()
        )
        events = build.execute("select distinct event from raw_github.workflow_runs order by 1").fetchall()
    finally:
        build.close()
    expected = {i: "completed" if r.event == "workflow_run" else None for i, r in extra.items()}
    assert {run_id: loaded.get(run_id) for run_id in extra} == expected
    assert shipped and not shipped & set(extra)
    # what was read: the deployments' runs (push, workflow_dispatch) and the rule's `workflow_run` runs
    counted = {r.event for r in svc.runs if r.name.startswith("deploy") and r.completed_at <= end}
    assert {event for (event,) in events} == counted - {"pull_request_target"}


JOB_COLUMNS = ("id", "run_id", "run_attempt", "workflow_name", "name", "head_sha", "head_branch", "status")
JOB_COLUMNS += ("conclusion", "started_at", "completed_at", "html_url")


def test_deploy_runs_jobs_come_through_graphql_as_rest_lists_them(mixed_org):
    """The refresh reads GitHub through GraphQL: the jobs of the runs the Actions service's rule counts come
    as their check suites' check runs, none through REST's per-run listing, with the values that listing
    gives (the emulator's REST rendering of the same job, as of the refresh); only deploy runs' jobs."""
    svc = next(s for s in mixed_org.world.services if s.delivery == "actions")
    emulator = mixed_org.emulator
    assert not [t for _, t, _ in emulator.requests if re.search(r"/actions/runs/\d+/jobs", t)]
    build = duckdb.connect(str(mixed_org.workdir.build_db), read_only=True)
    try:
        listed = ", ".join(f"cast({c} as varchar)" for c in JOB_COLUMNS)
        rows = build.execute(
            f"select {listed} from raw_github.workflow_jobs where repository = ?", [svc.repository]
        ).fetchall()
        loaded_runs = {
            run_id for (run_id,) in build.execute("select id from raw_github.workflow_runs").fetchall()
        }
    finally:
        build.close()
    runs = {run.run_id: run for run in svc.runs}
    deploys = {run.run_id for run in svc.runs if run.deployment is not None and run.run_id in loaded_runs}
    assert deploys and deploys <= {int(row[1]) for row in rows}
    for row in rows:
        run = runs[int(row[1])]
        assert run.name != "ci"  # deploy workflows only (`deploy`, `deploy-staging`)
        job = emulator.gh.workflow_job(svc, run, emulator.now)
        expected = [job[c] for c in JOB_COLUMNS]
        got = [*row[:9], *(_iso(v) for v in row[9:11]), row[11]]
        assert got == [None if v is None else str(v) for v in expected], run.run_id


def _iso(value: str | None) -> str | None:
    """A timestamp DuckDB gives as text (`2026-10-01 10:00:00+00`) as the API writes it."""
    return None if value is None else pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _git_services(mixed_org) -> set[str]:
    return {svc.name for svc in mixed_org.world.services if svc.delivery == "git"}


def test_mixed_org_marts_match_ground_truth(mixed_org):
    truth = read_truth(mixed_org.workdir.truth)
    # The git team's pull requests are read from merge and squash commits (and refs/pull/N/head): their
    # lead time and deploy phase are compared like every other change's.
    assert truth["changes"]["service"].isin(_git_services(mixed_org)).any()
    horizon = yaml.safe_load(mixed_org.config_path.read_text())["sources"]["github"]["start_date"]
    result = compare(truth, read_marts(mixed_org.workdir.warehouse), pd.Timestamp(horizon))
    assert_matches_truth(result)


def test_git_team_deployments_and_commits_match_ground_truth_exactly(mixed_org):
    """The services whose code is a local clone: every production deployment (a release tag in the clone),
    and each commit's first production deployment, exactly as the truth has them, with git's SHAs."""
    git_services = _git_services(mixed_org)
    assert git_services == {"metrics-api", "etl-runner"}
    truth = read_truth(mixed_org.workdir.truth)
    marts = read_marts(mixed_org.workdir.warehouse)

    t_dep = truth["deployments"]
    t_dep = t_dep[t_dep["service"].isin(git_services)]
    assert set(t_dep["environment"]) == {"production"}
    deployments = marts["fct_deployments"]
    mine = deployments[deployments["service"].isin(git_services)]
    assert set(mine["source_system"]) == {"git_tag"}
    prod = mine[mine["is_production"] & (mine["status"] == "success")]
    expected = {
        (row.service, row.deployment_id): (row.commit_sha, row.deployed_at) for row in t_dep.itertuples()
    }
    got = {
        (row.service, row.source_deployment_id): (row.commit_sha, pd.Timestamp(row.deployed_at))
        for row in prod.itertuples()
    }
    assert len(expected) >= 40
    assert got == expected

    source_id = dict(zip(deployments["deployment_id"], deployments["source_deployment_id"], strict=True))
    t_commits = truth["commits"]
    t_commits = t_commits[t_commits["service"].isin(git_services)]
    commits = marts["fct_commits"]
    commits = commits[commits["service"].isin(git_services)]
    assert len(t_commits) >= 200
    assert set(commits["commit_sha"]) == set(t_commits["commit_sha"])  # git SHAs, every one of them
    first = {
        row.commit_sha: source_id.get(row.deployment_id) if pd.notna(row.deployment_id) else None
        for row in commits.itertuples()
    }
    wrong = [
        (row.service, row.commit_sha, row.deployment_id, first[row.commit_sha])
        for row in t_commits.itertuples()
        if (row.deployment_id if pd.notna(row.deployment_id) else None) != first[row.commit_sha]
    ]
    assert not wrong, wrong[:10]
    assert t_commits["deployment_id"].notna().sum() >= 150


def test_mixed_org_staging_keeps_every_column_and_type(mixed_org):
    """Every source loaded: the staging models (read through transform/macros/optional_source.sql) have
    the columns and types of tests/contracts/staging_columns.json."""
    built = staging_columns(mixed_org.workdir.warehouse)
    expected = read_snapshot()["mixed"]
    assert set(built) == set(expected)
    assert {model: cols for model, cols in built.items() if cols != expected[model]} == {}


STATES = Path(__file__).resolve().parent / "contracts" / "source_states_mixed.json"
# Sections of the resource state holding one entry per repository, project, job, incident or ref.
PER_KEY = frozenset(
    {
        "cursors",
        "known",
        "jobs",
        "repositories",
        "open_acknowledgements",
        "tags",
        "branches",
        "pull_heads",
        "listed",
        "etags",  # per repository, and per run listing (one an event) for the Actions runs
        "runs",  # the runs whose jobs were read, per repository or run listing
    }
)
TEXT_FORMATS = {
    "timestamp to the millisecond": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"),
    "timestamp to the second": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
    "commit sha": re.compile(r"[0-9a-f]{40}"),
    "digest": re.compile(r"[0-9a-f]{64}"),
}


def _layout(value, depth: int = 0, per_key: bool = False):
    """The layout of a resource state: the fixed keys, and for per-key sections (below the resource
    names) the layout their entries take together (_merged); leaves as their kind (text by its format)."""
    if isinstance(value, dict):
        if per_key or (value and all(key.isdigit() for key in value)):  # or keyed by id
            return {"<each key>": _merged([_layout(v, depth + 1) for v in value.values()])}
        return {k: _layout(v, depth + 1, depth >= 1 and k in PER_KEY) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(_layout(v, depth + 1), sort_keys=True) for v in value})
    if isinstance(value, str):
        return next((name for name, form in TEXT_FORMATS.items() if form.fullmatch(value)), "text")
    return type(value).__name__


def _merged(layouts: list):
    """The entries' layouts as one: each field with the kinds it takes (null aside: an entry may have no
    value yet, as an event's run listing that never answered with a run), nested fields likewise."""
    if layouts and all(isinstance(layout, dict) for layout in layouts):
        fields = sorted({field for layout in layouts for field in layout})
        return {field: _merged([layout[field] for layout in layouts if field in layout]) for field in fields}
    kinds = {json.dumps(layout, sort_keys=True) for layout in layouts}
    return sorted(kinds - {'"NoneType"'} or kinds)


def test_source_cursors_keep_the_state_layout_earlier_versions_wrote(mixed_org):
    """The per-key cursors of GitHub, GitLab, Jenkins, PagerDuty and git (ingestion/cursors.py) write the
    resource state in the layout the sources wrote before they shared that helper (tests/contracts/
    source_states_mixed.json: that state, for this org and seed): the same sections and keys, timestamps
    in the same format. An existing working directory's cursors then keep working; the next test
    refreshes on them and checks nothing is doubled or lost."""
    import dlt

    expected = json.loads(STATES.read_text())
    for name, resources in expected.items():
        pipeline = dlt.attach(
            pipeline_name=f"deploylens_{name}", pipelines_dir=str(mixed_org.workdir.dlt_dir)
        )
        written = pipeline.state["sources"][name]["resources"]
        assert _layout(written) == _layout(resources), name


def test_second_refresh_of_every_source_leaves_every_mart_identical(mixed_org):
    """Every source (GitHub deployments and Actions, GitLab, Jenkins, local git, PagerDuty) read twice:
    nothing doubled, nothing lost, and every source was actually asked again."""
    from orchestration.cli import run_refresh

    before = snapshot_marts(mixed_org.workdir.warehouse)
    served_before = len(mixed_org.emulator.requests)
    run_refresh(mixed_org.config_path, mixed_org.workdir)
    after = snapshot_marts(mixed_org.workdir.warehouse)
    for name, key in MART_KEYS.items():
        assert len(after[name]) > 0, f"{name} is empty"
        assert not after[name].duplicated(key).any(), f"{name} has duplicate keys"
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)
    asked_again = {path.split("/")[1] for _, path, _ in mixed_org.emulator.requests[served_before:]}
    assert {"github", "gitlab", "jenkins", "pagerduty"} <= asked_again


# The monorepo (docs/simulator.md, "A monorepo"): acme/marketplace holds marketplace (no paths: the fallback),
# listings-api (services/listings/**) and orders-api (services/orders/**), each deploying the one main line to
# environments of its own. The truth names the services each change was written for; the warehouse finds them
# from the pull requests' files and org.yml's paths.
MONOREPO = "acme/marketplace"
MONOREPO_SERVICES = {"marketplace", "listings-api", "orders-api"}


def _monorepo_changes(mixed_org) -> tuple[dict, dict]:
    """(truth, warehouse): (change_id, service) -> (first production deployment, lead time minutes), changes
    started before the configured start date left out (history the baselines stand for)."""
    horizon = pd.Timestamp(
        yaml.safe_load(mixed_org.config_path.read_text())["sources"]["github"]["start_date"]
    )
    truth = read_truth(mixed_org.workdir.truth)["change_services"]
    truth = truth[(truth["repository"] == MONOREPO) & (truth["started_at"] >= horizon)]
    expected = {}
    for row in truth.itertuples():
        change_id = (
            f"{MONOREPO}#{int(row.pr_number)}" if pd.notna(row.pr_number) else f"{MONOREPO}@{row.commit_sha}"
        )
        lead = (row.deployed_at - row.started_at).total_seconds() / 60 if pd.notna(row.deployed_at) else None
        expected[(change_id, row.service)] = (
            row.deployment_id if pd.notna(row.deployment_id) else None,
            lead,
        )
    con = duckdb.connect(str(mixed_org.workdir.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select changes.change_id, changes.service, deployments.source_deployment_id, "
            "changes.lead_time_minutes from marts.fct_change_services as changes "
            "left join marts.fct_deployments as deployments using (deployment_id) "
            "where changes.repository = ? and changes.started_at >= ?",
            [MONOREPO, horizon.to_pydatetime()],
        ).fetchall()
    finally:
        con.close()
    got = {(change_id, service): (source_id, lead) for change_id, service, source_id, lead in rows}
    return expected, got


def test_monorepo_changes_count_for_the_services_they_touch(mixed_org):
    """Both ways: every (change, service) pair the world wrote is in fct_change_services, nothing else is;
    each with that service's first production deployment and lead time (within a minute)."""
    expected, got = _monorepo_changes(mixed_org)
    # the world exercises every rule: one service, two services, a service and shared code, shared code only
    services_of: dict[str, set[str]] = {}
    for change_id, service in expected:
        services_of.setdefault(change_id, set()).add(service)
    pulls = {c: s for c, s in services_of.items() if "#" in c}
    assert len(pulls) >= 25
    assert any(s == {"listings-api", "orders-api"} for s in pulls.values())
    assert any(len(s) == 2 and "marketplace" in s for s in pulls.values())
    assert any(s == {"marketplace"} for s in pulls.values())
    assert {frozenset(s) for s in pulls.values()} >= {frozenset({"listings-api"}), frozenset({"orders-api"})}
    assert set(got) - set(expected) == set(), "changes counted for a service they do not touch"
    assert set(expected) - set(got) == set(), "changes missing for a service they touch"
    wrong = {
        key: (expected[key], got[key])
        for key in expected
        if expected[key][0] != got[key][0]
        or (expected[key][1] is None) != (got[key][1] is None)
        or (expected[key][1] is not None and abs(expected[key][1] - got[key][1]) > 1.0)
    }
    assert not wrong, sorted(wrong.items())[:10]
    assert sum(1 for dep, lead in expected.values() if lead is not None) >= 30


def test_monorepo_direct_pushes_count_for_the_services_their_files_touch(mixed_org):
    """A commit pushed straight to main counts for the services whose folders its files are in (the world
    pushes into both folders and into shared code), read from the commit's files, not the fallback alone;
    each with that service's first production deployment and lead time."""
    expected, got = _monorepo_changes(mixed_org)
    pushes = {key: value for key, value in expected.items() if "@" in key[0]}
    assert {service for _, service in pushes} == MONOREPO_SERVICES
    assert {key: value for key, value in got.items() if "@" in key[0]}.keys() == pushes.keys()
    assert any(lead is not None for key, (_, lead) in pushes.items() if key[1] != "marketplace")


def test_monorepo_changes_are_judged_against_each_services_normal(mixed_org):
    """fct_change_outliers: a change is judged once per service it touches, with that service's lead time
    (the world's), and once for its team; a change across two services of the team is not judged twice."""
    expected, _ = _monorepo_changes(mixed_org)
    leads = {key: lead for key, (_, lead) in expected.items() if lead is not None}
    con = duckdb.connect(str(mixed_org.workdir.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select change_id, baseline_grouping, baseline_group, lead_time_minutes "
            "from marts.fct_change_outliers where change_id like ?",
            [f"{MONOREPO}%"],
        ).fetchall()
    finally:
        con.close()
    changes = {change_id for change_id, _ in expected}
    by_service = {
        (change_id, group): lead
        for change_id, grouping, group, lead in rows
        if grouping == "service" and change_id in changes
    }
    assert by_service.keys() == leads.keys()
    assert all(abs(by_service[key] - leads[key]) <= 1.0 for key in leads), sorted(leads.items())[:5]
    assert any(len({s for c, s in leads if c == change}) == 2 for change, _ in leads)
    by_team = [(change_id, group) for change_id, grouping, group, _ in rows if grouping == "team"]
    assert len(by_team) == len(set(by_team)) == len({change_id for change_id, _ in by_team})
    assert {group for _, group in by_team} == {"marketplace"}
    # the team judges a change by fct_changes' lead time: its first service's by name
    first = {}
    for change_id, service in expected:
        first[change_id] = min(first.get(change_id, service), service)
    judged = {change_id for change_id, _ in by_team if change_id in changes}
    assert judged == {change_id for change_id, service in leads if first[change_id] == service}


def test_monorepo_services_deploy_to_their_own_environments(mixed_org):
    """Each service's deployments (staging and production) as the world made them, and each production
    deployment's pr_count: the pull requests of that service it shipped first (on one linear main line:
    those merged after the furthest position the service's earlier production deployments reached)."""
    world = mixed_org.world
    host = world.service("marketplace")
    truth = read_truth(mixed_org.workdir.truth)["deployments"]
    truth = truth[truth["service"].isin(MONOREPO_SERVICES)]
    expected = {
        (row.service, row.deployment_id): (
            "production" if row.environment.startswith("production") else "staging"
        )
        for row in truth.itertuples()
    }
    assert {service for service, _ in expected} == MONOREPO_SERVICES
    con = duckdb.connect(str(mixed_org.workdir.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select service, source_deployment_id, environment, is_production, is_baseline, pr_count "
            "from marts.fct_deployments where repository = ? and status = 'success'",
            [MONOREPO],
        ).fetchall()
    finally:
        con.close()
    assert {(service, source_id): env for service, source_id, env, *_ in rows} == expected

    merged_at_position = {}
    for pr in host.pulls:
        if pr.merged_at is not None:
            merged_at_position[host.commits[pr.merge_commit_sha].main_index] = pr
    pr_counts = {}
    for service in MONOREPO_SERVICES:
        shipped = sorted(
            (
                d
                for d in host.deployments
                if d.service == service and d.is_production and d.deployed_at is not None
            ),
            key=lambda d: (d.deployed_at, d.deployment_id),
        )
        reached = -1  # main's furthest position the service had shipped (a rollback ships nothing again)
        for dep in shipped:
            pr_counts[dep.source_id] = sum(
                1
                for position in range(reached + 1, dep.main_index + 1)
                if position in merged_at_position and service in host.owners(merged_at_position[position])
            )
            reached = max(reached, dep.main_index)
    got = {source_id: pr_count for _, source_id, _, is_production, _, pr_count in rows if is_production}
    assert got == pr_counts
    assert sum(pr_counts.values()) >= 30


def test_every_page_renders_the_mixed_org_in_a_real_browser(mixed_org, tmp_path):
    """The mixed org's warehouse (every delivery style, a monorepo) in a real browser (tests/browser.py)."""
    every_page_renders(mixed_org.workdir.warehouse, tmp_path, SCREENSHOTS / "mixed-org")
