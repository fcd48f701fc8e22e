"""The simulated organisation: determinism, maturity profiles in their bands, and truth invariants.

Band checks measure the written truth with plain pandas here (not with the product's SQL), so they test
the simulator's behaviour, not the metric definitions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import yaml

from simulator import generate_org
from simulator.world import PROFILES

END = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_world():
    return generate_org(scale="small", seed=7, end=END)


@pytest.fixture(scope="session")
def small_truth(small_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("truth-small")
    small_world.write_truth(folder)
    return {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in ("deployments", "changes", "incidents", "commits")
    }


@pytest.fixture(scope="session")
def tiny_world():
    return generate_org(scale="tiny", seed=7, end=END)


def _signature(world) -> list:
    tables = world.truth_tables()
    return [tables[name].to_csv(index=False) for name in sorted(tables)]


def test_same_seed_and_end_give_the_same_world(tiny_world):
    again = generate_org(scale="tiny", seed=7, end=END)
    assert _signature(again) == _signature(tiny_world)
    other = generate_org(scale="tiny", seed=8, end=END)
    assert _signature(other) != _signature(tiny_world)


def test_span_and_default_end():
    world = generate_org(scale="tiny", seed=1)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert world.end == today and world.end.tzinfo is not None
    assert world.end - world.start == timedelta(weeks=8)
    with pytest.raises(ValueError):
        generate_org(scale="huge")


def test_truth_files_have_exactly_the_documented_columns(tiny_world, tmp_path):
    tiny_world.write_truth(tmp_path)
    expected = {
        "deployments": [
            "deployment_id",
            "service",
            "environment",
            "commit_sha",
            "deployed_at",
            "is_failure",
            "recovered_at",
            "failure_signals",
            "is_rework",
            "deployed_by",
            "is_deployed_by_automation",
            "pipeline_duration_minutes",
        ],
        "changes": [
            "service",
            "pr_number",
            "commit_sha",
            "first_commit_at",
            "opened_at",
            "started_at",
            "is_branch_rewritten",
            "first_review_at",
            "merged_at",
            "deployment_id",
            "deployed_at",
            "lines_changed",
            "is_reviewed_by_other",
            "is_deployed_by_author",
        ],
        "incidents": ["incident_id", "service", "created_at", "resolved_at", "deployment_id"],
        "commits": ["commit_sha", "service", "authored_at", "deployment_id", "deployed_at"],
        "promotions": [
            "service",
            "commit_sha",
            "upstream_environment",
            "downstream_environment",
            "upstream_deployment_id",
            "reached_upstream_at",
            "downstream_deployment_id",
            "reached_downstream_at",
        ],
    }
    for name, columns in expected.items():
        frame = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(frame.columns) == columns, name
        assert len(frame) > 0, name
        for col in columns:
            if col.endswith("_at"):
                assert str(frame[col].dtype).startswith("datetime64") and str(frame[col].dt.tz) == "UTC", (
                    name,
                    col,
                )
            if col.endswith("_id") or col in ("service", "commit_sha", "environment"):
                assert frame[col].dropna().map(type).eq(str).all(), (name, col)


def test_org_config_is_accepted_by_the_config_loader(tiny_world):
    from ingestion.config import parse_config

    config = tiny_world.org_config("http://127.0.0.1:1/github", "http://127.0.0.1:1/pagerduty", "gh", "pd")
    parsed = parse_config(yaml.safe_dump(config))
    assert parsed.sources["github"].options["organization"] == "acme"
    assert parsed.sources["github"].start_date == tiny_world.start.date().isoformat()
    assert {s["service"] for s in parsed.services} == {s.name for s in tiny_world.services}
    assert all(
        s["repository"].startswith("acme/") and len(s["pagerduty_services"]) == 1 for s in parsed.services
    )
    assert len(parsed.teams) == 3 and len(parsed.services) == 8
    assert config["failure"]["incident_window_hours"] == 24
    ids = [s["pagerduty_services"][0] for s in config["services"]]
    assert all(len(i) == 7 and i[0] == "P" and i[1:].isalnum() and i[1:].upper() == i[1:] for i in ids)


def test_one_service_per_scale_uses_prod_as_its_environment_name(tiny_world, small_world):
    for world in (tiny_world, small_world):
        prod_named = [s for s in world.services if s.production_env == "prod"]
        assert len(prod_named) == 1
        assert any(d.environment == "prod" for d in prod_named[0].deployments)


def _weeks(world) -> float:
    return (world.end - world.start).days / 7


def _per_profile(world, truth) -> pd.DataFrame:
    """Per maturity profile: prod deploys/week per service, median lead time (h), CFR, median recovery (h)."""
    profile_of = {s.name: s.profile for s in world.services}
    prod_env = {s.name: s.production_env for s in world.services}
    deps = truth["deployments"]
    prod = deps[deps.apply(lambda r: r.environment == prod_env[r.service], axis=1)].copy()
    prod["profile"] = prod.service.map(profile_of)
    changes = truth["changes"].dropna(subset=["deployed_at"]).copy()
    changes["profile"] = changes.service.map(profile_of)
    changes["lead_h"] = (changes.deployed_at - changes.started_at).dt.total_seconds() / 3600
    prod["recovery_h"] = (prod.recovered_at - prod.deployed_at).dt.total_seconds() / 3600
    services_per_profile = pd.Series(profile_of).value_counts()
    rows = {}
    for profile in PROFILES:
        p = prod[prod.profile == profile]
        rows[profile] = {
            "deploys_per_week": len(p) / services_per_profile[profile] / _weeks(world),
            "lead_h": changes[changes.profile == profile].lead_h.median(),
            "cfr": p.is_failure.mean(),
            "recovery_h": p.recovery_h.median(),
        }
    return pd.DataFrame(rows).T


def test_profiles_land_in_their_bands_on_small(small_world, small_truth):
    bands = _per_profile(small_world, small_truth)
    weekly, daily, elite = bands.loc["weekly"], bands.loc["daily"], bands.loc["elite"]
    # about weekly: lead time ~5 days, CFR ~25 %, recovery in days
    assert 0.6 <= weekly.deploys_per_week <= 1.6
    assert 3 * 24 <= weekly.lead_h <= 7 * 24
    assert 0.15 <= weekly.cfr <= 0.40
    assert weekly.recovery_h >= 12
    # about daily: lead <= 2 days, CFR <= 15 %, recovery < 1 day
    assert 3 <= daily.deploys_per_week <= 7
    assert daily.lead_h <= 48
    assert daily.cfr <= 0.15
    assert daily.recovery_h < 24
    # many times a day: lead time in hours, CFR < 5 %, recovery < 1 h
    assert elite.deploys_per_week >= 7
    assert elite.lead_h < 12
    assert elite.cfr < 0.05
    assert elite.recovery_h < 1


def test_every_change_is_shipped_by_its_deployment(small_world, small_truth):
    changes = small_truth["changes"].dropna(subset=["deployment_id"])
    deps = small_truth["deployments"].set_index("deployment_id")
    assert len(changes) > 300
    assert changes["pr_number"].isna().sum() > 5  # direct pushes are changes too
    for row in changes.itertuples():
        svc = small_world.service(row.service)
        # a pull request lands by its merge or squash commit; a direct push is its own commit
        landing = (
            row.commit_sha if pd.isna(row.pr_number) else svc.pulls[int(row.pr_number) - 1].merge_commit_sha
        )
        dep = deps.loc[row.deployment_id]
        assert dep.service == row.service and dep.environment == svc.production_env
        assert dep.deployed_at == row.deployed_at >= row.merged_at
        # walk the real commit graph from the deployed SHA: it must reach the landing commit
        seen, stack = set(), [dep.commit_sha]
        while stack:
            sha = stack.pop()
            if sha not in seen:
                seen.add(sha)
                stack.extend(svc.commits[sha].parents)
        assert landing in seen
        # and no earlier successful production deployment of the service contained it
        earlier = [
            d
            for d in svc.deployments
            if d.is_production and d.deployed_at and d.deployed_at < dep.deployed_at
        ]
        for other in earlier:
            assert svc.commits[landing].reach_index > other.main_index


def test_direct_pushes_are_main_commits_no_pull_request_landed(small_world, small_truth):
    changes = small_truth["changes"]
    pushes = changes[changes["pr_number"].isna()]
    assert changes.loc[changes["pr_number"].notna(), "commit_sha"].isna().all()
    for row in pushes.itertuples():
        svc = small_world.service(row.service)
        commit = svc.commits[row.commit_sha]
        assert commit.main_index is not None and len(commit.parents) <= 1
        assert all(pr.merge_commit_sha != row.commit_sha for pr in svc.pulls)
        assert (row.first_commit_at, row.merged_at) == (commit.authored_at, commit.committed_at)
        assert row.started_at == row.first_commit_at and not row.is_branch_rewritten
        assert pd.isna(row.opened_at) and pd.isna(row.first_review_at)


def test_phases_are_ordered(small_truth):
    changes = small_truth["changes"].dropna(subset=["pr_number"])
    kept = changes[~changes.is_branch_rewritten]
    assert (kept.first_commit_at <= kept.opened_at).all()
    assert (kept.started_at == kept.first_commit_at).all()
    # a rewritten branch's commits are all younger than the opening, and the change starts at the opening
    rewritten = changes[changes.is_branch_rewritten]
    assert (rewritten.first_commit_at > rewritten.opened_at).all()
    assert (rewritten.started_at == rewritten.opened_at).all()
    reviewed = changes.dropna(subset=["first_review_at"])
    assert (reviewed.opened_at <= reviewed.first_review_at).all()
    assert (reviewed.first_review_at <= reviewed.merged_at).all()


def test_recovery_follows_failure_and_only_failures_recover(small_truth):
    deps = small_truth["deployments"]
    failed = deps[deps.is_failure]
    assert len(failed) > 5
    recovered = failed.dropna(subset=["recovered_at"])
    assert (recovered.recovered_at >= recovered.deployed_at).all()
    assert deps[~deps.is_failure].recovered_at.isna().all()
    assert set(failed.environment) <= {"production", "prod"}


def test_incidents_with_and_without_a_cause(small_truth, tiny_world):
    incidents = small_truth["incidents"]
    uncaused = incidents.deployment_id.isna().mean()
    assert 0.1 <= uncaused <= 0.45
    assert tiny_world.truth_tables()["incidents"].deployment_id.isna().any()
    assert incidents.incident_id.str.fullmatch(r"Q[A-Z0-9]{13}").all()
    deps = small_truth["deployments"].set_index("deployment_id")
    caused = incidents.dropna(subset=["deployment_id"])
    assert deps.loc[caused.deployment_id, "is_failure"].all()
    caused_at = deps.loc[caused.deployment_id, "deployed_at"].reset_index(drop=True)
    assert (caused.created_at.reset_index(drop=True) >= caused_at).all()


def _ambiguity(world) -> dict[str, int]:
    """Counts of the cases that make attribution hard, read from the simulator's causal records."""
    counts = {"between": 0, "late": 0, "late_not_weekly": 0, "uncaused_on_app": 0}
    for inc in world.incidents:
        if inc.created_at > world.end:
            continue
        if inc.cause is None:
            counts["uncaused_on_app"] += inc.service is not None
            continue
        svc = world.service(inc.service)
        bad = inc.cause.deployed_at
        counts["between"] += any(
            d.is_production and d.deployed_at is not None and bad < d.deployed_at < inc.created_at
            for d in svc.deployments
        )
        late = inc.created_at - bad > timedelta(hours=24)
        counts["late"] += late
        counts["late_not_weekly"] += late and svc.profile != "weekly"
    return counts


