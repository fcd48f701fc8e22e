"""The simulated services whose code lives in local clones (`git` delivery), written as real git repositories
with `git fast-import`: checked with plain `git` against the simulator's world objects."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from simulator import generate_org
from simulator.git_export import export_repositories, export_service
from simulator.world import SCALES

END = datetime(2026, 11, 2, tzinfo=UTC)


def git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    world = generate_org("mixed", seed=5, end=END)
    paths = export_repositories(world, tmp_path_factory.mktemp("repos"))
    return world, paths


def _services(world):
    services = [svc for svc in world.services if svc.delivery == "git"]
    assert len(services) == 2
    return services


def _visible(svc, end):
    """What a clone holds at `end`, from the world's records: main's history (every commit reachable from
    main's tip) and the commits of pull requests opened by then."""
    on_main: set[str] = set()
    stack = [svc.main[-1]]
    while stack:
        sha = stack.pop()
        if sha not in on_main:
            on_main.add(sha)
            stack.extend(svc.commits[sha].parents)
    on_prs = {
        sha
        for pr in svc.pulls
        if pr.opened_at <= end
        for sha in pr.commit_shas
        if svc.commits[sha].committed_at <= end
    }
    return on_main | on_prs


def test_the_team_has_a_merge_heavy_and_a_squash_heavy_repository(exported):
    world, _ = exported
    shares = {}
    for svc in _services(world):
        merged = [pr for pr in svc.pulls if pr.merge_method is not None]
        assert len(merged) >= 20
        shares[svc.name] = sum(pr.merge_method == "squash" for pr in merged) / len(merged)
    assert shares["metrics-api"] < 0.35 and shares["etl-runner"] > 0.65, shares


def test_every_commit_is_in_git_once(exported):
    world, paths = exported
    for svc in _services(world):
        path = paths[svc.name]
        mapping = world.git_shas[svc.name]
        expected = _visible(svc, world.end)
        assert set(mapping) == expected
        assert len(set(mapping.values())) == len(mapping)
        assert int(git(path, "rev-list", "--count", "--all")) == len(expected)
        assert int(git(path, "rev-list", "--count", "--first-parent", "main")) == len(svc.main)
        assert git(path, "rev-parse", "main").strip() == mapping[svc.main[-1]]
        assert git(path, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
        assert git(path, "status", "--porcelain") == ""  # a clone with main checked out
        assert git(path, "fsck", "--strict", "--no-dangling") == ""


def test_parents_authors_committers_and_dates(exported):
    world, paths = exported
    for svc in _services(world):
        mapping = world.git_shas[svc.name]
        back = {sha: sim for sim, sha in mapping.items()}
        fmt = "%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%cn%x1f%ce%x1f%ct%x1f%B%x00"
        records = git(paths[svc.name], "log", "--all", f"--format={fmt}").split("\x00")
        seen = 0
        for record in records:
            if not record.strip():
                continue
            sha, parents, an, ae, at, cn, ce, ct, body = record.lstrip("\n").split("\x1f")
            commit = svc.commits[back[sha]]
            assert parents.split() == [mapping[p] for p in commit.parents]
            assert (an, ae) == (commit.author.name, commit.author.email)
            committer = commit.committer
            assert (cn, ce) == (
                (committer.name, committer.email) if committer else ("GitHub", "noreply@github.com")
            )
            assert int(at) == int(commit.authored_at.timestamp())
            assert int(ct) == int(commit.committed_at.timestamp())
            assert body.rstrip("\n") == commit.message
            seen += 1
        assert seen == len(mapping)


def test_merge_and_squash_commits_keep_their_shape(exported):
    world, paths = exported
    for svc in _services(world):
        mapping = world.git_shas[svc.name]
        path = paths[svc.name]
        merged = [pr for pr in svc.pulls if pr.merge_commit_sha is not None]
        for pr in merged:
            position = svc.main.index(pr.merge_commit_sha)
            line = git(path, "rev-list", "--parents", "-n", "1", mapping[pr.merge_commit_sha]).split()
            subject = git(path, "log", "-1", "--format=%s", mapping[pr.merge_commit_sha]).strip()
            if pr.merge_method == "merge":
                assert line[1:] == [mapping[svc.main[position - 1]], mapping[pr.commit_shas[-1]]]
                assert subject.startswith(f"Merge pull request #{pr.number} from ")
            else:
                assert line[1:] == [mapping[svc.main[position - 1]]]
                assert subject == f"{pr.title} (#{pr.number})"
            # main's tree after the merge holds the pull request's changes
            changed = git(path, "diff", "--name-only", f"{line[0]}^1", line[0]).split()
            assert len(changed) == len(pr.commit_shas)


def test_pull_request_heads(exported):
    world, paths = exported
    for svc in _services(world):
        mapping = world.git_shas[svc.name]
        refs = git(paths[svc.name], "for-each-ref", "refs/pull", "--format=%(refname) %(objectname)")
        heads = dict(line.split() for line in refs.splitlines())
        expected = {}
        for pr in svc.pulls:
            visible = [s for s in pr.commit_shas if svc.commits[s].committed_at <= world.end]
            if pr.opened_at <= world.end and visible:
                expected[f"refs/pull/{pr.number}/head"] = mapping[visible[-1]]
        assert heads == expected
        assert len(heads) >= 30


def test_release_tags_are_annotated_at_the_deployed_commit(exported):
    world, paths = exported
    for svc in _services(world):
        mapping = world.git_shas[svc.name]
        fmt = "%(refname:short) %(objecttype) %(*objectname) %(taggerdate:unix) %(taggername)"
        refs = git(paths[svc.name], "for-each-ref", "refs/tags", f"--format={fmt}")
        tags = {name: rest for name, *rest in (line.split(" ", 4) for line in refs.splitlines())}
        shipped = [
            d
            for d in svc.deployments
            if d.is_production and d.deployed_at is not None and d.deployed_at <= world.end and d.tag
        ]
        assert len(shipped) >= 10
        assert set(tags) == {d.tag for d in shipped}
        for dep in shipped:
            kind, target, tagged_at, tagger = tags[dep.tag]
            assert kind == "tag"
            assert target == mapping[dep.sha]
            assert int(tagged_at) == int(dep.deployed_at.timestamp())
            assert tagger == "acme-deployer[bot]"


def test_export_is_deterministic_whatever_the_git_configuration(exported, tmp_path, monkeypatch):
    world, paths = exported
    svc = _services(world)[0]
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Someone Else\n\temail = else@example.com\n"
        "[init]\n\tdefaultBranch = trunk\n[i18n]\n\tcommitEncoding = ISO-8859-1\n"
        "[tag]\n\tgpgSign = true\n[commit]\n\tgpgSign = true\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Someone Else")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1700000000 +0100")
    again = export_service(svc, tmp_path / "again", world.end)
    assert again == world.git_shas[svc.name]
    refs = "--format=%(refname) %(objectname)"
    assert git(tmp_path / "again", "for-each-ref", refs) == git(paths[svc.name], "for-each-ref", refs)
    # and again over an existing export
    assert export_service(svc, tmp_path / "again", world.end) == again
    fresh = generate_org("mixed", seed=5, end=END)
    assert export_service(fresh.service(svc.name), tmp_path / "fresh", fresh.end) == again


def test_truth_names_git_shas_for_the_git_services(exported, tmp_path):
    world, paths = exported
    folder = tmp_path / "truth"
    world.write_truth(folder)
    shas = pd.read_parquet(folder / "git_shas.parquet")
    for svc in _services(world):
        mapping = world.git_shas[svc.name]
        mine = shas[shas["service"] == svc.name]
        assert dict(zip(mine["simulator_sha"], mine["git_sha"], strict=True)) == mapping
        in_git = set(git(paths[svc.name], "rev-list", "--all").split())
        commits = pd.read_parquet(folder / "commits.parquet")
        assert set(commits.loc[commits["service"] == svc.name, "commit_sha"]) == in_git
        deployments = pd.read_parquet(folder / "deployments.parquet")
        deployments = deployments[deployments["service"] == svc.name]
        fmt = "%(refname:short) %(*objectname)"
        tags = dict(
            line.split()
            for line in git(paths[svc.name], "for-each-ref", "refs/tags", f"--format={fmt}").splitlines()
        )
        assert len(deployments) == len(tags)
        for row in deployments.itertuples():
            repository, tag = row.deployment_id.split("@")
            assert repository == svc.name
            assert row.commit_sha == tags[tag]


@pytest.mark.parametrize(("seed", "team"), [(5, "analytics"), (7, "analytics"), (5, "marketplace")])
def test_a_later_team_leaves_every_earlier_team_as_it_was(seed, team, monkeypatch):
    """Services have their own random streams: the mixed org without a team that came later (the git team,
    then the monorepo's) and the teams after it (the world as it was before that team existed) has exactly
    the same truth for every earlier team."""
    world = generate_org("mixed", seed=seed, end=END)
    spec = dict(SCALES["mixed"])
    names = [entry[0] for entry in spec["teams"]]
    later = set(names[names.index(team) :])
    later_services = {
        name
        for svc in world.services
        if svc.team in later
        for name in [svc.name, *(part.name for part in svc.path_services)]
    }
    assert later_services
    if team == "analytics":
        assert {svc.name for svc in world.services if svc.delivery == "git"} <= later_services
    spec["teams"] = [entry for entry in spec["teams"] if entry[0] not in later]
    monkeypatch.setitem(SCALES, "mixed", spec)
    without = generate_org("mixed", seed=seed, end=END)
    assert {svc.name for svc in without.services} == {svc.name for svc in world.services} - later_services
    with_team, before = world.truth_tables(), without.truth_tables()

    def served(w):
        """What the sources serve of the other teams beyond the truth: numbers and ids."""
        incidents = [
            (i.incident_id, i.number, i.responder.login)
            for i in w.incidents
            if i.service not in later_services
        ]
        services = [
            (
                s.name,
                s.repo_id,
                s.pd_service_id,
                [(p.pr_id, [r.review_id for r in p.reviews]) for p in s.pulls],
                [(d.deployment_id, d.source_id, [st.status_id for st in d.statuses]) for d in s.deployments],
                [(r.run_id, r.job_id, r.run_number) for r in s.runs],
            )
            for s in w.services
            if s.name not in later_services
        ]
        return sorted(incidents), services

    assert served(world) == served(without)
    for name, frame in before.items():
        kept = with_team[name][~with_team[name]["service"].isin(later_services)].reset_index(drop=True)
        if name == "change_services":  # monorepos only, and none came earlier
            assert kept.empty and frame.empty
            continue
        pd.testing.assert_frame_equal(kept, frame.reset_index(drop=True), check_exact=True)
        assert len(frame) > 0
