"""Incremental rules of the complete GitHub source, on a local stub whose answers the tests control:
workflow runs re-read until they complete, an unchanged run listing answered 304, run jobs read only for
new or changed runs, run ranges beyond GitHub's 1,000-result cap, tags peeled once.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from test_ingestion_stub import Stub

from ingestion.github import forget_old_runs, github_source
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
    Link pagination, `total_count`, and at most `cap` results per filtered query (GitHub's is 1,000)."""

    def __init__(self, runs: list[dict], cap: int = 1000) -> None:
        self.runs = runs
        self.cap = cap
        self.queries: list[str] = []
        self.events: list[str | None] = []  # the `event` filter of each query (None: every run)

    def __call__(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        created = query.get("created", "")
        self.queries.append(created)
        self.events.append(query.get("event"))
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
            and query.get("event") in (None, r["event"])
        ]
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        listable = found[: self.cap] if created or "event" in query else found
        chunk = listable[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(listable):
            rest = "&".join(f"{k}={v}" for k, v in {**query, "page": str(page + 1)}.items())
            headers["Link"] = f'<{{base}}/repos/{REPO}/actions/runs?{rest}>; rel="next"'
        return 200, headers, {"total_count": len(found), "workflow_runs": chunk}


def _run(
    run_id: int, created: datetime, status: str = "completed", event: str = "push", name: str = "deploy"
) -> dict:
    return {
        "id": run_id,
        "name": name,
        "path": ".github/workflows/deploy.yml",
        "head_sha": f"{run_id:040x}",
        "head_branch": "main",
        "event": event,
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


def _load(stub: Stub, root: Path, start_date: str | None, **options: Any) -> None:
    source = github_source(
        base_url=stub.url,
        organization="acme",
        token="t",
        repositories=[REPO],
        start_date=start_date,
        **FAST,
        **options,
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


class EtagRuns(Runs):
    """The run listing with GitHub's conditional requests: an ETag per answer, 304 when the request
    carries the ETag of what it would answer now."""

    def __init__(self, runs: list[dict], stub: Stub) -> None:
        super().__init__(runs)
        self.stub = stub
        self.statuses: list[int] = []

    def __call__(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        status, headers, body = super().__call__(query)
        etag = f'W/"{hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()}"'
        # the stub records a request before answering it: the last one is this one
        sent = {k.lower(): v for k, v in self.stub.requests[-1][2].items()}.get("if-none-match")
        if sent == etag:
            self.statuses.append(304)
            return 304, {"ETag": etag}, b""
        self.statuses.append(status)
        return status, {**headers, "ETag": etag}, body


def _jobs_asked(stub: Stub, since: int) -> list[int]:
    """The run ids whose jobs were asked from request `since` on."""
    found = (re.search(r"/actions/runs/(\d+)/jobs", path) for path in stub.paths()[since:])
    return sorted(int(m.group(1)) for m in found if m)


def test_jobs_are_read_only_for_runs_that_are_new_or_changed(stub, tmp_path) -> None:
    _stub_repository(stub)
    old = _run(1, NOW - timedelta(days=10))
    running = _run(2, NOW - timedelta(days=5), status="in_progress")
    newest = _run(3, NOW - timedelta(hours=1))
    runs = Runs([old, running, newest])
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start)
    assert _jobs_asked(stub, 0) == [1, 2, 3]

    running.update(status="completed", conclusion="success", updated_at=_iso(NOW - timedelta(minutes=3)))
    added = _run(4, NOW - timedelta(minutes=30))
    runs.runs.append(added)
    _serve_jobs(stub, [added])
    before = len(stub.requests)
    _load(stub, tmp_path, start)
    # runs 2 to 4 are read again (the window reaches back to the run that was still going); run 3 did
    # not change, so only the finished run and the new one are asked for their jobs
    assert runs.queries[-1] == f">={running['created_at']}"
    assert _jobs_asked(stub, before) == [2, 4]

    before = len(stub.requests)
    _load(stub, tmp_path, start)
    assert runs.queries[-1] == f">={_iso(NOW - timedelta(minutes=30) - timedelta(days=1))}"
    assert _jobs_asked(stub, before) == []
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(4,)]


def test_an_unchanged_run_listing_repeats_its_query_and_answers_304(stub, tmp_path) -> None:
    _stub_repository(stub)
    runs = EtagRuns([_run(1, NOW - timedelta(days=4)), _run(2, NOW - timedelta(hours=1))], stub)
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=5)).date().isoformat()
    asked = f">={start}T00:00:00Z"
    _load(stub, tmp_path, start)
    assert (runs.queries, runs.statuses) == ([asked], [200])

    before = len(stub.requests)
    _load(stub, tmp_path, start)
    # the look-back moved the window, but the query did not move with it: nothing changed, 304
    assert (runs.queries[-1], runs.statuses[-1]) == (asked, 304)
    assert [p for p in stub.paths()[before:] if "/actions/" in p] == [
        p for p in stub.paths()[before:] if "/actions/runs?" in p
    ]
    assert len([p for p in stub.paths()[before:] if "/actions/" in p]) == 1

    added = _run(3, NOW - timedelta(minutes=10))
    runs.runs.append(added)
    _serve_jobs(stub, [added])
    before = len(stub.requests)
    _load(stub, tmp_path, start)
    # the same query answers with the new run; its jobs alone are asked
    assert (runs.queries[-1], runs.statuses[-1]) == (asked, 200)
    assert _jobs_asked(stub, before) == [3]

    _load(stub, tmp_path, start)
    # the kept bound lags the window by less than a week: it stays, and answers 304 again
    assert (runs.queries[-1], runs.statuses[-1]) == (asked, 304)
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(3,)]


