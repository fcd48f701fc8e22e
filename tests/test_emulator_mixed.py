"""The `mixed` org's emulated GitLab, Jenkins and GitHub extras: auth, pagination, filters, "as of" views,
and truth ids in each source's own form. Expectations come from the world's records or fixed facts of the
APIs, never from the emulator's answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from simulator import Emulator, generate_org

END = datetime(2026, 11, 2, tzinfo=UTC)
GL = {"PRIVATE-TOKEN": "gl-demo-token"}
GH = {"Authorization": "Bearer gh-demo-token"}
JK = ("deploybot", "jenkins-demo-token")


@pytest.fixture(scope="module")
def world():
    return generate_org("mixed", seed=11, end=END)


@pytest.fixture()
def emu(world):
    emulator = Emulator(world).start()
    yield emulator
    emulator.stop()


def _gitlab_service(world, name="storefront-web"):
    svc = world.service(name)
    assert svc.delivery == "gitlab"
    return svc


def test_every_delivery_style_is_present_and_generation_is_deterministic(world):
    styles = {svc.delivery for svc in world.services}
    assert styles == {"github", "actions", "jenkins", "tags", "gitlab", "git"}
    again = generate_org("mixed", seed=11, end=END)
    assert [d.source_id for s in again.services for d in s.deployments] == [
        d.source_id for s in world.services for d in s.deployments
    ]
    assert world.truth_tables()["deployments"].equals(again.truth_tables()["deployments"])


def svc_parts(svc) -> list[str]:
    return [part.name for part in svc.path_services]


def test_truth_deployment_ids_take_each_source_form(world):
    deployments = world.truth_tables()["deployments"]
    # a monorepo's path services ship as its repository does
    style = {name: svc.delivery for svc in world.services for name in [svc.name, *svc_parts(svc)]}
    forms = {
        "github": r"\d+",
        "gitlab": r"\d+",
        "actions": r"\d+",
        "jenkins": r"deploy-[a-z-]+-(staging|production|prod)#\d+",
        "tags": r"acme/[a-z-]+@v\d+\.\d+\.\d+",
        "git": r"[a-z-]+@v\d+\.\d+\.\d+",  # the local clone's name, as org.yml names it
    }
    for row in deployments.itertuples():
        assert re.fullmatch(forms[style[row.service]], row.deployment_id), row
        if style[row.service] == "jenkins":
            assert row.deployment_id.startswith(f"deploy-{row.service}-{row.environment}#")
    tagged = deployments[deployments["service"].map(style) == "tags"]
    assert set(tagged["environment"]) == {"production"}  # no source serves their staging rollouts
    assert deployments["deployment_id"].is_unique
    incidents = world.truth_tables()["incidents"]
    caused = set(incidents["deployment_id"].dropna())
    assert caused and caused <= set(deployments["deployment_id"])
    for table in ("changes", "commits"):
        assert set(world.truth_tables()[table]["deployment_id"].dropna()) <= set(deployments["deployment_id"])


def test_other_scales_are_unchanged_github_only(emu):
    tiny = generate_org("tiny", seed=11, end=END)
    assert {svc.delivery for svc in tiny.services} == {"github"}
    assert all(str(d.deployment_id) == d.source_id for s in tiny.services for d in s.deployments)
    config = tiny.org_config("http://x/github", "http://x/pagerduty", "a", "b")
    assert set(config["sources"]) == {"github", "pagerduty"}
    assert not any("deployments" in svc for svc in config["services"])
    other = Emulator(tiny).start()
    try:
        r = requests.get(f"{other.url}/github/repos/acme/auth-service/actions/runs", headers=GH, timeout=10)
        assert r.status_code == 404
    finally:
        other.stop()


def test_gitlab_auth(emu):
    url = f"{emu.url}/gitlab/api/v4/projects"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"PRIVATE-TOKEN": "nope"}, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer gl-demo-token"}, timeout=10).status_code == 200


def test_gitlab_project_by_id_and_encoded_path(emu, world):
    svc = _gitlab_service(world)
    by_id = requests.get(f"{emu.url}/gitlab/api/v4/projects/{svc.gitlab_id}", headers=GL, timeout=10).json()
    by_path = requests.get(f"{emu.url}/gitlab/api/v4/projects/acme%2Fstorefront-web", headers=GL, timeout=10)
    assert by_path.status_code == 200 and by_path.json() == by_id
    assert by_id["path_with_namespace"] == "acme/storefront-web"
    missing = requests.get(f"{emu.url}/gitlab/api/v4/projects/acme%2Fnope", headers=GL, timeout=10)
    assert missing.status_code == 404
    # GitLab-hosted code is not on GitHub
    assert (
        requests.get(f"{emu.url}/github/repos/acme/storefront-web", headers=GH, timeout=10).status_code == 404
    )
    repos = requests.get(f"{emu.url}/github/orgs/acme/repos?per_page=100", headers=GH, timeout=10).json()
    # neither is code that lives in local clones only
    assert {r["name"] for r in repos} == {
        s.name for s in world.services if s.delivery not in ("gitlab", "git")
    }


def test_gitlab_offset_pagination_headers(emu, world):
    svc = _gitlab_service(world)
    url = f"{emu.url}/gitlab/api/v4/projects/{svc.gitlab_id}/merge_requests"
    total = sum(1 for pr in svc.pulls if pr.opened_at <= END)
    first = requests.get(url, headers=GL, params={"state": "all", "per_page": 10}, timeout=10)
    assert first.headers["X-Total"] == str(total)
    assert first.headers["X-Page"] == "1" and first.headers["X-Next-Page"] == "2"
    assert 'rel="next"' in first.headers["Link"]
    seen, page = [], "1"
    while page:
        r = requests.get(url, headers=GL, params={"state": "all", "per_page": 10, "page": page}, timeout=10)
        seen += [mr["iid"] for mr in r.json()]
        page = r.headers["X-Next-Page"]
    assert sorted(seen) == sorted(pr.number for pr in svc.pulls if pr.opened_at <= END)
    capped = requests.get(url, headers=GL, params={"state": "all", "per_page": 1000}, timeout=10)
    assert len(capped.json()) == min(100, total) and capped.headers["X-Per-Page"] == "100"


def test_gitlab_keyset_pagination_of_projects(emu, world):
    url = f"{emu.url}/gitlab/api/v4/projects"
    params = {"membership": "true", "pagination": "keyset", "order_by": "id", "sort": "asc", "per_page": 1}
    ids, next_url = [], None
    r = requests.get(url, headers=GL, params=params, timeout=10)
    while True:
        ids += [p["id"] for p in r.json()]
        next_url = r.links.get("next", {}).get("url")
        assert "X-Next-Page" not in r.headers
        if not next_url:
            break
        r = requests.get(next_url, headers=GL, timeout=10)
    assert ids == sorted(s.gitlab_id for s in world.services if s.delivery == "gitlab")


def test_gitlab_deployments_as_of_now_and_updated_after(emu, world):
    svc = _gitlab_service(world)
    dep = next(d for d in svc.deployments if not d.is_baseline and d.deployed_at)
    emu.set_now(dep.statuses[0].created_at + timedelta(seconds=1))  # rolling out
    url = f"{emu.url}/gitlab/api/v4/projects/{svc.gitlab_id}/deployments"
    params = {"order_by": "updated_at", "sort": "asc", "per_page": 100}
    rows = {d["id"]: d for d in requests.get(url, headers=GL, params=params, timeout=10).json()}
    assert rows[int(dep.source_id)]["status"] == "running"
    assert rows[int(dep.source_id)]["finished_at"] is None
    emu.set_now(END)
    after = dep.finished_at - timedelta(seconds=1)
    params["updated_after"] = after.strftime("%Y-%m-%dT%H:%M:%SZ")
    got = requests.get(url, headers=GL, params=params, timeout=10).json()
    expected = [d for d in svc.deployments if d.finished_at >= after]
    assert len(got) == min(100, len(expected))
    assert got[0]["id"] == int(dep.source_id) and got[0]["status"] == "success"
    assert got[0]["deployable"]["pipeline"]["sha"] == dep.sha == got[0]["sha"]
    assert got[0]["environment"]["name"] == dep.environment
    updated = [g["updated_at"] for g in got]
    assert updated == sorted(updated)


def test_gitlab_merge_request_state_notes_and_merge_commits(emu, world):
    svc = _gitlab_service(world)
    pr = next(p for p in svc.pulls if p.merged_at and p.merge_method == "merge" and p.reviews)
    base = f"{emu.url}/gitlab/api/v4/projects/{svc.gitlab_id}"
    emu.set_now(pr.merged_at - timedelta(seconds=1))
    assert (
        requests.get(f"{base}/merge_requests/{pr.number}", headers=GL, timeout=10).json()["state"] == "opened"
    )
    emu.set_now(END)
    mr = requests.get(f"{base}/merge_requests/{pr.number}", headers=GL, timeout=10).json()
    assert mr["state"] == "merged" and mr["merge_commit_sha"] == pr.merge_commit_sha
    assert mr["squash_commit_sha"] is None
    notes = requests.get(f"{base}/merge_requests/{pr.number}/notes", headers=GL, timeout=10).json()
    assert sorted(n["id"] for n in notes) == sorted(r.review_id for r in pr.reviews)
    commit = requests.get(f"{base}/repository/commits", headers=GL, params={"per_page": 100}, timeout=10)
    merge = next(c for c in commit.json() if c["id"] == pr.merge_commit_sha)
    assert merge["message"].startswith(f"Merge branch '{pr.branch}' into 'main'")
    assert len(merge["parent_ids"]) == 2


def test_jenkins_auth_jobs_and_build_ranges(emu, world):
    assert requests.get(f"{emu.url}/jenkins/api/json", timeout=10).status_code == 401
    listing = requests.get(f"{emu.url}/jenkins/api/json", auth=JK, params={"tree": "jobs[name]"}, timeout=10)
    names = {job["name"] for job in listing.json()["jobs"]}
    jenkins = [s for s in world.services if s.delivery == "jenkins"]
    expected = {f"deploy-{s.name}-{env}" for s in jenkins for env in (s.staging_env, s.production_env)}
    assert expected <= names and "maintenance" in names
    svc = jenkins[0]
    job = f"deploy-{svc.name}-{svc.production_env}"
    builds = [d for d in svc.deployments if d.environment == svc.production_env]
    url = f"{emu.url}/jenkins/job/{job}/api/json"
    page = requests.get(url, auth=JK, params={"tree": "allBuilds[number,result]{0,2}"}, timeout=10).json()
    assert [b["number"] for b in page["allBuilds"]] == [len(builds), len(builds) - 1]
    rest = requests.get(url, auth=JK, params={"tree": "allBuilds[number]{2,1000}"}, timeout=10).json()
    assert len(rest["allBuilds"]) == len(builds) - 2
    failed = (
        next(d for d in builds if d.deployed_at is None)
        if any(d.deployed_at is None for d in builds)
        else None
    )
    for dep in [builds[1], *([failed] if failed else [])]:
        build = requests.get(
            f"{emu.url}/jenkins/job/{job}/{dep.source_number}/api/json", auth=JK, timeout=10
        ).json()
        data = next(a for a in build["actions"] if a.get("_class", "").endswith("BuildData"))
        assert data["lastBuiltRevision"]["SHA1"] == dep.sha
        assert build["result"] == ("SUCCESS" if dep.deployed_at else "FAILURE")
    emu.set_now(builds[1].statuses[0].created_at)
    running = requests.get(f"{emu.url}/jenkins/job/{job}/2/api/json", auth=JK, timeout=10).json()
    assert running["building"] is True and running["result"] is None


def test_actions_runs_filters_and_no_deployments_api(emu, world):
    svc = next(s for s in world.services if s.delivery == "actions")
    base = f"{emu.url}/github/repos/{svc.repository}"
    assert requests.get(f"{base}/deployments", headers=GH, timeout=10).json() == []
    since = END - timedelta(days=7)
    params = {"created": f">={since:%Y-%m-%dT%H:%M:%SZ}", "branch": "main", "per_page": 100}
    body = requests.get(f"{base}/actions/runs", headers=GH, params=params, timeout=10).json()
    expected = [r for r in svc.runs if r.created_at >= since and r.head_branch == "main"]
    assert body["total_count"] == len(expected) > 0
    assert {r["id"] for r in body["workflow_runs"]} == {r.run_id for r in expected}
    window = f"{since:%Y-%m-%d}..{END - timedelta(days=1):%Y-%m-%d}"
    ranged = requests.get(f"{base}/actions/runs", headers=GH, params={"created": window}, timeout=10).json()
    assert ranged["total_count"] == sum(1 for r in svc.runs if since <= r.created_at < END)
    ci = requests.get(f"{base}/actions/runs", headers=GH, params={"event": "pull_request"}, timeout=10).json()
    assert ci["total_count"] == len(svc.pulls)
    assert {r["name"] for r in ci["workflow_runs"]} == {"ci"}


def test_tags_refs_and_releases(emu, world):
    svc = next(s for s in world.services if s.delivery == "tags")
    base = f"{emu.url}/github/repos/{svc.repository}"
    tagged = [d for d in svc.deployments if d.tag]
    refs = requests.get(
        f"{base}/git/matching-refs/tags", headers=GH, params={"per_page": 100}, timeout=10
    ).json()
    assert {r["ref"] for r in refs} == {f"refs/tags/{d.tag}" for d in tagged}
    dep = tagged[-1]
    ref = next(r for r in refs if r["ref"] == f"refs/tags/{dep.tag}")
    assert ref["object"]["type"] == "tag"
    tag = requests.get(ref["object"]["url"], headers=GH, timeout=10).json()
    assert tag["object"] == {"sha": dep.sha, "type": "commit", "url": tag["object"]["url"]}
    assert tag["tagger"]["date"] == dep.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    releases = requests.get(f"{base}/releases", headers=GH, params={"per_page": 100}, timeout=10).json()
    assert sorted(r["tag_name"] for r in releases) == sorted(d.tag for d in tagged)
    emu.set_now(dep.deployed_at - timedelta(seconds=1))
    later = requests.get(f"{base}/tags", headers=GH, params={"per_page": 100}, timeout=10).json()
    assert dep.tag not in {t["name"] for t in later}


def test_serve_command_mixed_writes_gitlab_and_jenkins_config(tmp_path):
    import subprocess
    import sys
    import time

    import yaml

    config_path = tmp_path / "org.yml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--scale", "mixed", "--seed", "3", "--port", "0"]
        + ["--config-out", str(config_path), "--jenkins-token", "jt-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not config_path.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert config_path.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no config"
        time.sleep(0.1)
        config = yaml.safe_load(config_path.read_text())
        gitlab, jenkins = config["sources"]["gitlab"], config["sources"]["jenkins"]
        projects = requests.get(
            f"{gitlab['base_url']}/api/v4/groups/{gitlab['group']}/projects",
            headers={"PRIVATE-TOKEN": gitlab["token"]},
            timeout=10,
        )
        assert projects.status_code == 200 and len(projects.json()) == 2
        assert jenkins["token"] == "jt-1"
        jobs = requests.get(f"{jenkins['base_url']}/api/json", auth=(jenkins["user"], "jt-1"), timeout=10)
        assert jobs.status_code == 200 and len(jobs.json()["jobs"]) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_monorepo_serves_each_pull_requests_files_from_the_world(world, emu):
    """acme/marketplace: a merged pull request's files (REST `/pulls/{n}/files`) lie in the folders of the
    services the world wrote it for, and outside every folder exactly when it was written for shared code
    too; each service's deployments are served for the one repository under its own environment names."""
    svc = world.service("marketplace")
    folders = {part.folder + "/": part.name for part in svc.path_services}
    assert set(folders.values()) == {"listings-api", "orders-api"}
    merged = [pr for pr in svc.pulls if pr.merged_at is not None]
    assert len(merged) >= 20
    for pr in merged:
        url = f"{emu.url}/github/repos/acme/marketplace/pulls/{pr.number}/files?per_page=100"
        names = [entry["filename"] for entry in requests.get(url, headers=GH, timeout=10).json()]
        owners = {
            next((name for folder, name in folders.items() if f.startswith(folder)), "marketplace")
            for f in names
        }
        assert owners == set(svc.touched[pr.number]), (pr.number, names)
    kinds = {tuple(svc.touched[pr.number]) for pr in merged}
    assert {("listings-api", "orders-api"), ("marketplace",)} <= kinds
    assert any(len(kind) == 2 and "marketplace" in kind for kind in kinds)
    url = f"{emu.url}/github/repos/acme/marketplace/deployments?per_page=100"
    served = {(d["environment"]) for d in requests.get(url, headers=GH, timeout=10).json()}
    expected = {env for part in svc.path_services for env in (part.production_env, part.staging_env)}
    assert served == expected | {svc.production_env, svc.staging_env}
    assert served == {
        f"{kind}-{name}"
        for kind in ("production", "staging")
        for name in ("listings", "orders", "marketplace")
    }


