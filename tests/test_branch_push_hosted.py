"""branch_push deploy rules on GitHub- and GitLab-hosted repositories (not only local clones).

End to end: a small org against the emulator, one GitHub-hosted and one GitLab-hosted service that deploy on
every push to main; the simulator's world is the oracle (main's first-parent chain and committer times).
Then the sources' branch listings on a stub: deletions, conditional re-polls, the commits of deploy
branches, GitHub's recorded branch listing, and the pure helpers that decide what is loaded.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from orgs import FIXED_END
from test_ingestion_stub import Stub

from ingestion.config import branch_push_patterns, parse_config
from ingestion.github import branch_rows, branches_to_load, github_source
from ingestion.gitlab import gitlab_source
from ingestion.pipelines import make_pipeline

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GITHUB3 = SHARED / "data" / "recorded" / "github3py-cassettes.tar.gz"
FAST = {"max_retries": 1, "max_retry_wait_seconds": 0.1, "backoff_factor": 0.01}
RULE = [{"environment": "production", "branch_push": "^main$"}]


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def hosted_org(tmp_path_factory):
    """The `mixed` world narrowed to one GitHub-hosted and one GitLab-hosted service, both deploying on
    every push to main, refreshed once through the whole stack."""
    from orchestration.cli import DEMO_GITHUB_TOKEN, DEMO_PAGERDUTY_TOKEN, run_refresh
    from orchestration.workdir import Workdir
    from simulator import Emulator, generate_org

    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG")}
    world = generate_org(scale="mixed", seed=5, end=FIXED_END)
    github_svc = next(s for s in world.services if s.delivery == "github")
    gitlab_svc = next(s for s in world.services if s.delivery == "gitlab")
    emulator = Emulator(
        world, host="127.0.0.1", port=0, github_token=DEMO_GITHUB_TOKEN, pagerduty_token=DEMO_PAGERDUTY_TOKEN
    ).start()
    try:
        workdir = Workdir.at(tmp_path_factory.mktemp("branch-push-hosted")).ensure()
        org = world.org_config(
            f"{emulator.url}/github", f"{emulator.url}/pagerduty", DEMO_GITHUB_TOKEN, DEMO_PAGERDUTY_TOKEN
        )
        sources = org["sources"]
        org["sources"] = {"github": sources["github"], "gitlab": sources["gitlab"]}
        org["sources"]["github"]["repositories"] = [github_svc.repository]
        org["sources"]["gitlab"].pop("group", None)
        org["sources"]["gitlab"]["projects"] = [gitlab_svc.repository]
        keep = {github_svc.name, gitlab_svc.name}
        org["services"] = [
            {"name": s["name"], "team": s["team"], "repository": s["repository"], "deployments": RULE}
            for s in org["services"]
            if s["name"] in keep
        ]
        org["teams"] = [t for t in org["teams"] if t["name"] in {s["team"] for s in org["services"]}]
        workdir.config.write_text(yaml.safe_dump(org, sort_keys=False))
        run_refresh(workdir.config, workdir)
        start = datetime.fromisoformat(org["sources"]["github"]["start_date"]).replace(tzinfo=UTC)
        yield world, workdir, [github_svc, gitlab_svc], start
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _loaded_main_chain(svc, start: datetime, end: datetime) -> list:
    """Main's first-parent chain as loaded, oldest first: from main's tip at `end` back to the first commit
    the sources did not load (committed before the start date: `since` filters on the committer date)."""
    chain = []
    for sha in reversed(svc.main):
        commit = svc.commits[sha]
        if commit.committed_at > end:
            continue
        if commit.committed_at < start:
            break
        chain.append(commit)
    return list(reversed(chain))


def test_production_deployments_are_main_first_parent_chain(hosted_org):
    world, workdir, services, start = hosted_org
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        rows = con.execute(
            "select service, source_system, source_deployment_id, status, epoch(deployed_at)::bigint "
            "from marts.fct_deployments where is_production"
        ).fetchall()
    for svc in services:
        chain = _loaded_main_chain(svc, start, world.end)
        assert len(chain) > 10, svc.name
        assert len(chain) < len(svc.main), f"{svc.name}: the horizon should cut main's oldest commits"
        assert any(len(c.parents) > 1 for c in chain), f"{svc.name}: no merge commit on main"
        expected = {
            ("git_push", f"{svc.repository}@{c.sha}", "success", int(c.committed_at.timestamp()))
            for c in chain
        }
        served = {(system, source_id, status, at) for service, system, source_id, status, at in rows
                  if service == svc.name}  # fmt: skip
        assert served == expected, svc.name
        # commits of merged pull requests are not on main's first-parent chain: none deploys on its own
        side = {sha for pr in svc.pulls for sha in pr.commit_shas} - set(svc.main)
        assert side and not {source_id.split("@")[1] for _, source_id, _, _ in served} & side


def test_each_main_commit_ships_in_the_deployment_of_itself(hosted_org):
    world, workdir, services, start = hosted_org
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        shipped = con.execute(
            "select fct_commits.service, fct_commits.commit_sha, fct_deployments.source_deployment_id "
            "from marts.fct_commits left join marts.fct_deployments using (deployment_id)"
        ).fetchall()
    for svc in services:
        by_sha = {sha: source_id for service, sha, source_id in shipped if service == svc.name}
        chain = _loaded_main_chain(svc, start, world.end)
        assert {c.sha: by_sha.get(c.sha) for c in chain} == {
            c.sha: f"{svc.repository}@{c.sha}" for c in chain
        }


def test_branch_tips_are_loaded_from_both_hosts(hosted_org):
    world, workdir, services, _ = hosted_org
    github_svc, gitlab_svc = services
    with duckdb.connect(str(workdir.build_db), read_only=True) as con:
        github = dict(
            con.execute(
                "select branch, commit_sha from staging.stg_github__branches where repository = ?",
                [github_svc.repository],
            ).fetchall()
        )
        gitlab = dict(
            con.execute(
                "select branch, commit_sha from staging.stg_gitlab__branches where project = ?",
                [gitlab_svc.repository],
            ).fetchall()
        )
    for svc, tips in ((github_svc, github), (gitlab_svc, gitlab)):
        main_tip = [s for s in svc.main if svc.commits[s].committed_at <= world.end][-1]
        assert tips["main"] == main_tip, svc.name
        open_branches = {
            pr.branch
            for pr in svc.pulls
            if pr.opened_at <= world.end
            and (pr.merged_at is None or pr.merged_at > world.end)
            and (pr.closed_at is None or pr.closed_at > world.end)
        }
        assert set(tips) - {"main"} <= open_branches, svc.name


# ------------------------------------------------------------------------------------------ pure helpers
def test_branches_to_load_are_the_matching_ones_besides_the_default():
    names = ["main", "release/1.2", "Release/2.0", "feature/x", "hotfix-release"]
    assert branches_to_load(names, "main", ["^release/"]) == ["Release/2.0", "release/1.2"]
    assert branches_to_load(names, "main", ["^main$"]) == []  # the default branch is loaded anyway
    assert branches_to_load(names, "develop", ["^main$", "x$"]) == ["feature/x", "main"]
    assert branches_to_load(names, "main", []) == []


def test_branch_rows_carry_tips_and_delete_branches_gone():
    current = {"main": {"name": "main", "commit": {"sha": "a" * 40}, "protected": True}}
    rows = branch_rows("acme/api", current, {"main": "b" * 40, "old": "c" * 40})
    assert rows == [
        {
            "repository": "acme/api",
            "name": "main",
            "commit_sha": "a" * 40,
            "protected": True,
            "is_deleted": False,
        },
        {"repository": "acme/api", "name": "old", "is_deleted": True},
    ]


def test_branch_push_patterns_by_repository():
    config = parse_config(
        "sources:\n  github:\n    base_url: https://api.github.com\n    organization: acme\n    token: t\n"
        "teams:\n  - name: core\n"
        "services:\n"
        "  - {name: api, team: core, repository: acme/api, deployments: [\n"
        "      {environment: production, branch_push: '^main$'},\n"
        "      {environment: staging, branch_push: '^release/'},\n"
        "      {environment: production, branch_push: '^main$'}]}\n"
        "  - {name: worker, team: core, repository: acme/api, deployments: [\n"
        "      {environment: production, branch_push: '^prod$'}]}\n"
        "  - {name: web, team: core, repository: acme/web, deployments: [\n"
        "      {environment: production, tag: '^v'}]}\n"
        "environments:\n  - {name: staging, match: '^stag'}\n"
        "  - {name: production, match: '^prod', production: true}\n"
    )
    assert branch_push_patterns(config) == {"acme/api": ["^main$", "^release/", "^prod$"]}


# ------------------------------------------------------------------------------------------ GitHub stub
REPO = "acme/api"
NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _commit(sha: str, parents: list[str], days_ago: float) -> dict:
    when = _iso(NOW - timedelta(days=days_ago))
    person = {"name": "Ada", "email": "ada@example.com", "date": when}
    return {
        "sha": sha,
        "parents": [{"sha": p} for p in parents],
        "commit": {"author": person, "committer": person, "message": f"commit {sha[:7]}"},
    }


class Branches:
    """GitHub's branch listing with ETags: 304 to a matching If-None-Match. `tips` is changed by tests."""

    def __init__(self, stub: Stub, tips: dict[str, str]) -> None:
        self.stub, self.tips = stub, tips

    def __call__(self, query: dict[str, str]):
        body = [
            {"name": n, "commit": {"sha": s, "url": f"https://x/{s}"}, "protected": n == "main"}
            for n, s in sorted(self.tips.items())
        ]
        etag = f'W/"{abs(hash(str(body)))}"'
        if self.stub.requests[-1][2].get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"ETag": etag}, body