def test_a_first_read_from_far_back_takes_the_narrowed_querys_etag(stub, tmp_path) -> None:
    _stub_repository(stub)
    runs = EtagRuns([_run(1, NOW - timedelta(days=20)), _run(2, NOW - timedelta(hours=1))], stub)
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start)
    # a month-wide first read, then the look-back before the newest run asked once for its ETag
    narrowed = f">={_iso(NOW - timedelta(hours=1) - timedelta(days=1))}"
    assert (runs.queries, runs.statuses) == ([f">={start}T00:00:00Z", narrowed], [200, 200])

    before = len(stub.requests)
    _load(stub, tmp_path, start)
    # the next refresh asks the narrow query, and nothing changed: 304, no jobs
    assert (runs.queries[-1], runs.statuses[-1]) == (narrowed, 304)
    assert _jobs_asked(stub, before) == []

    added = _run(3, NOW - timedelta(minutes=10))
    runs.runs.append(added)
    _serve_jobs(stub, [added])
    before = len(stub.requests)
    _load(stub, tmp_path, start)
    # the same query answers with the new run (its bound lags the window by less than a week: kept)
    assert (runs.queries[-1], runs.statuses[-1]) == (narrowed, 200)
    assert _jobs_asked(stub, before) == [3]
    _load(stub, tmp_path, start)
    assert (runs.queries[-1], runs.statuses[-1]) == (narrowed, 304)
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(3,)]


class ChangingRuns(EtagRuns):
    """Runs whose unfinished run completes right after the first answer: between a read and the request
    that takes the narrowed query's ETag."""

    def __init__(self, runs: list[dict], stub: Stub, running: dict) -> None:
        super().__init__(runs, stub)
        self.running = running

    def __call__(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        status, headers, body = super().__call__(query)
        answer = status, headers, json.loads(json.dumps(body)) if body else body  # as sent
        if len(self.queries) == 1:
            self.running.update(
                status="completed", conclusion="success", updated_at=_iso(NOW - timedelta(minutes=1))
            )
        return answer


def test_a_run_changed_before_the_etag_was_taken_is_read_next_time(stub, tmp_path) -> None:
    _stub_repository(stub)
    running = _run(2, NOW - timedelta(hours=2), status="in_progress")
    runs = ChangingRuns([_run(1, NOW - timedelta(days=20)), running], stub, running)
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start)
    assert runs.statuses == [200, 200]
    assert _rows(tmp_path, "select status from raw_github.workflow_runs where id = 2") == [("in_progress",)]

    _load(stub, tmp_path, start)
    # the ETag taken covered the completed run, which was not loaded: it was not kept, the query answers
    assert runs.statuses[-1] == 200
    assert _rows(tmp_path, "select status from raw_github.workflow_runs where id = 2") == [("completed",)]