def test_real_world_ambiguity_exists(small_world, small_truth):
    # Rare by nature (most breakage is noticed before the next deployment), so pooled over many worlds.
    pooled = {"between": 0, "late": 0, "late_not_weekly": 0, "uncaused_on_app": 0}
    for seed in range(1, 41):
        for key, value in _ambiguity(generate_org(scale="small", seed=seed, end=END)).items():
            pooled[key] += value
    assert pooled["between"] >= 1, (
        "a second deployment should be able to land between a bad one and its incident"
    )
    assert pooled["late"] >= 1, "a detection should sometimes come more than a day late"
    assert pooled["late_not_weekly"] == 0, "only weekly teams notice breakage more than a day late"
    assert pooled["uncaused_on_app"] >= 1, "some incidents on application services have no deployment cause"
    deps = small_truth["deployments"]
    # merge commits and squash merges both occur, and some direct pushes to main
    methods = {pr.merge_method for svc in small_world.services for pr in svc.pulls if pr.merge_method}
    assert methods == {"merge", "squash"}
    direct = [
        c
        for svc in small_world.services
        for sha in svc.main[1:]
        for c in [svc.commits[sha]]
        if c.pr_number is None
    ]
    assert direct
    # a few rollouts fail and never reach their environment
    failed_rollouts = [d for svc in small_world.services for d in svc.deployments if d.deployed_at is None]
    assert failed_rollouts
    assert not set(str(d.deployment_id) for d in failed_rollouts) & set(deps.deployment_id)


