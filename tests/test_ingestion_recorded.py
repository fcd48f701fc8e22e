"""The GitHub source against real recorded api.github.com responses (PyGithub's replay data).

Real payloads carry what an emulator may not: nulls where users have no GitHub account, extra fields,
real Link headers. Each loaded row is compared field by field with the recorded JSON.
"""

from __future__ import annotations

import ast
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from test_ingestion_stub import Stub

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REPLAY = SHARED / "data" / "recorded" / "pygithub-replaydata.tar.gz"
REPO = "PyGithub/PyGithub"

pytestmark = pytest.mark.shared


def _parse(text: str) -> list[dict]:
    """One replay file as exchanges: 10 lines each (scheme, verb, host, port, path, headers, body,
    status, response headers, response JSON), separated by a blank line."""
    lines = text.split("\n")
    out = []
    for start in range(0, len(lines) - 9, 11):
        chunk = lines[start : start + 10]
        headers = dict(ast.literal_eval(chunk[8]))
        out.append(
            {
                "verb": chunk[1],
                "path": chunk[4],
                "status": int(chunk[7]),
                "headers": headers,
                "body": json.loads(chunk[9]),
            }
        )
    return out


def _read_replays(names: set[str]) -> dict[str, list[dict]]:
    """The named replay files, read in one pass over the archive (it is gzip: no random access)."""
    found: dict[str, list[dict]] = {}
    with tarfile.open(REPLAY) as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if name in names:
                found[name] = _parse(tar.extractfile(member).read().decode("utf-8"))
    return found


def _get(records: list[dict], path: str) -> dict:
    return next(r for r in records if r["verb"] == "GET" and r["path"] == path)


@pytest.fixture(scope="module")
def recorded() -> dict:
    if not REPLAY.exists():
        pytest.skip(
            f"recorded GitHub payloads not available ({REPLAY.name} missing from the shared data folder)"
        )
    files = _read_replays(
        {
            "PullRequest.setUp.txt",
            "Repository.testGetCommits.txt",
            "Repository.testGetPulls.txt",
            "PullRequestReview.testDoesNotModifyPullRequest.txt",
            "PullRequest.testGetCommits.txt",
            "PullRequestReview.testAttributes.txt",
            "Repository.testGetDeployments.txt",
            "DeploymentStatus.testGetStatuses.txt",
        }
    )
    setup = files["PullRequest.setUp.txt"]
    return {
        "repo": _get(setup, f"/repos/{REPO}")["body"],
        "pull_31": _get(setup, f"/repos/{REPO}/pulls/31")["body"],
        "pulls": _get(files["Repository.testGetPulls.txt"], f"/repos/{REPO}/pulls")["body"],
        "pull_538": _get(
            files["PullRequestReview.testDoesNotModifyPullRequest.txt"], f"/repos/{REPO}/pulls/538"
        )["body"],
        "pr_commits_31": _get(files["PullRequest.testGetCommits.txt"], f"/repos/{REPO}/pulls/31/commits")[
            "body"
        ],
        "reviews_538": _get(
            files["PullRequestReview.testAttributes.txt"], f"/repos/{REPO}/pulls/538/reviews"
        )["body"],
        "commit_pages": files["Repository.testGetCommits.txt"],
        "deployments": _get(files["Repository.testGetDeployments.txt"], f"/repos/{REPO}/deployments")["body"],
        "statuses": files["DeploymentStatus.testGetStatuses.txt"][0]["body"],
    }


