"""GitHub commit files: a commit detail answering 404 (or 422) skips that commit only; the other possible
direct pushes of the repository still have their files read. An answer about the endpoint itself (403)
still stops the repository for the run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_ingestion_stub import Stub

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

REPO = "acme/mono"


def _commit(sha: str, parent: str | None, day: int) -> dict:
    at = f"2026-06-{day:02d}T09:00:00Z"
    return {
        "sha": sha,
        "author": {"login": "ann", "type": "User"},
        "commit": {
            "author": {"name": "Ann", "email": "ann@example.com", "date": at},
            "committer": {"name": "Ann", "email": "ann@example.com", "date": at},
            "message": f"commit {sha}",
        },
        "parents": [] if parent is None else [{"sha": parent}],
    }


def _load(tmp_path: Path, answers: dict[str, tuple[int, list[str]]]) -> tuple[set[tuple], list[str]]:
    """Main is c1 ← c2 ← c3, all possible direct pushes; `answers`: each commit detail's status and files.
    Returns the loaded (sha, filename) rows and the commit details asked for."""
    main = [_commit("c1", None, 1), _commit("c2", "c1", 2), _commit("c3", "c2", 3)]
    with Stub() as stub:
        stub.add(f"/repos/{REPO}", {
            "id": 1, "full_name": REPO, "name": "mono", "default_branch": "main",
            "created_at": "2026-06-01T00:00:00Z", "updated_at": "2026-06-01T00:00:00Z",
        })  # fmt: skip
        stub.add(f"/repos/{REPO}/commits", list(reversed(main)))
        for commit in main:
            status, files = answers[commit["sha"]]
            body = {**commit, "files": [{"filename": f, "status": "modified"} for f in files]}
            stub.add(f"/repos/{REPO}/commits/{commit['sha']}", body if status == 200 else {}, status)
        source = github_source(
            base_url=stub.url,
            organization="acme",
            token="t",
            repositories=[REPO],
            start_date="2026-05-01",
            commit_file_repositories=[REPO],
        ).with_resources("repositories", "commits")
        db = tmp_path / "gh.duckdb"
        make_pipeline("github", db, tmp_path / "dlt").run(source)
        asked = [p for p in stub.paths() if p.startswith(f"/repos/{REPO}/commits/")]
    with duckdb.connect(str(db)) as con:
        rows = set(con.execute("select sha, filename from raw_github.commit_files").fetchall())
    return rows, asked


@pytest.mark.parametrize("status", [404, 422])
def test_a_commit_detail_answering_not_found_skips_that_commit_only(tmp_path, status):
    rows, asked = _load(tmp_path, {"c1": (200, ["a.py"]), "c2": (status, []), "c3": (200, ["b.py", "c.py"])})
    assert rows == {("c1", "a.py"), ("c3", "b.py"), ("c3", "c.py")}
    assert len(asked) == 3


def test_a_forbidden_commit_detail_stops_the_repository(tmp_path):
    """403 says the endpoint is not available to the token: the remaining commits are not asked."""
    rows, asked = _load(tmp_path, {"c1": (200, ["a.py"]), "c2": (403, []), "c3": (200, ["b.py"])})
    order = [p.rsplit("/", 1)[1] for p in asked]
    assert order == ["c3", "c2"]  # listing order, newest first: c1 is not asked after c2's 403
    assert rows == {("c3", "b.py")}