def test_baseline_deployments_happen_at_start(tiny_world):
    deps = tiny_world.truth_tables()["deployments"]
    for svc in tiny_world.services:
        own = deps[deps.service == svc.name].sort_values("deployed_at")
        for env in (svc.staging_env, svc.production_env):
            first = own[own.environment == env].iloc[0]
            assert first.deployed_at == tiny_world.start
            assert first.commit_sha == svc.main[0]


def test_commits_truth_covers_main_and_pr_commits(tiny_world):
    commits = tiny_world.truth_tables()["commits"]
    for svc in tiny_world.services:
        own = set(commits[commits.service == svc.name].commit_sha)
        pr_commits = {
            s
            for pr in svc.pulls
            if pr.opened_at <= tiny_world.end
            for s in pr.commit_shas
            if svc.commits[s].committed_at <= tiny_world.end
        }
        assert set(svc.main) <= own and pr_commits <= own
    # squash-merged PR commits never reach main, so no deployment ships them
    squashed = {
        s
        for svc in tiny_world.services
        for pr in svc.pulls
        if pr.merge_method == "squash"
        for s in pr.commit_shas
    }
    assert commits[commits.commit_sha.isin(squashed)].deployment_id.isna().all()


FIXED_END = datetime(2026, 11, 2, tzinfo=UTC)  # the end-to-end tests' world