@pytest.fixture(scope="module")
def loaded(
    recorded: dict, tmp_path_factory: pytest.TempPathFactory
) -> tuple[duckdb.DuckDBPyConnection, Stub]:
    root = tmp_path_factory.mktemp("recorded")
    stub = Stub().__enter__()
    stub.add(f"/repos/{REPO}", recorded["repo"])
    # PR list sorted by update, newest first, as the API serves state=all&sort=updated&direction=desc
    pulls = sorted(
        [*recorded["pulls"], recorded["pull_31"], recorded["pull_538"]],
        key=lambda p: p["updated_at"],
        reverse=True,
    )
    stub.add(f"/repos/{REPO}/pulls", pulls)
    stub.add(f"/repos/{REPO}/pulls/31/commits", recorded["pr_commits_31"])
    stub.add(f"/repos/{REPO}/pulls/538/reviews", recorded["reviews_538"])
    for number in (31, 32, 538):
        stub.routes.setdefault(f"/repos/{REPO}/pulls/{number}/commits", [(200, {}, [])])
        stub.routes.setdefault(f"/repos/{REPO}/pulls/{number}/reviews", [(200, {}, [])])
    # commits: three real pages chained by real Link headers, re-pointed at the stub
    # (the recording ends after three pages: the last page's "next" link is dropped)
    pages = recorded["commit_pages"]
    for index, page in enumerate(pages):
        link = page["headers"].get("link", "").replace("https://api.github.com", "{base}")
        if index == len(pages) - 1:
            link = ", ".join(part for part in link.split(", ") if 'rel="next"' not in part)
        route = f"/repos/{REPO}/commits" if index == 0 else page["path"]
        stub.add(route, page["body"], headers={"Link": link} if link else {})
    stub.add(f"/repos/{REPO}/deployments", recorded["deployments"])
    deployment_id = recorded["deployments"][0]["id"]
    stub.add(f"/repos/{REPO}/deployments/{deployment_id}/statuses", recorded["statuses"])
    stub.add(f"/repos/{REPO}/deployments/{recorded['deployments'][1]['id']}/statuses", [])

    pipeline = make_pipeline("github", root / "build.duckdb", root / "dlt")
    source = github_source(
        base_url=stub.url, organization="PyGithub", token="recorded-token", repositories=[REPO]
    )
    pipeline.run(source)
    con = duckdb.connect(str(root / "build.duckdb"), read_only=True)
    yield con, stub
    con.close()
    stub.__exit__(None, None, None)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _ts(value) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(text: str) -> str:
    """A recorded timestamp (which may carry an offset, as old commit dates do) in UTC `Z` form."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_repository_row(loaded, recorded) -> None:
    con, _ = loaded
    (row,) = _rows(con, "select * from raw_github.repositories")
    repo = recorded["repo"]
    assert (row["id"], row["name"], row["full_name"], row["default_branch"]) == (
        repo["id"],
        repo["name"],
        repo["full_name"],
        repo["default_branch"],
    )
    assert _ts(row["created_at"]) == repo["created_at"]
    assert row["owner__login"] == repo["owner"]["login"]
    assert not any(column.endswith("_url") and column != "html_url" for column in row)


def test_pull_request_rows(loaded, recorded) -> None:
    con, _ = loaded
    rows = {r["number"]: r for r in _rows(con, "select * from raw_github.pull_requests")}
    assert sorted(rows) == [31, 32, 538]
    for raw in [*recorded["pulls"], recorded["pull_31"], recorded["pull_538"]]:
        row = rows[raw["number"]]
        assert row["repository"] == REPO
        assert row["id"] == raw["id"]
        assert row["title"] == raw["title"]
        assert row["state"] == raw["state"]
        assert row["user__login"] == raw["user"]["login"]
        assert row["head__sha"] == raw["head"]["sha"]
        assert row["base__ref"] == raw["base"]["ref"]
        assert row["merge_commit_sha"] == raw.get("merge_commit_sha")
        for field in ("created_at", "updated_at", "closed_at", "merged_at"):
            assert _ts(row[field]) == raw.get(field), field
    # the bulky embedded repositories and link maps are gone
    columns = {
        c
        for (c,) in con.execute(
            "select column_name from duckdb_columns() where table_name = 'pull_requests'"
        ).fetchall()
    }
    assert not any(c.startswith(("head__repo", "base__repo", "_links", "user__avatar")) for c in columns)


def test_pull_request_commits_keep_parents_as_json(loaded, recorded) -> None:
    con, _ = loaded
    rows = _rows(con, "select * from raw_github.pull_request_commits order by sha")
    expected = sorted(recorded["pr_commits_31"], key=lambda c: c["sha"])
    assert [r["sha"] for r in rows] == [c["sha"] for c in expected]
    for row, raw in zip(rows, expected, strict=True):
        assert row["pull_number"] == 31
        assert [p["sha"] for p in json.loads(row["parents"])] == [p["sha"] for p in raw["parents"]]
        assert row["commit__message"] == raw["commit"]["message"]
        assert row["commit__author__email"] == raw["commit"]["author"]["email"]
        assert _ts(row["commit__author__date"]) == _utc(raw["commit"]["author"]["date"])
        assert row["author__login"] == (raw["author"] or {}).get("login")
    tables = {
        t
        for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw_github'"
        ).fetchall()
    }
    assert not any("__" in t for t in tables), f"nested child tables created: {tables}"


def test_commits_follow_link_pages(loaded, recorded) -> None:
    con, stub = loaded
    expected = [c for page in recorded["commit_pages"] for c in page["body"]]
    rows = {r["sha"]: r for r in _rows(con, "select * from raw_github.commits")}
    assert len(rows) == len({c["sha"] for c in expected}) == 90
    for raw in expected:
        row = rows[raw["sha"]]
        assert [p["sha"] for p in json.loads(row["parents"])] == [p["sha"] for p in raw["parents"]]
        assert row["commit__committer__name"] == raw["commit"]["committer"]["name"]
        assert row["committer__login"] == (raw["committer"] or {}).get("login")
    assert sum(path.startswith(f"/repos/{REPO}/commits") for path in stub.paths()) == 3


def test_reviews_deployments_and_statuses(loaded, recorded) -> None:
    con, _ = loaded
    reviews = {r["id"]: r for r in _rows(con, "select * from raw_github.pull_request_reviews")}
    assert set(reviews) == {r["id"] for r in recorded["reviews_538"]}
    for raw in recorded["reviews_538"]:
        row = reviews[raw["id"]]
        assert (row["pull_number"], row["state"], row["user__login"], row["commit_id"]) == (
            538,
            raw["state"],
            raw["user"]["login"],
            raw["commit_id"],
        )
        assert _ts(row["submitted_at"]) == raw["submitted_at"]
    deployments = {r["id"]: r for r in _rows(con, "select * from raw_github.deployments")}
    for raw in recorded["deployments"]:
        row = deployments[raw["id"]]
        assert (row["sha"], row["ref"], row["task"], row["environment"], row["creator__login"]) == (
            raw["sha"],
            raw["ref"],
            raw["task"],
            raw["environment"],
            raw["creator"]["login"],
        )
        assert _ts(row["created_at"]) == raw["created_at"]
    statuses = {r["id"]: r for r in _rows(con, "select * from raw_github.deployment_statuses")}
    assert set(statuses) == {s["id"] for s in recorded["statuses"]}
    for raw in recorded["statuses"]:
        row = statuses[raw["id"]]
        assert row["deployment_id"] == recorded["deployments"][0]["id"]
        assert (row["state"], row["environment"], _ts(row["created_at"])) == (
            raw["state"],
            raw["environment"],
            raw["created_at"],
        )


def test_auth_header_carries_the_token(loaded) -> None:
    _, stub = loaded
    assert all(headers.get("Authorization") == "Bearer recorded-token" for _, _, headers in stub.requests)
