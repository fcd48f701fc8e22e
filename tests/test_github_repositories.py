"""The GitHub source's asked-for repositories: read one request each, or, when many belong to the
organisation, picked from its listing (ingestion/github/repos.py, `_from_listing`), with the same rows
either way; the others (another owner, past the pages the listing is given, a listing the token may not
read) are still read one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_ingestion_stub import Stub

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

ORG = "acme"
OWN = [f"{ORG}/svc-{n:02d}" for n in range(8)]  # the organisation's repositories, in name order
OTHER = "partner/shared-lib"
PAGE = 2  # the stub's listing answers 2 repositories a page (GitHub's is up to 100)
FAST = {"max_retries": 1, "max_retry_wait_seconds": 0.1, "backoff_factor": 0.01}


def _repo(full_name: str, repo_id: int) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": repo_id,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner, "id": 7, "type": "Organization"},
        "default_branch": "main",
        "created_at": f"2025-01-0{1 + repo_id % 9}T10:00:00Z",
        "updated_at": "2026-11-01T10:00:00Z",
        "pushed_at": "2026-11-01T10:00:00Z",
        "topics": ["payments"],
    }


REPOS = {name: _repo(name, 100 + i) for i, name in enumerate([*OWN, OTHER])}


def _listing(query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    page = int(query.get("page", 1))
    chunk = [REPOS[name] for name in OWN[(page - 1) * PAGE : page * PAGE]]
    headers = {}
    if page * PAGE < len(OWN):
        headers["Link"] = f'<{{base}}/orgs/{ORG}/repos?type=all&sort=full_name&page={page + 1}>; rel="next"'
    return 200, headers, chunk


def _serve(stub: Stub, listing_status: int = 200) -> None:
    if listing_status == 200:
        stub.handlers[f"/orgs/{ORG}/repos"] = _listing
    else:
        stub.add(f"/orgs/{ORG}/repos", {"message": "Must have admin rights"}, status=listing_status)
    for name, repo in REPOS.items():
        stub.add(f"/repos/{name}", repo)


def _load(stub: Stub, root: Path, asked: list[str]) -> list[tuple]:
    source = github_source(base_url=stub.url, organization=ORG, token="t", repositories=asked, **FAST)
    db = root / "build.duckdb"
    make_pipeline("github", db, root / "dlt").run(source.with_resources("repositories"))
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select id, name, full_name, default_branch, created_at, topics from raw_github.repositories "
            "order by id"
        ).fetchall()


def _singles(stub: Stub) -> list[str]:
    return sorted(path[len("/repos/") :] for path in stub.paths() if path.startswith("/repos/"))


def _listing_pages(stub: Stub) -> int:
    return sum(path.startswith(f"/orgs/{ORG}/repos") for path in stub.paths())


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


@pytest.fixture
def one_by_one(tmp_path) -> list[tuple]:
    """The rows as reading every repository on its own gives them (below the listing's threshold)."""
    with Stub() as server:
        _serve(server)
        rows = _load(server, tmp_path / "singly", [*OWN, OTHER])
        assert _listing_pages(server) == 0 and _singles(server) == sorted([*OWN, OTHER])
    return rows


def test_many_repositories_of_the_organisation_come_from_its_listing(
    stub, tmp_path, monkeypatch, one_by_one
) -> None:
    monkeypatch.setattr("ingestion.github.repos.REPOSITORY_LISTING_MIN", 4)
    _serve(stub)
    # names without an owner are the organisation's, as before
    rows = _load(stub, tmp_path, [name.split("/")[1] for name in OWN] + [OTHER])
    assert rows == one_by_one
    assert _listing_pages(stub) == 2  # 8 wanted: at most 8 // 4 = 2 pages, which hold svc-00 to svc-03
    assert _singles(stub) == sorted([*OWN[4:], OTHER])


def test_the_listing_stops_once_every_asked_repository_is_found(stub, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("ingestion.github.repos.REPOSITORY_LISTING_MIN", 1)
    _serve(stub)
    asked = OWN[:3]
    rows = _load(stub, tmp_path, asked)
    assert [row[2] for row in rows] == asked
    # 3 wanted: max(1, 3 // 4) = 1 page, holding two of them; the third is read on its own
    assert (_listing_pages(stub), _singles(stub)) == (1, [OWN[2]])


def test_a_listing_the_token_may_not_read_falls_back_to_one_request_each(
    stub, tmp_path, monkeypatch, one_by_one
) -> None:
    monkeypatch.setattr("ingestion.github.repos.REPOSITORY_LISTING_MIN", 4)
    _serve(stub, listing_status=403)
    assert _load(stub, tmp_path, [*OWN, OTHER]) == one_by_one
    assert _singles(stub) == sorted([*OWN, OTHER])


def test_few_asked_repositories_are_read_one_by_one(stub, tmp_path) -> None:
    _serve(stub)
    _load(stub, tmp_path, OWN[:5])
    assert (_listing_pages(stub), _singles(stub)) == (0, OWN[:5])


# ---------------------------------------------------------------------------------------------- branches
def _branch(name: str, sha: str) -> dict[str, Any]:
    return {"name": name, "commit": {"sha": sha * 40}, "protected": name == "main"}


def _load_branches(stub: Stub, root: Path, asked: list[str], deploy_branches: dict) -> None:
    source = github_source(
        base_url=stub.url,
        organization=ORG,
        token="t",
        repositories=asked,
        api="rest",
        deploy_branches=deploy_branches,
        **FAST,
    )
    make_pipeline("github", root / "build.duckdb", root / "dlt").run(
        source.with_resources("repositories", "branches", "commits")
    )


def test_branch_listings_are_read_ahead_once_each_and_deletions_found(stub, tmp_path) -> None:
    """The branches resource reads the listings a few repositories ahead; the commits resource, which
    lists the branches of a repository with `branch_push` rules, shares the one listing per run. A branch
    gone since the last run is deleted."""
    asked = OWN[:5]
    for name in asked:
        stub.add(f"/repos/{name}", REPOS[name])
        stub.add(f"/repos/{name}/commits", [])
    tips = {name: [_branch("main", "a"), _branch("release/1", "b"), _branch("old", "c")] for name in asked}
    for name in asked:
        stub.handlers[f"/repos/{name}/branches"] = lambda query, name=name: (200, {}, tips[name])
    rules = {OWN[1]: ["^release/"], OWN[3]: ["^release/"]}
    _load_branches(stub, tmp_path, asked, rules)
    listed = [p.split("?")[0] for p in stub.paths() if p.split("?")[0].endswith("/branches")]
    assert sorted(listed) == sorted(f"/repos/{name}/branches" for name in asked)

    for name in (OWN[1], OWN[2]):  # `old` deleted in a repository with rules and in one without
        tips[name] = tips[name][:2]
    before = len(stub.requests)
    _load_branches(stub, tmp_path, asked, rules)
    listed = [p.split("?")[0] for p in stub.paths()[before:] if p.split("?")[0].endswith("/branches")]
    assert sorted(listed) == sorted(f"/repos/{name}/branches" for name in asked)
    with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
        rows = con.execute("select repository, name from raw_github.branches order by 1, 2").fetchall()
    # a branch gone arrives once as deleted and is deleted here too (`is_deleted` is a hard delete)
    kept = {name: ["main", "old", "release/1"] for name in asked}
    kept[OWN[1]] = kept[OWN[2]] = ["main", "release/1"]
    assert rows == [(name, branch) for name in asked for branch in kept[name]]