@pytest.fixture(scope="session")
def pooled_small_worlds():
    """Twenty `small` worlds: enough bad deployments per profile for distribution checks to be stable."""
    return [generate_org(scale="small", seed=seed, end=END) for seed in range(1, 21)]


def _detections(worlds) -> dict[str, list[float]]:
    """Per profile: minutes from each paged bad deployment to its first incident."""
    lags: dict[str, list[float]] = {profile: [] for profile in PROFILES}
    for world in worlds:
        first: dict[int, tuple] = {}
        for inc in world.incidents:
            if inc.cause is not None and id(inc.cause) not in first:
                first[id(inc.cause)] = (inc.cause, inc.created_at)
        for dep, created in first.values():
            profile = world.service(dep.service).profile
            lags[profile].append((created - dep.deployed_at).total_seconds() / 60)
    return lags


def test_detection_lag_is_log_normal_with_realistic_medians(pooled_small_worlds):
    lags = {profile: pd.Series(values) for profile, values in _detections(pooled_small_worlds).items()}
    bands = {"elite": (10, 20), "daily": (30, 90), "weekly": (120, 360)}  # median minutes
    for profile, (low, high) in bands.items():
        series = lags[profile]
        assert len(series) >= 40, profile
        assert low <= series.median() <= high, (profile, series.median())
        assert series.mean() > series.median(), f"{profile}: detection lag should be right-skewed"
        assert (series > 0).all()
    # a thin tail beyond a day, only for weekly teams, and drawn rather than clipped at the 24 h window
    weekly_late = (lags["weekly"] > 24 * 60).mean()
    assert 0.003 <= weekly_late <= 0.04, weekly_late
    assert lags["weekly"].max() > 24 * 60 + 30
    assert (lags["daily"] <= 24 * 60).all() and (lags["elite"] <= 24 * 60).all()