def test_a_pull_requests_changed_files_counts_the_files_it_serves(world, emu):
    """`changed_files` on a pull request's own page is the number of files `/pulls/{n}/files` serves: in
    the monorepo, the distinct files the world recorded for its commits; elsewhere one per commit file."""
    mono = world.service("marketplace")
    other = next(s for s in world.services if s.delivery == "github" and not s.path_services and s.pulls)
    for svc in (mono, other):
        for pr in [p for p in svc.pulls if p.merged_at is not None][:15]:
            base = f"{emu.url}/github/repos/{svc.repository}/pulls/{pr.number}"
            detail = requests.get(base, headers=GH, timeout=10).json()
            files = requests.get(f"{base}/files?per_page=100", headers=GH, timeout=10).json()
            assert detail["changed_files"] == len(files), (svc.name, pr.number)
            if svc is mono:
                recorded = {f for sha in pr.shas_at(world.end, svc.commits) for f in svc.files[sha]}
                assert detail["changed_files"] == len(recorded), pr.number


def test_the_monorepos_direct_pushes_change_files_in_the_service_folders(world, emu):
    """A commit pushed straight to the monorepo's main changes one file, in a service's folder or in shared
    code; its commit detail serves it, and some pushes land in each folder's service."""
    svc = world.service("marketplace")
    landed = {pr.merge_commit_sha for pr in svc.pulls if pr.merged_at is not None}
    pushes = [sha for sha in svc.main[1:] if sha not in landed and len(svc.commits[sha].parents) == 1]
    owners = set()
    for sha in pushes:
        url = f"{emu.url}/github/repos/acme/marketplace/commits/{sha}"
        served = [entry["filename"] for entry in requests.get(url, headers=GH, timeout=10).json()["files"]]
        assert served == svc.files[sha] and len(served) == 1
        owners.update(svc.commit_owners(sha))
    assert owners == {"listings-api", "orders-api", "marketplace"}
