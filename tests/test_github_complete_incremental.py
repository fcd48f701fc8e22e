"""Incremental rules of the complete GitHub source, on a local stub whose answers the tests control:
workflow runs re-read until they complete, run ranges beyond GitHub's 1,000-result cap, tags peeled once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from test_ingestion_stub import Stub

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

REPO = "acme/api"
NOW = datetime.now(UTC).replace(microsecond=0)
FAST = {"max_retries": 1, "max_retry_wait_seconds": 0.1, "backoff_factor": 0.01}


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Runs:
    """GitHub's run listing over a list of runs: `created` filters (`>=T` and `A..B`), newest first,
    Link pagination, `total_count`, and at most 1,000 results per filtered query."""

    def __init__(self, runs: list[dict]) -> None:
        self.runs = runs
        self.queries: list[str] = []

    def __call__(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        created = query.get("created", "")
        self.queries.append(created)
        if created.startswith(">="):
            low, high = _parse(created[2:]), None
        elif ".." in created:
            low, high = (_parse(part) for part in created.split(".."))
        else:
            low = high = None
        found = [
            r
            for r in sorted(self.runs, key=lambda r: r["created_at"], reverse=True)
            if (low is None or _parse(r["created_at"]) >= low)
            and (high is None or _parse(r["created_at"]) <= high)
        ]
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        listable = found[:1000] if created else found
        chunk = listable[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(listable):
            rest = "&".join(f"{k}={v}" for k, v in {**query, "page": str(page + 1)}.items())
            headers["Link"] = f'<{{base}}/repos/{REPO}/actions/runs?{rest}>; rel="next"'
        return 200, headers, {"total_count": len(found), "workflow_runs": chunk}


def _run(run_id: int, created: datetime, status: str = "completed") -> dict:
    return {
        "id": run_id,
        "name": "deploy",
        "path": ".github/workflows/deploy.yml",
        "head_sha": f"{run_id:040x}",
        "head_branch": "main",
        "event": "push",
        "status": status,
        "conclusion": "success" if status == "completed" else None,
        "created_at": _iso(created),
        "run_started_at": _iso(created),
        "updated_at": _iso(created + timedelta(minutes=5)),
        "pull_requests": [],
    }


def _stub_repository(stub: Stub) -> None:
    stub.add(f"/repos/{REPO}", {"id": 1, "name": "api", "full_name": REPO, "default_branch": "main"})
    for empty in ("pulls", "commits", "deployments", "releases"):
        stub.add(f"/repos/{REPO}/{empty}", [])
    stub.add(f"/repos/{REPO}/git/matching-refs/tags", [])


def _load(stub: Stub, root: Path, start_date: str | None) -> None:
    source = github_source(
        base_url=stub.url, organization="acme", token="t", repositories=[REPO], start_date=start_date, **FAST
    )
    make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)


def _rows(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "build.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


def _serve_jobs(stub: Stub, runs: list[dict]) -> None:
    for run in runs:
        stub.routes[f"/repos/{REPO}/actions/runs/{run['id']}/jobs"] = [
            (200, {}, {"total_count": 0, "jobs": []})
        ]


def test_unfinished_runs_are_read_again_until_they_complete(stub, tmp_path) -> None:
    _stub_repository(stub)
    old = _run(1, NOW - timedelta(days=10))
    running = _run(2, NOW - timedelta(days=5), status="in_progress")
    newest = _run(3, NOW - timedelta(hours=1))
    runs = Runs([old, running, newest])
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start)
    assert runs.queries == [f">={start}T00:00:00Z"]

    running.update(status="completed", conclusion="failure")
    _load(stub, tmp_path, start)
    # the look-back (one day before the newest run) would miss the run still going five days ago
    assert runs.queries[-1] == f">={running['created_at']}"
    assert _rows(tmp_path, "select status, conclusion from raw_github.workflow_runs where id = 2") == [
        ("completed", "failure")
    ]

    _load(stub, tmp_path, start)
    # nothing unfinished any more: back to the look-back before the newest run
    assert runs.queries[-1] == f">={_iso(NOW - timedelta(hours=1) - timedelta(days=1))}"
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(3,)]


def test_run_ranges_beyond_the_result_cap_are_split(stub, tmp_path) -> None:
    _stub_repository(stub)
    # 2,400 runs, one every ten minutes, over the last ~17 days
    runs = Runs([_run(i, NOW - timedelta(minutes=10 * i + 5)) for i in range(1, 2401)])
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    _load(stub, tmp_path, (NOW - timedelta(days=20)).date().isoformat())
    loaded = {run_id for (run_id,) in _rows(tmp_path, "select id from raw_github.workflow_runs")}
    assert loaded == {run["id"] for run in runs.runs}
    assert any(".." in query for query in runs.queries), "the range should have been split"


def test_tags_are_peeled_once_and_again_when_moved(stub, tmp_path) -> None:
    _stub_repository(stub)
    tag_object, commit, moved_commit = "a" * 40, "b" * 40, "c" * 40
    refs = [
        {"ref": "refs/tags/v1.0", "object": {"sha": tag_object, "type": "tag"}},
        {"ref": "refs/tags/light", "object": {"sha": commit, "type": "commit"}},
    ]
    stub.routes[f"/repos/{REPO}/git/matching-refs/tags"] = [(200, {}, refs)]
    tagger = {"name": "Rel Eng", "email": "rel@example.com", "date": "2026-05-01T10:00:00Z"}
    stub.add(
        f"/repos/{REPO}/git/tags/{tag_object}",
        {
            "sha": tag_object,
            "tag": "v1.0",
            "message": "v1.0\n",
            "tagger": tagger,
            "object": {"sha": commit, "type": "commit"},
        },
    )
    stub.handlers[f"/repos/{REPO}/actions/runs"] = Runs([])
    _load(stub, tmp_path, None)
    _load(stub, tmp_path, None)
    peels = [p for p in stub.paths() if "/git/tags/" in p]
    assert len(peels) == 1, "an unmoved annotated tag is peeled once"
    rows = dict(
        (name, (commit_sha, tagger_name, tagged_at))
        for name, commit_sha, tagger_name, tagged_at in _rows(
            tmp_path, "select name, commit_sha, tagger_name, tagged_at from raw_github.tags"
        )
    )
    assert rows["light"] == (commit, None, None)
    assert rows["v1.0"][:2] == (commit, "Rel Eng")
    assert rows["v1.0"][2].astimezone(UTC) == datetime(2026, 5, 1, 10, tzinfo=UTC)

    refs[1] = {"ref": "refs/tags/light", "object": {"sha": moved_commit, "type": "commit"}}
    _load(stub, tmp_path, None)
    assert _rows(tmp_path, "select commit_sha from raw_github.tags where name = 'light'") == [(moved_commit,)]
    assert len([p for p in stub.paths() if "/git/tags/" in p]) == 1


def test_created_query_is_parsed_by_the_fake() -> None:
    """The fake's filter is itself checked, so the tests above cannot pass on a fake that ignores it."""
    runs = Runs([_run(1, NOW - timedelta(days=3)), _run(2, NOW - timedelta(days=1))])
    _, _, body = runs({"created": f">={_iso(NOW - timedelta(days=2))}", "per_page": "100"})
    assert [r["id"] for r in body["workflow_runs"]] == [2]
    query = parse_qs(urlsplit(f"/x?created={_iso(NOW - timedelta(days=4))}..{_iso(NOW)}").query)
    _, _, body = runs({"created": query["created"][0], "per_page": "100"})
    assert body["total_count"] == 2