def test_rollbacks_are_fast_where_teams_deploy_often(pooled_small_worlds):
    share: dict[str, list[bool]] = {profile: [] for profile in PROFILES}
    delay: dict[str, list[float]] = {profile: [] for profile in PROFILES}
    for world in pooled_small_worlds:
        for svc in world.services:
            rolled_back_shas = set()
            for dep in sorted(svc.deployments, key=lambda d: d.created_at):
                if not dep.is_failure or dep.deployed_at is None or dep.deployed_at > world.end:
                    continue
                rollback = dep.rollback
                done = rollback is not None and rollback.deployed_at is not None
                share[svc.profile].append(done)
                if done:
                    delay[svc.profile].append((rollback.deployed_at - dep.deployed_at).total_seconds() / 60)
                    rolled_back_shas.add(dep.sha)
            # a rolled-back build is never shipped again: the pipeline waits for the fix
            for sha in rolled_back_shas:
                shipped = [d for d in svc.deployments if d.is_production and d.sha == sha and d.deployed_at]
                rollbacks_to = [d for d in svc.deployments if d.description.startswith("Rollback")]
                assert all(d.is_failure for d in shipped if d not in rollbacks_to), (svc.name, sha)
    rolled = {profile: sum(values) / len(values) for profile, values in share.items()}
    assert rolled["elite"] >= 0.7 and 0.3 <= rolled["daily"] <= 0.7 and rolled["weekly"] <= 0.45, rolled
    median = {profile: pd.Series(values).median() for profile, values in delay.items()}
    assert median["elite"] < 60, median  # minutes: automated
    assert median["elite"] < median["daily"] < 6 * 60, median  # within hours
    assert median["daily"] < median["weekly"], median


def test_most_causeless_incidents_are_infrastructure(pooled_small_worlds, small_world):
    infra = app_causeless = app_caused = 0
    for world in pooled_small_worlds:
        for inc in world.incidents:
            if inc.created_at > world.end:
                continue
            if inc.service is None:
                assert inc.cause is None
                infra += 1
            elif inc.cause is None:
                app_causeless += 1
            else:
                app_caused += 1
    assert infra > 3 * app_causeless
    # a few percent of the incidents on application services have no deployment cause
    assert 0.01 <= app_causeless / (app_causeless + app_caused) <= 0.08
    # infrastructure PagerDuty services exist, and the configuration maps no service to them
    mapped = {
        pd_id
        for s in small_world.org_config("http://x/gh", "http://x/pd", "a", "b")["services"]
        for pd_id in s["pagerduty_services"]
    }
    infrastructure = {pd.pd_service_id for pd in small_world.pd_services if pd.service is None}
    assert len(infrastructure) >= 3 and not infrastructure & mapped
    assert mapped == {s.pd_service_id for s in small_world.services}
    on_infrastructure = [i for i in small_world.incidents if i.pd_service_id in infrastructure]
    assert on_infrastructure and all(i.service is None for i in on_infrastructure)


def test_tiny_has_enough_deployment_caused_incidents():
    world = generate_org(scale="tiny", seed=11, end=FIXED_END)
    caused = [i for i in world.incidents if i.cause is not None and i.created_at <= world.end]
    assert len(caused) >= 20
    assert {world.service(i.service).profile for i in caused} == set(PROFILES)


@pytest.mark.parametrize(
    ("scale", "seed", "end"), [("small", 7, FIXED_END), ("small", 7, END), ("tiny", 11, FIXED_END)]
)
def test_truth_holds_only_what_exists_at_the_end(scale, seed, end):
    world = generate_org(scale=scale, seed=seed, end=end)
    truth = world.truth_tables()
    for svc in world.services:
        opened = {sha for pr in svc.pulls if pr.opened_at <= end for sha in pr.commit_shas}
        on_main_by_end = {sha for sha in svc.main if svc.commits[sha].committed_at <= end}
        reachable: set[str] = set()
        stack = list(on_main_by_end)
        while stack:
            sha = stack.pop()
            if sha not in reachable:
                reachable.add(sha)
                stack.extend(svc.commits[sha].parents)
        own = set(truth["commits"][truth["commits"].service == svc.name].commit_sha)
        assert own <= reachable | opened, svc.name
        assert reachable <= own, svc.name
    assert (truth["changes"].merged_at <= end).all() and (truth["changes"].opened_at.dropna() <= end).all()
    assert (truth["incidents"].created_at <= end).all()
    assert (truth["incidents"].resolved_at.dropna() <= end).all()
    assert (truth["deployments"].deployed_at <= end).all()
    assert (truth["deployments"].recovered_at.dropna() <= end).all()