def test_run_paging_stops_at_the_first_page_reaching_behind_the_window(stub, tmp_path) -> None:
    _stub_repository(stub)
    # 150 runs, one an hour: two pages of 100
    runs = EtagRuns([_run(i, NOW - timedelta(hours=i, minutes=30)) for i in range(1, 151)], stub)
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=7)).date().isoformat()
    _load(stub, tmp_path, start)
    added = _run(151, NOW - timedelta(minutes=10))
    runs.runs.append(added)
    _serve_jobs(stub, [added])
    before = len(stub.requests)
    _load(stub, tmp_path, start)
    listed = [p for p in stub.paths()[before:] if "/actions/runs?" in p]
    # the query kept from the first read holds two pages; the first already reaches behind the day
    assert len(listed) == 1, listed
    assert _jobs_asked(stub, before) == [151]
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(151,)]


def test_remembered_runs_are_forgotten_behind_the_look_back() -> None:
    def entry(hours_ago: float, status: str = "completed") -> list:
        return [_iso(NOW - timedelta(hours=hours_ago)), "u", status, 1]

    known = {
        "1": entry(100),  # completed, before the oldest unfinished run: forgotten
        "2": entry(72, "in_progress"),  # unfinished: kept, and keeps what came after it
        "3": entry(50),
        "4": entry(30),
        "5": entry(1),
    }
    forget_old_runs(known, 1)
    assert sorted(known) == ["2", "3", "4", "5"]

    known["2"] = entry(72)
    forget_old_runs(known, 1)
    # nothing unfinished: only the look-back (one day before the newest run) is kept
    assert sorted(known) == ["5"]


def test_run_ranges_beyond_the_result_cap_are_split(stub, tmp_path, monkeypatch) -> None:
    """GitHub's cap of 1,000 runs a query, scaled down to 100 with the source's limit (2,400 runs took a
    minute of requests for the same code path)."""
    monkeypatch.setattr("ingestion.github.actions.WORKFLOW_RUN_QUERY_LIMIT", 100)
    _stub_repository(stub)
    # 240 runs, one every hundred minutes, over the last ~17 days: more than twice the cap
    runs = Runs([_run(i, NOW - timedelta(minutes=100 * i + 5)) for i in range(1, 241)], cap=100)
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    _load(stub, tmp_path, (NOW - timedelta(days=20)).date().isoformat())
    loaded = {run_id for (run_id,) in _rows(tmp_path, "select id from raw_github.workflow_runs")}
    assert loaded == {run["id"] for run in runs.runs}
    assert any(".." in query for query in runs.queries), "the range should have been split"


# a deploy rule as ingestion.config.workflow_rules hands it to the source
DEPLOY_RULE = {"pattern": "^deploy$", "branch_pattern": None, "events": ["push", "workflow_dispatch"]}


def _mixed_runs() -> list[dict]:
    """Pull request CI, the deploy workflow on pushes and dispatches, and a `pull_request_target` run."""
    return [
        _run(1, NOW - timedelta(days=9), event="pull_request", name="ci"),
        _run(2, NOW - timedelta(days=8)),
        _run(3, NOW - timedelta(days=6), event="pull_request", name="ci"),
        _run(4, NOW - timedelta(days=5), event="workflow_dispatch"),
        _run(5, NOW - timedelta(days=4), event="pull_request_target"),
        _run(6, NOW - timedelta(days=2)),
        _run(7, NOW - timedelta(hours=3), event="pull_request", name="ci"),
    ]


