"""The large simulated org: its sizes as specified, and a one-week slice of it generated through the same
code path (the two-year org itself lives in the benchmarks, never in the test suite)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import yaml

from simulator import generate_org
from simulator.world import SCALES, scale_teams

END = datetime(2026, 11, 23, tzinfo=UTC)


def test_large_spec_has_the_sizes_of_a_2000_engineer_org():
    teams = scale_teams("large", 7)
    services = [svc for team in teams for svc in team[2]]
    assert SCALES["large"]["weeks"] == 104
    assert len(teams) == 60
    assert len({meta["department"] for *_, meta in teams}) == 8
    assert sum(meta["engineers"] for *_, meta in teams) == 2000
    assert min(meta["engineers"] for *_, meta in teams) >= 8
    assert len(services) == 400 == len({svc[0] for svc in services})
    styles = Counter(svc[3] for svc in services)
    assert "git" not in styles  # 400 local clones would be slow to export
    assert styles["github"] > 0.6 * len(services)
    assert {"actions", "gitlab", "jenkins", "tags"} <= set(styles)
    owning_several = [team for team in teams if len(team[2]) > 1]
    assert 0.5 * len(teams) <= len(owning_several) < len(teams)
    assert max(len(team[2]) for team in teams) >= 10
    assert Counter(team[1] for team in teams) == Counter(SCALES["large"]["generated"]["teams"])


def test_large_spec_is_drawn_from_the_seed():
    assert scale_teams("large", 7) == scale_teams("large", 7)
    assert scale_teams("large", 7) != scale_teams("large", 8)
    assert scale_teams("small", 7) is SCALES["small"]["teams"]


@pytest.fixture(scope="module")
def week():
    world = generate_org("large", seed=3, end=END, weeks=1)
    return world, world.truth_tables()


def test_a_week_of_the_large_org_has_its_sizes(week):
    world, _ = week
    assert world.start == END - timedelta(weeks=1)
    assert len(world.developers) == 2000 and len({d.user_id for d in world.developers.values()}) == 2000
    assert len(world.teams) == 60 and len({t.department for t in world.teams}) == 8
    assert len(world.services) == 400
    prs = [pr for svc in world.services for pr in svc.pulls]
    assert 1000 * 5 <= len(prs) <= 2000 * 5  # five working days
    production = [
        d for svc in world.services for d in svc.deployments if d.is_production and not d.is_baseline
    ]
    assert 100 * 5 <= len(production) <= 220 * 5


def test_large_org_activity_is_per_engineer(week):
    world, _ = week
    team_of = {svc.name: svc.team for svc in world.services}
    members = {svc.team: {d.login for d in svc.developers} for svc in world.services}
    authors = Counter()
    for svc in world.services:
        for pr in svc.pulls:
            assert pr.author.login in members[team_of[svc.name]]
            authors[pr.author.login] += 1
    # about one pull request every other working day each: most engineers open some in a week, and the
    # paces differ (log-normal), so the busiest open several times the median
    assert len(authors) >= 0.8 * len(world.developers)
    counts = sorted(authors.values())
    assert counts[-1] >= 3 * counts[len(counts) // 2]


def test_large_org_truth_holds_its_invariants(week):
    world, truth = week
    deployments = truth["deployments"]
    served = [d for svc in world.services for d in svc.deployments if d.deployed_at and d.source_id]
    assert len(deployments) == len(served) == deployments.deployment_id.nunique()
    assert {"github", "actions", "gitlab", "jenkins", "tags"} == {svc.delivery for svc in world.services}
    by_id = deployments.set_index("deployment_id")
    changes = truth["changes"].dropna(subset=["deployment_id"])
    assert len(changes) > 1000
    shipped = by_id.loc[changes.deployment_id]
    assert (shipped.service.to_numpy() == changes.service.to_numpy()).all()
    assert (shipped.deployed_at.to_numpy() >= changes.merged_at.to_numpy()).all()
    production = {svc.name: svc.production_env for svc in world.services}
    assert (shipped.environment.to_numpy() == changes.service.map(production).to_numpy()).all()
    caused = truth["incidents"].dropna(subset=["deployment_id"])
    assert len(caused) > 20
    assert by_id.loc[caused.deployment_id, "is_failure"].all()
    failed = deployments[deployments.is_failure]
    assert 0.05 <= len(failed) / len(deployments[deployments.environment.isin(production.values())]) <= 0.3
    assert (truth["commits"].authored_at <= END).all()
    assert pd.Series([d.rollback is not None for svc in world.services for d in svc.deployments]).any()


def test_large_org_config_names_departments_and_is_accepted(week):
    from ingestion.config import parse_config

    world, _ = week
    config = world.org_config("http://127.0.0.1:1/github", "http://127.0.0.1:1/pagerduty", "gh", "pd")
    parsed = parse_config(yaml.safe_dump(config))
    assert len(parsed.teams) == 60 and len(parsed.services) == 400
    departments = {team.department for team in world.teams}
    assert {t["description"] for t in parsed.teams} == {f"{d} department" for d in departments}
    assert {"gitlab", "jenkins"} <= set(parsed.sources)
