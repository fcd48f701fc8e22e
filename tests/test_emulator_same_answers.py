"""The emulator's fast GraphQL path answers byte for byte what its plain path answers.

GraphQL selections go through plans made once per query, and a pull request's lists are rendered only
when selected (simulator/github_graphql.py). The plain walk over objects rendered whole
(`GitHubGraph.reference`) is the definition: every request the GitHub source makes on a first load and on
a later one (GraphQL and REST), plus queries that fail in different places, is answered through both paths
by the same emulator, and the statuses, bodies, headers (ETags, Link, rate limits) and the counters of
requests and GraphQL points must be identical.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")
from simulator.github_graphql import GitHubGraph  # noqa: E402

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_same_answers_token_41c7"
MOMENTS = [END - timedelta(days=10), END]
# a fixed rate-limit window, so the reset the headers and `rateLimit` carry is the same on both paths
RESET = 4_102_444_800
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}

# queries that fail, each in another place: the fast path must fail where the plain walk fails
FAILING = [
    # a valid field before an undefined one, on every pull request of a page
    "{ repository(owner: $o, name: $n) { pullRequests(first: 5) { nodes { number bogus } } } }",
    # a connection without `first`, nested below objects
    "{ repository(owner: $o, name: $n) { pullRequests(first: 2) "
    "{ nodes { number commits { totalCount } } } } }",
    # a variable nobody declared, in the arguments of a nested connection
    "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { pullRequests(first: 2) "
    "{ nodes { reviews(first: $missing) { totalCount } } } } }",
    # selections on a scalar, and none on an object
    "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { pullRequests(first: 2) "
    "{ nodes { title { x } } } } }",
    "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { pullRequests(first: 2) "
    "{ nodes { author } } } }",
    # a repository that does not exist, after a field that resolves
    'query($o: String!) { rateLimit { cost } repository(owner: $o, name: "nope") { nameWithOwner } }',
    # the same, before an undefined field: the first error in selection order is the answer
    'query($o: String!) { repository(owner: $o, name: "nope") { nameWithOwner } bogus }',
]
# queries that succeed with what the source does not ask: aliases, __typename, fragments, every list
PASSING = [
    "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { __typename nameWithOwner "
    "open: pullRequests(first: 7, states: [OPEN]) { totalCount pageInfo { hasNextPage endCursor } "
    "nodes { __typename number author { __typename login } labels(first: 3) { nodes { name } } "
    "commits(first: 2) { totalCount nodes { commit { oid parents(first: 5) { nodes { oid } } } } } "
    "reviews(first: 4) { nodes { state author { login } commit { oid } } } "
    "files(first: 3) { totalCount nodes { path changeType } } "
    "reviewThreads(first: 2) { nodes { comments(first: 2) "
    "{ nodes { databaseId replyTo { databaseId } } } } } } } "
    "defaultBranchRef { name target { __typename ... on Commit { oid history(first: 3) { totalCount "
    "nodes { oid author { user { login } } } } } } } "
    "deployments(first: 3, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { databaseId "
    "statuses(first: 2) { nodes { state creator { login } } } } } } rateLimit { cost remaining used } }",
]


def _recorded_requests(world, root: Path) -> list[tuple]:
    """Every request the GitHub source (GraphQL) makes at each moment, as the emulator received them."""
    emu = simulator.Emulator(world, port=0, github_token=TOKEN, review_comments=True).start()
    seen: list[tuple] = []
    handle = emu.handle

    def recording(method, target, headers, body=b""):
        seen.append((method, target, dict(headers), body))
        return handle(method, target, headers, body)

    emu.handle = recording
    try:
        pipeline = make_pipeline("github", root / "build.duckdb", root / "dlt")
        for moment in MOMENTS:
            emu.set_now(moment)
            seen.append(("moment", moment))
            source = github_source(
                base_url=f"{emu.url}/github",
                organization=world.org,
                token=TOKEN,
                start_date=(END - timedelta(days=120)).date().isoformat(),
                api="graphql",
                max_concurrency=3,
                **FAST_RETRIES,
            )
            pipeline.run(source)
    finally:
        emu.stop()
    return seen


def _answers(emu, requests: list[tuple]) -> tuple[list[tuple], dict]:
    """Replay `requests` into the emulator from a fresh window and clock: its answers and its counters."""
    emu.reset_rate_limit()
    emu.rate_reset = RESET
    emu._usage.clear()
    answers = []
    for request in requests:
        if request[0] == "moment":
            emu.set_now(request[1])  # also forgets every cached answer and listing
            continue
        answers.append((request[1], *emu.handle(*request)))
    return answers, emu.usage()


def _handmade(world) -> list[tuple]:
    svc = next(svc for svc in world.services if svc.on_github and svc.pulls)
    headers = {"authorization": f"bearer {TOKEN}", "content-type": "application/json"}
    variables = {"o": world.org, "n": svc.name}
    return [("moment", END)] + [
        ("POST", "/github/graphql", headers, json.dumps({"query": query, "variables": variables}).encode())
        for query in FAILING + PASSING
    ]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    # the mixed org serves every optional list (files, review comments, Actions runs, tags)
    world = simulator.generate_org(scale="mixed", seed=5, end=END)
    requests = _recorded_requests(world, tmp_path_factory.mktemp("recorded")) + _handmade(world)
    emu = simulator.Emulator(world, port=0, github_token=TOKEN, review_comments=True).start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(GitHubGraph, "reference", True)
            plain = _answers(emu, requests)
        fast = _answers(emu, requests)
    finally:
        emu.stop()
    return requests, plain, fast


def test_the_replay_covers_graphql_and_rest(replayed) -> None:
    requests, (plain, usage), _ = replayed
    graphql = [answer for answer in plain if answer[0] == "/github/graphql"]
    # (runs' jobs come through GraphQL: REST keeps the listings, runs, tags and what GraphQL cannot read)
    assert len(graphql) >= 20 and len(plain) - len(graphql) >= 90, (len(graphql), len(plain))
    # pages that hold pull requests with commits, reviews and files, so the lazy lists are exercised, and
    # check suites resolved by id with their check runs
    bodies = b"".join(answer[2] for answer in graphql)
    for key in (b'"commits"', b'"reviews"', b'"files"', b'"history"', b'"comments"', b'"checkRuns"'):
        assert key in bodies, key
    assert usage["github"]["graphql_points"] > 0
    # the handmade failures fail, each as GitHub says (not all with the same error)
    errors = [
        json.loads(answer[2])["errors"][0]["message"] for answer in graphql[-len(FAILING + PASSING) :][:-1]
    ]
    assert len(set(errors)) == len(FAILING) - 1, errors  # the last two fail on the same repository
    assert b'"errors"' not in graphql[-1][2]


def test_the_fast_path_answers_byte_for_byte(replayed) -> None:
    _, (plain, plain_usage), (fast, fast_usage) = replayed
    assert len(plain) == len(fast)
    for before, after in zip(plain, fast, strict=True):
        assert before == after, before[0]
    assert plain_usage == fast_usage


def test_the_fast_path_is_the_default() -> None:
    assert GitHubGraph.reference is False