def test_with_deploy_rules_only_the_events_they_count_are_listed(stub, tmp_path) -> None:
    """One listing per event the repository's rules count; the other runs (pull request CI, here) are
    never asked for, and the jobs only for the counted runs, as before."""
    _stub_repository(stub)
    runs = Runs(_mixed_runs())
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start, deploy_workflows={REPO.upper(): [DEPLOY_RULE]})
    assert sorted(set(runs.events)) == ["push", "workflow_dispatch"]
    assert _rows(tmp_path, "select id, event from raw_github.workflow_runs order by id") == [
        (2, "push"),
        (4, "workflow_dispatch"),
        (6, "push"),
    ]
    assert _jobs_asked(stub, 0) == [2, 4, 6]

    # a day later: each listing reads its own window; a new CI run is not read, a new push run is
    runs.runs += [
        _run(8, NOW - timedelta(hours=2), event="pull_request", name="ci"),
        _run(9, NOW - timedelta(hours=1)),
    ]
    _serve_jobs(stub, runs.runs[-2:])
    before = len(stub.requests)
    _load(stub, tmp_path, start, deploy_workflows={REPO: [DEPLOY_RULE]})
    assert _jobs_asked(stub, before) == [9]
    assert [id_ for (id_,) in _rows(tmp_path, "select id from raw_github.workflow_runs order by id")] == [
        2,
        4,
        6,
        9,
    ]


def test_a_repository_without_a_workflow_rule_lists_no_runs(stub, tmp_path) -> None:
    _stub_repository(stub)
    runs = Runs(_mixed_runs())
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _load(stub, tmp_path, (NOW - timedelta(days=30)).date().isoformat(), deploy_workflows={"acme/web": []})
    assert runs.queries == []
    assert not [p for p in stub.paths() if "/actions/" in p]


def test_every_run_is_listed_when_asked_for_and_the_counted_runs_are_the_same(stub, tmp_path) -> None:
    """`workflow_runs="all"` loads every run through one listing, as without rules; the runs of the
    rules' events are the same rows both ways."""
    _stub_repository(stub)
    runs = Runs(_mixed_runs())
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    rules = {REPO: [DEPLOY_RULE]}
    _load(stub, tmp_path / "all", start, deploy_workflows=rules, workflow_runs="all")
    _load(stub, tmp_path / "deploy", start, deploy_workflows=rules)
    assert runs.events[0] is None and sorted(set(runs.events[1:])) == ["push", "workflow_dispatch"]
    every = _rows(tmp_path / "all", "select * exclude (_dlt_load_id, _dlt_id) from raw_github.workflow_runs")
    listed = _rows(
        tmp_path / "deploy", "select * exclude (_dlt_load_id, _dlt_id) from raw_github.workflow_runs"
    )
    assert len(every) == 7
    assert sorted(listed) == sorted(row for row in every if row[1] in (2, 4, 6))  # (repository, id, ...)
    with pytest.raises(ValueError, match="workflow_runs"):
        github_source(base_url=stub.url, organization="acme", token="t", workflow_runs="some")


def test_an_event_listing_starts_from_the_repositorys_cursor_of_every_run(stub, tmp_path) -> None:
    """Upgrading (or turning `workflow_runs` from all to deploy): a working directory whose state holds a
    repository's cursor of every run reads each event's runs from that cursor's window, not from the
    start date again."""
    _stub_repository(stub)
    runs = Runs(_mixed_runs())
    stub.handlers[f"/repos/{REPO}/actions/runs"] = runs
    _serve_jobs(stub, runs.runs)
    start = (NOW - timedelta(days=30)).date().isoformat()
    _load(stub, tmp_path, start)  # every run, as before rules narrowed the listing
    assert runs.queries == [f">={start}T00:00:00Z"]
    _load(stub, tmp_path, start, deploy_workflows={REPO: [DEPLOY_RULE]})
    newest = _run(7, NOW - timedelta(hours=3))["created_at"]
    window = f">={_iso(_parse(newest) - timedelta(days=1))}"
    assert list(zip(runs.events[1:], runs.queries[1:], strict=True)) == [
        ("push", window),
        ("workflow_dispatch", window),
    ]
    assert _rows(tmp_path, "select count(*) from raw_github.workflow_runs") == [(7,)]


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