def test_fixes_forward_are_reverts_and_hotfixes_deployed_before_the_next_deployment(small_world, small_truth):
    """Reverts and hotfixes (docs/simulator.md): a branch off the bad deployment, deployed after its pages
    and before the service's next production deployment; the truth names the fix and counts it as rework."""
    deps = small_truth["deployments"].set_index("deployment_id")
    kinds = []
    for svc in small_world.services:
        production = sorted(
            (d for d in svc.deployments if d.is_production and d.deployed_at),
            key=lambda d: (d.deployed_at, d.deployment_id),
        )
        for position, dep in enumerate(production):
            fix = dep.fixed_by
            if fix is None:
                continue
            kinds.append(fix.fix_kind)
            assert svc.delivery == "github" and dep.is_failure and dep.rollback is None
            commit = svc.commits[fix.sha]
            assert commit.parents == [dep.sha] and commit.main_index is None
            pr = next(pr for pr in svc.pulls if pr.commit_shas == [fix.sha])
            assert pr.fix_kind == fix.fix_kind and pr.merged_at is None
            if fix.fix_kind == "revert":
                reverted = next(p for p in svc.pulls if p.merge_commit_sha == dep.sha)
                assert pr.title == f'Revert "{reverted.title}"'
                assert f"This reverts commit {dep.sha}." in commit.message
            else:
                assert pr.title.startswith("Hotfix: ") and pr.branch.startswith("hotfix/")
            pages = [i.created_at for i in small_world.incidents if i.cause is dep]
            assert max(pages) < fix.created_at
            assert dep.deployed_at <= commit.authored_at <= dep.deployed_at + timedelta(hours=20)
            # the fix is the next production deployment, and the one after it ships something else
            assert production[position + 1] is fix
            if position + 2 < len(production):
                assert production[position + 2].sha != dep.sha
            row = deps.loc[dep.source_id]
            assert fix.fix_kind in list(row.failure_signals) and "incident" in list(row.failure_signals)
            assert row.recovered_at <= fix.deployed_at
            assert deps.loc[fix.source_id, "is_rework"] and not deps.loc[fix.source_id, "is_failure"]
    assert {"revert", "hotfix"} <= set(kinds)


def test_rework_in_truth_is_rollbacks_and_fixes(small_world, small_truth):
    deps = small_truth["deployments"]
    rework = set(deps.loc[deps.is_rework, "deployment_id"])
    expected = {
        d.source_id
        for svc in small_world.services
        for d in svc.deployments
        if d.is_production and d.deployed_at and (d.description.startswith("Rollback") or d.fix_kind)
    }
    assert rework == expected and len(rework) > 5
    assert deps.loc[~deps.is_failure, "failure_signals"].map(len).eq(0).all()


def test_promotions_truth_agrees_with_the_commits_truth_and_has_every_case(tiny_world, tmp_path):
    """Each promoted commit's production deployment is its first production deployment in `commits`; the
    world has commits promoted staging → production, commits that reached production before staging, and
    commits that waited overnight in staging."""
    tiny_world.write_truth(tmp_path)
    promotions = pd.read_parquet(tmp_path / "promotions.parquet")
    commits = pd.read_parquet(tmp_path / "commits.parquet").set_index(["service", "commit_sha"])
    deployments = pd.read_parquet(tmp_path / "deployments.parquet").set_index("deployment_id")
    first = commits.loc[
        list(zip(promotions["service"], promotions["commit_sha"], strict=True)), "deployment_id"
    ]
    assert promotions["downstream_deployment_id"].fillna("-").tolist() == first.fillna("-").tolist()
    upstream_environments = deployments.loc[promotions["upstream_deployment_id"], "environment"]
    assert not upstream_environments.str.match("^prod").any()
    up, down = promotions["reached_upstream_at"], promotions["reached_downstream_at"]
    assert (down >= up).sum() > 50
    assert (down < up).sum() > 0
    assert (down.dt.date > up.dt.date).sum() > 0