def _github_stub(stub: Stub, tips: dict[str, str], commits_by_ref: dict[str, list[dict]]) -> Branches:
    stub.add(f"/repos/{REPO}", {"id": 1, "name": "api", "full_name": REPO, "default_branch": "main"})
    for empty in ("pulls", "deployments", "releases"):
        stub.add(f"/repos/{REPO}/{empty}", [])
    stub.add(f"/repos/{REPO}/git/matching-refs/tags", [])
    stub.handlers[f"/repos/{REPO}/commits"] = lambda q: (
        200,
        {},
        commits_by_ref.get(q.get("sha", "main"), []),
    )
    branches = Branches(stub, tips)
    stub.handlers[f"/repos/{REPO}/branches"] = branches
    return branches


def _load_github(stub: Stub, root: Path, deploy_branches: dict | None) -> None:
    source = github_source(
        base_url=stub.url,
        organization="acme",
        token="t",
        repositories=[REPO],
        deploy_branches=deploy_branches,
        **FAST,
    )
    make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)


def _rows(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "build.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_github_branches_merge_repoll_conditionally_and_delete_what_is_gone(tmp_path):
    main, release, feature = ("1" * 40, []), ("2" * 40, ["1" * 40]), ("3" * 40, ["1" * 40])
    commits = {
        "main": [_commit(*main, 3)],
        "release/1": [_commit(*release, 2), _commit(*main, 3)],
    }
    with Stub() as stub:
        branches = _github_stub(
            stub, {"main": main[0], "release/1": release[0], "feature": feature[0]}, commits
        )
        _load_github(stub, tmp_path, {"ACME/API": ["^release/"]})
        assert _rows(tmp_path, "select name, commit_sha from raw_github.branches order by name") == [
            ("feature", feature[0]),
            ("main", main[0]),
            ("release/1", release[0]),
        ]
        # the default branch's commits, and the release branch's (asked with sha=): each commit once
        assert sorted(_rows(tmp_path, "select sha from raw_github.commits")) == [(main[0],), (release[0],)]
        asked = [p for p in stub.paths() if "/commits" in p]
        assert len(asked) == 2 and sum("sha=release%2F1" in p for p in asked) == 1
        # only one branch listing per run, though both the branches and the commits resources use it
        assert sum("/branches" in p for p in stub.paths()) == 1

        before = len(stub.requests)
        _load_github(stub, tmp_path, {"ACME/API": ["^release/"]})
        second = stub.requests[before:]
        conditional = [h.get("If-None-Match") for _, p, h in second if "/branches" in p]
        assert len(conditional) == 1 and conditional[0]  # asked once, with the last run's ETag: a 304
        assert any("sha=release%2F1" in p for _, p, _ in second)  # a 304 still knows the branch

        del branches.tips["feature"]
        _load_github(stub, tmp_path, {"ACME/API": ["^release/"]})
        assert _rows(tmp_path, "select name from raw_github.branches order by name") == [
            ("main",),
            ("release/1",),
        ]


def test_github_without_rules_reads_only_the_default_branch_commits(tmp_path):
    with Stub() as stub:
        _github_stub(stub, {"main": "1" * 40, "release/1": "2" * 40}, {"main": [_commit("1" * 40, [], 1)]})
        _load_github(stub, tmp_path, None)
        assert not [p for p in stub.paths() if "/commits" in p and "sha=" in p]
        assert len(_rows(tmp_path, "select * from raw_github.branches")) == 2


def test_github_branches_absent_on_the_server_load_nothing_and_do_not_fail(tmp_path):
    with Stub() as stub:
        _github_stub(stub, {}, {"main": [_commit("1" * 40, [], 1)]})
        del stub.handlers[f"/repos/{REPO}/branches"]  # 404
        _load_github(stub, tmp_path, {REPO: ["^release/"]})
        assert _rows(tmp_path, "select sha from raw_github.commits") == [("1" * 40,)]


# ------------------------------------------------------------------------------------------ GitLab stub
def test_gitlab_branches_load_and_delete_what_is_gone(tmp_path):
    api = "/api/v4"
    project = {"id": 7, "path_with_namespace": "shop/api", "name": "api", "default_branch": "main"}
    tips = {"main": "a" * 40, "feature/x": "b" * 40}

    def listing(query):
        return 200, {}, [
            {"name": n, "default": n == "main", "protected": n == "main", "merged": False,
             "commit": {"id": s, "committed_date": "2026-11-01T10:00:00.000Z"}}
            for n, s in sorted(tips.items())
        ]  # fmt: skip

    with Stub() as stub:
        stub.add(f"{api}/projects/shop%2Fapi", project)
        stub.handlers[f"{api}/projects/7/repository/branches"] = listing

        def run() -> list[tuple]:
            source = gitlab_source(
                base_url=stub.url, token="t", projects=["shop/api"], **FAST
            ).with_resources("projects", "branches")
            make_pipeline("gitlab", tmp_path / "build.duckdb", tmp_path / "dlt").run(source)
            with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
                return con.execute(
                    "select project, name, commit_sha, is_default from raw_gitlab.branches order by name"
                ).fetchall()

        assert run() == [("shop/api", "feature/x", "b" * 40, False), ("shop/api", "main", "a" * 40, True)]
        del tips["feature/x"]
        tips["main"] = "c" * 40
        assert run() == [("shop/api", "main", "c" * 40, True)]


# ------------------------------------------------------------------------------------------ recorded
def test_recorded_github_branch_listing_loads_as_served(tmp_path):
    """github3.py's recorded answer of api.github.com to GET /repos/{o}/{r}/branches (an older API version,
    without `protected`), served by the stub: every branch loads with its tip."""
    if not GITHUB3.exists():
        pytest.skip(f"recorded GitHub payloads not available ({GITHUB3.name} missing from the shared data)")
    from test_github_complete_recorded import G3, _cassette, _members

    files = _members(GITHUB3, {"Repository_branches.json"})
    repo = _cassette(files, "Repository_branches.json", f"/repos/{G3}")
    listed = _cassette(files, "Repository_branches.json", "/branches")
    assert listed and all("commit" in b for b in listed)
    with Stub() as stub:
        stub.add(f"/repos/{G3}", repo)
        stub.add(f"/repos/{G3}/branches", listed)
        source = github_source(
            base_url=stub.url, organization="sigmavirus24", token="t", repositories=[G3], **FAST
        ).with_resources("repositories", "branches")
        make_pipeline("github", tmp_path / "build.duckdb", tmp_path / "dlt").run(source)
    loaded = _rows(tmp_path, "select repository, name, commit_sha from raw_github.branches order by name")
    assert loaded == sorted((G3, b["name"], b["commit"]["sha"]) for b in listed)
