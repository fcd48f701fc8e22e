"""Review comments (line comments on a pull request's diff) through GitHub's GraphQL API equal those read
through REST, on an emulator asked to serve them (`Emulator(review_comments=True)`; the orgs' own
records have none). The comments come from the world's reviews (simulator/github.py), so the expectation
is REST's load of the same world, and counts worked from the world itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_review_comments_token_91b2"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}
COLUMNS = [
    "repository",
    "pull_number",
    "id",
    "pull_request_review_id",
    "in_reply_to_id",
    "user__login",
    "user__type",
    "author_association",
    "path",
    "commit_id",
    "created_at",
    "updated_at",
]
# a first load, then one that finds replies written since
MOMENTS = [END - timedelta(days=3), END]


@pytest.fixture(scope="module")
def world():
    return simulator.generate_org(scale="mixed", seed=5, end=END)


def _load(world, root: Path, api: str, review_comments: bool = True) -> list[tuple]:
    emu = simulator.Emulator(world, port=0, github_token=TOKEN, review_comments=review_comments).start()
    try:
        for moment in MOMENTS:
            emu.set_now(moment)
            source = github_source(
                base_url=f"{emu.url}/github",
                organization=world.org,
                token=TOKEN,
                start_date=(END - timedelta(days=30)).date().isoformat(),
                api=api,
                **FAST_RETRIES,
            ).with_resources("repositories", "pull_requests", "pull_request_review_comments")
            make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)
    finally:
        emu.stop()
    listed = ", ".join(f'cast("{c}" as varchar)' for c in COLUMNS)
    with duckdb.connect(str(root / "build.duckdb"), read_only=True) as con:
        tables = {row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()}
        if "pull_request_review_comments" not in tables:
            return []
        rows = con.execute(f"select {listed} from raw_github.pull_request_review_comments").fetchall()
    return sorted(rows, key=lambda row: tuple("" if v is None else v for v in row))


@pytest.fixture(scope="module")
def rest(world, tmp_path_factory):
    return _load(world, tmp_path_factory.mktemp("rest"), "rest")


@pytest.fixture(scope="module")
def graph(world, tmp_path_factory):
    return _load(world, tmp_path_factory.mktemp("graphql"), "graphql")


def _expected_ids(world, pulls: set[tuple[str, int]]) -> set[int]:
    """The line comment ids the world holds as of END for the given pull requests, worked from its
    reviews: each engineer's non-approving review opens a thread, and the author's reply follows a minute
    later."""
    from simulator.automation import is_automation, served_reviews

    ids = set()
    for svc in world.services:
        for pr in svc.pulls:
            if (svc.repository, pr.number) not in pulls:
                continue
            for review in served_reviews(world, svc, pr, END):
                if review.state == "APPROVED" or is_automation(review.reviewer):
                    continue
                ids.add(review.review_id * 10 + 1)
                if review.submitted_at + timedelta(minutes=1) <= END:
                    ids.add(review.review_id * 10 + 2)
    return ids


def test_graphql_review_comments_equal_rest(rest, graph) -> None:
    assert len(rest) > 20
    assert any(row[COLUMNS.index("in_reply_to_id")] is not None for row in rest)
    assert graph == rest


def test_review_comments_are_the_worlds(world, rest) -> None:
    """Every pull request with comments has all of its world's comments, each once."""
    ids = [int(row[COLUMNS.index("id")]) for row in rest]
    assert len(ids) == len(set(ids))
    pulls = {(row[0], int(row[1])) for row in rest}
    assert set(ids) == _expected_ids(world, pulls)


def test_default_emulator_serves_no_review_comments(world, tmp_path) -> None:
    assert _load(world, tmp_path, "graphql", review_comments=False) == []
