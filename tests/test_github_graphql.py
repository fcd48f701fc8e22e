"""The GitHub source through GraphQL against the emulator: the same raw tables as through REST, a fraction
of the requests, paced to the rate limit; and the emulator's GraphQL subset (errors, GitHub's point costs).

Expectations come from the REST path's load of the same world (the reference the models were built on),
from the world itself, or from GitHub's documented cost rule worked by hand.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from ingestion.github import actions, github_source, graphql
from ingestion.http import ApiError, ApiUsage
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_graphql_test_token_5d1e"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}
# load metadata dlt adds: the only columns allowed to differ between the two paths
METADATA = ("_dlt_load_id", "_dlt_id")


@pytest.fixture(scope="module")
def world():
    # the mixed org serves the optional endpoints too (pull request files), so every table is exercised
    return simulator.generate_org(scale="mixed", seed=5, end=END)


def _load(world, root: Path, api: str, moments: list[datetime], **options) -> tuple[Path, list[dict]]:
    """Load the org's GitHub into `root` once per moment (the emulator serving the world as of it);
    returns the database and the emulator's usage of each load, with the REST requests for a run's jobs
    among them (`jobs_listings`)."""
    emu = simulator.Emulator(world, port=0, github_token=TOKEN).start()
    used = []
    try:
        for moment in moments:
            emu.set_now(moment)
            before, served = emu.usage()["github"], len(emu.requests)
            source = github_source(
                base_url=f"{emu.url}/github",
                organization=world.org,
                token=TOKEN,
                start_date=(END - timedelta(days=120)).date().isoformat(),
                api=api,
                **{**FAST_RETRIES, **options},
            )
            make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)
            after = emu.usage()["github"]
            jobs = [t for _, t, _ in emu.requests[served:] if "/actions/runs/" in t and "/jobs" in t]
            used.append({key: after[key] - before[key] for key in after} | {"jobs_listings": len(jobs)})
    finally:
        emu.stop()
    return root / "build.duckdb", used


# the last load finds nothing new
MOMENTS = [END - timedelta(days=12), END - timedelta(days=2), END, END]


@pytest.fixture(scope="module")
def rest(world, tmp_path_factory):
    return _load(world, tmp_path_factory.mktemp("rest"), "rest", MOMENTS)


@pytest.fixture(scope="module")
def graph(world, tmp_path_factory):
    return _load(world, tmp_path_factory.mktemp("graphql"), "graphql", MOMENTS, max_concurrency=3)


def _schema(db: Path) -> dict[str, dict[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_github' and table_name not like '_dlt%' order by 1, 2"
        ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        if column not in METADATA:
            out.setdefault(table, {})[column] = data_type
    return out


def _rows(db: Path, table: str, columns: list[str]) -> list[tuple]:
    listed = ", ".join(f'cast("{c}" as varchar)' for c in columns)
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(
            con.execute(f'select {listed} from raw_github."{table}"').fetchall(),
            key=lambda row: tuple("" if v is None else v for v in row),
        )


def test_same_tables_columns_and_types(rest, graph) -> None:
    expected, found = _schema(rest[0]), _schema(graph[0])
    assert "pull_request_files" in expected and "deployment_statuses" in expected
    assert found == expected


@pytest.mark.parametrize(
    "table",
    [
        "pull_requests",
        "pull_request_commits",
        "pull_request_reviews",
        "pull_request_files",
        "deployments",
        "deployment_statuses",
        "commits",
        "repositories",
        "workflow_runs",
    ],
)
def test_same_rows(rest, graph, table) -> None:
    columns = sorted(_schema(rest[0])[table])
    expected = _rows(rest[0], table, columns)
    assert expected, f"the REST load has no {table}"
    assert _rows(graph[0], table, columns) == expected


# the job columns GraphQL's check runs do not give (nothing downstream reads them): null on that path
REST_ONLY_JOB_COLUMNS = ("created_at", "runner_name", "labels")


def test_same_workflow_jobs_read_through_graphql_many_runs_a_query(rest, graph) -> None:
    """Every run's jobs (no deploy rules given): the same rows as REST's listings give, every column
    staging reads included, and none listed through REST."""
    columns = sorted(set(_schema(rest[0])["workflow_jobs"]) - set(REST_ONLY_JOB_COLUMNS))
    expected = _rows(rest[0], "workflow_jobs", columns)
    assert len(expected) > 100
    assert _rows(graph[0], "workflow_jobs", columns) == expected
    only = ", ".join(f"count({c})" for c in REST_ONLY_JOB_COLUMNS)
    with duckdb.connect(str(graph[0]), read_only=True) as con:
        assert con.execute(f"select {only} from raw_github.workflow_jobs").fetchone() == (0, 0, 0)
    assert rest[1][0]["jobs_listings"] >= len(expected) / 2  # one listing per run (CI runs have one job)
    assert [used["jobs_listings"] for used in graph[1]] == [0] * len(MOMENTS)


def test_rows_match_the_world(world, graph) -> None:
    """Not only equal to REST: the pull requests and deployments the world holds on GitHub, once each."""
    db = graph[0]
    start = END - timedelta(days=120)
    prs = {
        (svc.repository, pr.number)
        for svc in world.services
        if svc.on_github
        for pr in svc.pulls
        if start <= pr.opened_at <= END
    }
    deployments = {
        dep.deployment_id
        for svc in world.services
        if svc.on_github and svc.delivery == "github"
        for dep in svc.deployments
        if start <= dep.created_at <= END
    }
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("select repository, number from raw_github.pull_requests").fetchall()
        loaded_deps = [r[0] for r in con.execute("select id from raw_github.deployments").fetchall()]
    assert len(loaded) == len(set(loaded))
    assert prs <= set(loaded)
    assert len(loaded_deps) == len(set(loaded_deps))
    assert deployments and deployments <= set(loaded_deps)


def test_graphql_spends_a_fraction_of_the_requests(world, rest, graph) -> None:
    with duckdb.connect(str(graph[0]), read_only=True) as con:
        n_prs = con.execute("select count(*) from raw_github.pull_requests").fetchone()[0]
    rest_first, graph_first = rest[1][0], graph[1][0]
    assert rest_first["graphql_requests"] == 0
    assert graph_first["graphql_requests"] > 0 and graph_first["graphql_points"] > 0
    # pull requests and deployments no longer cost requests per item: what REST spends on them is gone
    assert graph_first["requests"] * 3 < rest_first["requests"]
    # a page of pull requests, at most one more query for the lists it cut short, deployments' pages, and
    # the jobs of a page of runs (100 runs a page, a query each)
    start, first = END - timedelta(days=120), MOMENTS[0]
    runs: dict[str, int] = {}
    for svc in world.services:
        if svc.on_github:
            listed = sum(1 for run in svc.runs if start <= run.created_at <= first)
            runs[svc.repository] = runs.get(svc.repository, 0) + listed
    run_pages = sum(-(-listed // 100) for listed in runs.values())
    assert graph_first["graphql_requests"] < n_prs / 5 + run_pages
    # nested lists asked whole only where needed: points per pull request stay below the 0.35 a page of
    # 50 pull requests with 20 commits each costs (GitHub's rule; worked by hand in the cost test)
    assert graph_first["graphql_points"] < 0.35 * n_prs
    # a refresh after two days re-reads only what changed
    assert graph[1][2]["graphql_points"] < graph_first["graphql_points"]
    # with nothing new, one query asks the repositories' newest pull requests (up to 50; a connection of
    # one per repository: at least one point) and one their deployments' first pages (up to 25; each page
    # 1 + 100 statuses requests: 808 for 8 repositories, 8 points), also where a repository holds more
    # than 100 of them (the monorepo's services deploy together): a page reaching behind the look-back is
    # the last one read
    repositories = sum(1 for svc in world.services if svc.on_github)
    second_pages = sum(1 for svc in world.services if svc.delivery == "github" and len(svc.deployments) > 100)
    assert second_pages == 1 and repositories == 8
    assert (graph[1][3]["graphql_requests"], graph[1][3]["graphql_points"]) == (2, 1 + 8)


def test_usage_is_counted_by_the_source_as_by_the_emulator(world, tmp_path) -> None:
    usage = ApiUsage("GitHub")
    _, used = _load(world, tmp_path, "graphql", [END], usage=usage)
    assert usage.requests == used[0]["requests"]
    assert usage.points == used[0]["graphql_points"]
    assert usage.budget["graphql"][0] == 5000 - used[0]["graphql_points"]


def test_a_spent_budget_waits_for_the_reset_and_loads_everything(world, tmp_path) -> None:
    """Budgets far below what the load needs, windows of two seconds: the load pauses for each reset,
    never asks an exhausted budget, and loads what an unlimited load does."""
    emu = simulator.Emulator(
        world, port=0, github_token=TOKEN, rate_limit=50, graphql_rate_limit=70, rate_reset_seconds=2
    ).start()
    usage = ApiUsage("GitHub", reserve={"core": 10, "graphql": 60})
    try:
        source = github_source(
            base_url=f"{emu.url}/github",
            organization=world.org,
            token=TOKEN,
            api="graphql",
            usage=usage,
            **FAST_RETRIES,
        )
        make_pipeline("github", tmp_path / "build.duckdb", tmp_path / "dlt").run(source)
        refused = [r for r in emu.requests if r[2] in (403, 429)]
        usage_total = emu.usage()["github"]
    finally:
        emu.stop()
    assert usage.waits >= 2
    assert not refused
    # more than two windows' worth of each budget above its reserve (70 - 60 points, 50 - 10 requests)
    assert usage_total["graphql_points"] > 2 * (70 - 60) and usage_total["requests"] > 2 * (50 - 10)
    with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw_github.pull_requests").fetchone()[0] > 0


def test_budget_wait_is_logged_and_sleeps_to_the_reset(caplog) -> None:
    slept: list[float] = []
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    usage = ApiUsage("GitHub", reserve={"graphql": 100}, sleep=sleep, clock=lambda: clock[0])
    usage.note("graphql", 150, 1030, 5000)
    usage.wait_for_budget("graphql")
    assert slept == []
    usage.note("graphql", 90, 1030, 5000)
    with caplog.at_level("WARNING"):
        usage.wait_for_budget("graphql")
    assert slept == [31.0]
    assert "GitHub rate limit nearly spent (90 points left)" in caplog.text
    assert usage.budget["graphql"][0] == 5000  # past the reset the window is taken as fresh
    # answers of parallel requests arrive out of order: within a window, a higher count does not undo a lower
    usage.note("graphql", 4980, 4630, 5000)
    usage.note("graphql", 4990, 4630, 5000)
    assert usage.budget["graphql"][0] == 4980
    usage.wait_for_budget("graphql")
    assert slept == [31.0]


# ------------------------------------------------------------------------------------ the emulator's API
@pytest.fixture(scope="module")
def served(world):
    emu = simulator.Emulator(world, port=0, github_token=TOKEN).start()
    yield emu
    emu.stop()


def _post(emu, document: str, variables: dict | None = None, token: str = TOKEN) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{emu.url}/github/graphql",
        data=json.dumps({"query": document, "variables": variables or {}}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def test_cost_follows_githubs_rule(served, world) -> None:
    svc = next(s for s in world.services if s.on_github and s.pulls)
    # 1 (pullRequests) + 50 (commits, once per pull request) + 50 x 20 (parents, once per commit) = 1,051
    # requests: 11 points. rateLimit reports the cost of the call it is part of.
    document = """
    query($owner: String!, $name: String!) {
      rateLimit { cost remaining limit }
      repository(owner: $owner, name: $name) {
        pullRequests(first: 50) { nodes { number commits(first: 20) { nodes { commit {
          oid parents(first: 5) { nodes { oid } } } } } } }
      }
    }"""
    owner, name = svc.repository.split("/")
    status, body, headers = _post(served, document, {"owner": owner, "name": name})
    assert status == 200 and "errors" not in body
    assert body["data"]["rateLimit"]["cost"] == 11
    assert headers["X-RateLimit-Resource"] == "graphql"
    assert int(headers["X-RateLimit-Remaining"]) == body["data"]["rateLimit"]["remaining"]
    nodes = body["data"]["repository"]["pullRequests"]["nodes"]
    assert len(nodes) == min(50, sum(1 for pr in svc.pulls if pr.opened_at <= END))
    # no connection at all still costs the minimum of one point
    status, body, _ = _post(served, "query { rateLimit { cost } }")
    assert body == {"data": {"rateLimit": {"cost": 1}}}


def test_history_and_pull_request_by_number(served, world) -> None:
    """A branch's history (through an inline fragment) pages the commits REST lists, newest first, with the
    same `since` filter; 100 commits with their parents cost 1 + 100 requests: one point. An aliased
    `pullRequest(number:)` costs its own connections once each."""
    svc = max((s for s in world.services if s.on_github), key=lambda s: len(s.commits))
    owner, name = svc.repository.split("/")
    since = END - timedelta(days=30)
    document = """
    query($owner: String!, $name: String!, $since: GitTimestamp, $after: String) {
      rateLimit { cost }
      repository(owner: $owner, name: $name) {
        defaultBranchRef { name target { ... on Commit { history(first: 100, since: $since, after: $after) {
          pageInfo { hasNextPage endCursor } nodes { oid committedDate parents(first: 5) { nodes { oid } } }
        } } } }
      }
    }"""
    shas, after = [], None
    while True:
        variables = {
            "owner": owner,
            "name": name,
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "after": after,
        }
        status, body, _ = _post(served, document, variables)
        assert status == 200 and "errors" not in body, body
        assert body["data"]["rateLimit"]["cost"] == 1
        history = body["data"]["repository"]["defaultBranchRef"]["target"]["history"]
        shas += [node["oid"] for node in history["nodes"]]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    listed = []
    page = 1
    while True:
        answer = requests.get(
            f"{served.url}/github/repos/{svc.repository}/commits",
            params={"since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "per_page": 100, "page": page},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ).json()
        listed += [commit["sha"] for commit in answer]
        if len(answer) < 100:
            break
        page += 1
    assert shas and shas == listed
    on_main = {sha for sha, c in svc.commits.items() if c.reach_index is not None}
    assert set(shas) <= on_main
    # a branch that does not exist is null, as on GitHub
    missing = 'query { repository(owner: "OWNER", name: "NAME") { ref(qualifiedName: "REF") { name } } }'
    missing = missing.replace("REF", "refs/heads/nope")
    status, body, _ = _post(served, missing.replace("OWNER", owner).replace("NAME", name))
    assert body["data"]["repository"]["ref"] is None
    # two aliased pull requests, each with commits(first: 100) and their parents: 2 x (1 + 100) requests,
    # 2 points
    first, second = (pr.number for pr in svc.pulls[:2])
    aliased = f"""
    query {{
      rateLimit {{ cost }}
      repository(owner: "{owner}", name: "{name}") {{
        a: pullRequest(number: {first}) {{ number commits(first: 100) {{ totalCount nodes {{ commit {{ oid
          parents(first: 5) {{ nodes {{ oid }} }} }} }} }} }}
        b: pullRequest(number: {second}) {{ number commits(first: 100) {{ totalCount nodes {{ commit {{ oid
          parents(first: 5) {{ nodes {{ oid }} }} }} }} }} }}
      }}
    }}"""
    status, body, _ = _post(served, aliased)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["rateLimit"]["cost"] == 2
    got = body["data"]["repository"]
    assert (got["a"]["number"], got["b"]["number"]) == (first, second)
    assert [n["commit"]["oid"] for n in got["a"]["commits"]["nodes"]] == svc.pulls[0].commit_shas


CHECK_SUITES = """
query($ids: [ID!]!, $first: Int!, $after: String) {
  rateLimit { cost }
  nodes(ids: $ids) {
    __typename
    ... on CheckSuite { checkRuns(first: $first, after: $after, filterBy: {checkType: LATEST}) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { databaseId name status conclusion startedAt completedAt detailsUrl } } }
    ... on WorkflowRun { databaseId checkSuite { id } }
  }
}"""


def _rest_runs(emu, svc) -> list[dict]:
    url = f"{emu.url}/github/repos/{svc.repository}/actions/runs?per_page=100"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["workflow_runs"]


def _rest_jobs(emu, svc, run_id: int) -> list[dict]:
    url = f"{emu.url}/github/repos/{svc.repository}/actions/runs/{run_id}/jobs"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["jobs"]


def test_check_suites_by_node_id_serve_the_runs_jobs(served, world) -> None:
    """The REST runs' `check_suite_node_id` and `node_id` resolve through `nodes(ids:)`: a suite's check
    runs are the run's jobs as REST lists them (GitHub's enumerations in upper case); an id that resolves
    to nothing is null, with GitHub's NOT_FOUND error beside the data."""
    svc = next(s for s in world.services if s.on_github and len(s.runs) > 10)
    runs = _rest_runs(served, svc)[:3]
    ids = [run["check_suite_node_id"] for run in runs] + ["Q2hlY2tTdWl0ZTo0Mg", runs[0]["node_id"]]
    status, body, _ = _post(served, CHECK_SUITES, {"ids": ids, "first": 100})
    assert status == 200
    assert body["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["nodes", 3],
            "message": "Could not resolve to a node with the global id of 'Q2hlY2tTdWl0ZTo0Mg'",
        }
    ]
    nodes = body["data"]["nodes"]
    assert nodes[3] is None
    assert nodes[4] == {
        "__typename": "WorkflowRun",
        "databaseId": runs[0]["id"],
        "checkSuite": {"id": runs[0]["check_suite_node_id"]},
    }
    for run, node in zip(runs, nodes[:3], strict=True):
        jobs = _rest_jobs(served, svc, run["id"])
        assert node["__typename"] == "CheckSuite" and node["checkRuns"]["totalCount"] == len(jobs) == 1
        assert node["checkRuns"]["nodes"] == [
            {
                "databaseId": job["id"],
                "name": job["name"],
                "status": job["status"].upper(),
                "conclusion": job["conclusion"].upper() if job["conclusion"] else None,
                "startedAt": job["started_at"],
                "completedAt": job["completed_at"],
                "detailsUrl": job["html_url"],
            }
            for job in jobs
        ]
    # pages: one check run a page, the second page empty
    status, body, _ = _post(served, CHECK_SUITES, {"ids": ids[:1], "first": 1})
    listed = body["data"]["nodes"][0]["checkRuns"]
    assert listed["pageInfo"]["hasNextPage"] is False and len(listed["nodes"]) == 1
    after = listed["pageInfo"]["endCursor"]
    status, body, _ = _post(served, CHECK_SUITES, {"ids": ids[:1], "first": 1, "after": after})
    assert body["data"]["nodes"][0]["checkRuns"]["nodes"] == []


def test_node_ids_cost_and_limit(served, world) -> None:
    """`nodes(ids:)` counts as many parents as ids for the connections in it: 100 suites' check runs are
    100 requests, one point; two such lists two points. More than 100 ids is GitHub's ARGUMENT_LIMIT."""
    runs = [run for svc in world.services if svc.on_github for run in svc.runs if run.created_at <= END]
    ids = [simulator.github.node_id("CheckSuite", run.run_id * 3 + 1) for run in runs[:200]]
    assert len(ids) == 200
    status, body, _ = _post(served, CHECK_SUITES, {"ids": ids[:100], "first": 100})
    assert body["data"]["rateLimit"]["cost"] == 1 and "errors" not in body
    assert all(node["checkRuns"]["totalCount"] == 1 for node in body["data"]["nodes"])
    two = """query($a: [ID!]!, $b: [ID!]!) { rateLimit { cost }
      a: nodes(ids: $a) { ... on CheckSuite { checkRuns(first: 100) { totalCount } } }
      b: nodes(ids: $b) { ... on CheckSuite { checkRuns(first: 100) { totalCount } } } }"""
    status, body, _ = _post(served, two, {"a": ids[:100], "b": ids[100:]})
    assert body["data"]["rateLimit"]["cost"] == 2
    status, body, _ = _post(served, CHECK_SUITES, {"ids": ids[:101], "first": 100})
    assert body == {
        "errors": [
            {
                "message": "You may not provide more than 100 node ids; you provided 101.",
                "type": "ARGUMENT_LIMIT",
            }
        ]
    }


class _FakeGraph:
    """Answers CHECK_RUNS_QUERY from a dict of suites (id to check runs), in pages of `first`."""

    def __init__(self, suites: dict[str, list[dict] | None]):
        self.suites = suites
        self.asked: list[dict] = []

    def query(self, document, variables, what, missing_nodes=False):
        assert document == graphql.CHECK_RUNS_QUERY and missing_nodes
        self.asked.append(variables)
        start = int(variables["after"] or 0)
        nodes = []
        for suite in variables["ids"]:
            runs = self.suites.get(suite)
            if runs is None:
                nodes.append(None)
                continue
            chunk = runs[start : start + variables["first"]]
            more = start + len(chunk) < len(runs)
            info = {"hasNextPage": more, "endCursor": str(start + len(chunk))}
            nodes.append({"checkRuns": {"pageInfo": info, "nodes": chunk}})
        return {"nodes": nodes}


def test_check_runs_page_through_a_long_suite_and_give_up_on_unresolved_ones(monkeypatch) -> None:
    monkeypatch.setattr(graphql, "CHECK_RUN_PAGE", 2)
    monkeypatch.setattr(graphql, "NODE_IDS", 2)
    runs = [{"databaseId": n, "name": f"job {n}"} for n in range(5)]
    fake = _FakeGraph({"long": runs, "short": runs[:1], "blank": [{"databaseId": None, "name": "x"}]})
    found = graphql.read_check_runs(fake, ["long", "gone", "short", "blank"])
    assert found == {"long": runs, "gone": None, "short": runs[:1], "blank": None}
    # two suites a query; the long one's further pages alone
    assert [(v["ids"], v["after"]) for v in fake.asked] == [
        (["long", "gone"], None),
        (["long"], "2"),
        (["long"], "4"),
        (["short", "blank"], None),
    ]


def test_jobs_fall_back_to_rest_where_graphql_cannot_read_them() -> None:
    """No GraphQL client, no suite id, a suite that did not resolve, a failing query: those runs' jobs are
    listed through REST (missing from the answer); the others come shaped as REST's jobs listing."""
    run = {"id": 7, "run_attempt": 2, "name": "deploy", "head_sha": "abc", "head_branch": "main"}
    check_run = {"databaseId": 70, "name": "prod", "status": "IN_PROGRESS", "conclusion": None}
    check_run |= {"startedAt": "2026-10-01T10:00:00Z", "completedAt": None, "detailsUrl": "https://x/job/70"}
    fake = _FakeGraph({"S7": [check_run]})
    runs = [
        run | {"check_suite_node_id": "S7"},
        run | {"id": 8, "check_suite_node_id": "S8"},
        run | {"id": 9},
    ]

    def reader(gql):
        return actions.Reader(client=None, gql=gql, start=None)

    assert actions._jobs_through_graphql(reader(None), runs, []) == {}
    assert actions._jobs_through_graphql(reader(fake), runs, []) == {
        7: [
            {
                "id": 70,
                "run_id": 7,
                "run_attempt": 2,
                "workflow_name": "deploy",
                "head_sha": "abc",
                "head_branch": "main",
                "name": "prod",
                "status": "in_progress",
                "conclusion": None,
                "started_at": "2026-10-01T10:00:00Z",
                "completed_at": None,
                "html_url": "https://x/job/70",
            }
        ]
    }

    class Failing:
        def query(self, *args, **kwargs):
            raise ApiError("GitHub POST /graphql (check runs): boom", status=422, path="/graphql")

    failed: list[ApiError] = []
    assert actions._jobs_through_graphql(reader(Failing()), runs, failed) == {}
    # asked once: after a failure, GraphQL is not asked again in this run
    assert len(failed) == 1 and actions._jobs_through_graphql(reader(fake), runs, failed) == {}
    assert len(fake.asked) == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('query { repository(owner: "acme", name: "x") { nameWithOwner } }', "Could not resolve"),
        ("query { rateLimit { costs } }", "Field 'costs' doesn't exist on type 'RateLimit'"),
        (
            'query { repository(owner: "acme", name: "x") { pullRequests { totalCount } } }',
            "You must provide a `first` or `last` value",
        ),
        (
            'query { repository(owner: "acme", name: "x") { pullRequests(first: 101) { totalCount } } }',
            "exceeds the `first` limit of 100",
        ),
        ("mutation { addStar { clientMutationId } }", "queries only"),
        ("query { rateLimit { cost }", "Parse error"),
        ("query($n: Int) { rateLimit(x: $m) { cost } }", "Variable $m is used but not declared"),
    ],
)
def test_what_is_not_served_answers_githubs_errors(served, document, message) -> None:
    status, body, _ = _post(served, document)
    assert status == 200
    assert message in body["errors"][0]["message"]


def test_graphql_wants_the_token(served) -> None:
    status, body, _ = _post(served, "query { rateLimit { cost } }", token="wrong")
    assert status == 401 and body["message"] == "Bad credentials"


def test_usage_route(served) -> None:
    with urllib.request.urlopen(f"{served.url}/_control/usage") as response:
        body = json.loads(response.read())
    assert body == served.usage()
    assert set(body["github"]) >= {"requests", "graphql_requests", "graphql_points"}


def test_repositories_are_read_concurrently_and_handed_over_in_order() -> None:
    import threading
    import time

    from ingestion.github.graphql import in_order

    running, peak, lock = [0], [0], threading.Lock()

    def fetch(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 * (n % 3))  # later items often finish first
        with lock:
            running[0] -= 1
        return n * n

    assert list(in_order(range(10), fetch, 3)) == [(n, n * n) for n in range(10)]
    assert peak[0] == 3

    def failing(n: int) -> int:
        if n == 4:
            raise RuntimeError("repository 4 failed")
        return n

    handed = []
    with pytest.raises(RuntimeError, match="repository 4 failed"):
        for item, _ in in_order(range(10), failing, 3):
            handed.append(item)
    assert handed == [0, 1, 2, 3]


def test_a_result_not_ready_is_handed_over_as_none_instead_of_waited_for() -> None:
    """With `idle`, the reader never blocks on a fetch: it gets None (a dlt resource passes it on, so dlt
    works on its other resources), and the results still come whole and in order."""
    import threading

    from ingestion.github.graphql import in_order

    gate = threading.Event()

    def fetch(n: int) -> int:
        if n == 1:
            gate.wait(5)
        return n * 10

    handed: list = []
    for got in in_order(range(4), fetch, 2, idle=True):
        handed.append(got)
        if got is None and handed.count(None) == 3:
            gate.set()  # only after the reader was told three times that item 1 is not ready
    results = [got for got in handed if got is not None]
    assert results == [(n, n * 10) for n in range(4)]
    third_none = [i for i, got in enumerate(handed) if got is None][2]
    assert handed.index((1, 10)) > third_none  # item 1 came only once its fetch was let through
    assert list(in_order(range(4), fetch, 2)) == results  # without `idle`: no None at all


def test_listings_read_ahead_replay_their_pages_then_what_stopped_them() -> None:
    """`Reader.read_ahead`: each listing read whole in a worker, handed over in order; a listing that
    failed gives the pages it read, then raises where it would have when read in turn."""
    from ingestion.github.reader import Reader

    def listing(name: str, fail_after: int | None = None):
        for page in range(3):
            if fail_after is not None and page == fail_after:
                raise ApiError(f"{name} went away", status=409, path="/x")
            yield [f"{name}:{page}"]

    reader = Reader(client=None, gql=None, start=None, max_concurrency=2)  # type: ignore[arg-type]
    listings = {"a": listing("a"), "b": listing("b", fail_after=1), "c": listing("c")}
    handed: dict[str, list] = {}
    extras: dict[str, object] = {}
    for got in reader.read_ahead(listings, then=lambda name, pages: [page[0] for page in pages]):
        if got is None:
            continue
        name, pages, extras[name] = got
        handed[name] = []
        try:
            for page in pages:
                handed[name] += page
        except ApiError as exc:
            handed[name].append(f"raised {exc.status}")
    assert list(handed) == ["a", "b", "c"]
    assert handed == {
        "a": ["a:0", "a:1", "a:2"],
        "b": ["b:0", "raised 409"],
        "c": ["c:0", "c:1", "c:2"],
    }
    # what follows a whole listing runs in its worker; a listing that failed gets none
    assert extras == {"a": ["a:0", "a:1", "a:2"], "b": None, "c": ["c:0", "c:1", "c:2"]}


class _PullRequestPages:
    """A GraphQL client answering the pull request queries from a list of nodes, newest-updated first,
    cursor-paged as GitHub pages a connection; `asked` records each query's page size and cursor."""

    def __init__(self, nodes: list[dict]) -> None:
        self.nodes = nodes
        self.asked: list[tuple[int, str | None]] = []

    def query(self, document: str, variables: dict, what: str) -> dict:
        first, after = variables.get("first", 1), variables.get("after")
        self.asked.append((first, after))
        start = int(after or 0)
        chunk = self.nodes[start : start + first]
        end = start + len(chunk)
        info = {"hasNextPage": end < len(self.nodes), "endCursor": str(end)}
        listed = {"nodes": chunk, "pageInfo": info, "totalCount": len(self.nodes)}
        return {"repository": {"pullRequests": listed}}


def test_pull_request_pages_stop_at_the_first_page_reaching_behind_the_cursor() -> None:
    from ingestion.github import graphql

    cursor = END - timedelta(days=1)
    # 3 pull requests updated since the cursor, then 200 updated an hour apart before it
    nodes = [
        {"number": n, "databaseId": n, "updatedAt": (END - timedelta(hours=n)).isoformat()} for n in range(3)
    ] + [
        {"number": n, "databaseId": n, "updatedAt": (cursor - timedelta(hours=n)).isoformat()}
        for n in range(3, 203)
    ]

    def when(node: dict) -> datetime:
        return datetime.fromisoformat(node["updatedAt"])

    client = _PullRequestPages(nodes)
    pages = graphql.read_pull_requests(
        client,  # type: ignore[arg-type]
        "acme/api",
        lambda node: when(node) <= cursor,
        incremental=True,
        past=lambda node: when(node) < cursor,
    )
    # the newest alone, then the first page (10): it reaches behind the cursor, so nothing after it
    assert client.asked == [(1, None), (graphql.FIRST_INCREMENTAL_PAGE, None)]
    assert [node["number"] for node in pages[0] if when(node) > cursor] == [0, 1, 2]

    # a node exactly at the cursor's instant may be new (an id not read at it): the next page is read
    tied = [dict(node, updatedAt=cursor.isoformat()) for node in nodes[:13]]
    client = _PullRequestPages(tied + nodes[13:])
    graphql.read_pull_requests(
        client,  # type: ignore[arg-type]
        "acme/api",
        lambda node: when(node) < cursor,
        incremental=True,
        past=lambda node: when(node) < cursor,
    )
    assert client.asked[2] == (graphql.PULL_REQUEST_PAGE, str(graphql.FIRST_INCREMENTAL_PAGE))


def test_newest_pull_requests_of_many_repositories_in_one_query(served, world) -> None:
    """The incremental probe asked for many repositories at once answers what the one-repository query
    answers for each, for one point (a connection of one node per repository: under 100 requests)."""
    from ingestion.github import graphql
    from ingestion.github.helpers import make_client
    from ingestion.http import RetryPolicy

    usage = ApiUsage("GitHub")
    client = make_client(f"{served.url}/github", TOKEN, RetryPolicy(2, 0.05, 0.3, 30.0), usage)
    gql = graphql.GraphQLClient(client, graphql.graphql_url(f"{served.url}/github"), usage)
    names = [svc.repository for svc in world.services if svc.on_github]
    found = graphql.newest_pull_requests(gql, names)
    assert (usage.requests, usage.points) == (1, 1)
    for full_name in names:
        owner, name = full_name.split("/")
        _, body, _ = _post(served, graphql.NEWEST_PULL_REQUEST_QUERY, {"owner": owner, "name": name})
        nodes = body["data"]["repository"]["pullRequests"]["nodes"]
        assert found[full_name] == (nodes[0] if nodes else None)
    assert any(node is not None for node in found.values())


def _client(served) -> tuple[graphql.GraphQLClient, ApiUsage]:
    from ingestion.github.helpers import make_client
    from ingestion.http import RetryPolicy

    usage = ApiUsage("GitHub")
    client = make_client(f"{served.url}/github", TOKEN, RetryPolicy(2, 0.05, 0.3, 30.0), usage)
    return graphql.GraphQLClient(client, graphql.graphql_url(f"{served.url}/github"), usage), usage


def test_a_page_of_pull_requests_and_commit_parents_by_sha_cost(served, world) -> None:
    """GitHub's rule worked by hand: a page of 100 pull requests with labels, commits (no parents),
    reviews, a review thread count and files is 1 + 5 x 100 = 501 requests, 5 points (4 without files);
    100 commits' parents by SHA (`object(oid:)`, not a connection) 100 requests, one point. A SHA the
    repository has not is null; the parents are those REST's commit detail gives."""
    svc = max((s for s in world.services if s.on_github), key=lambda s: len(s.pulls))
    owner, name = svc.repository.split("/")
    variables = {"owner": owner, "name": name, "first": 100, "after": None}
    for document, points in (
        (graphql.PULL_REQUESTS_QUERY, 5),
        (graphql.PULL_REQUESTS_QUERY_WITHOUT_FILES, 4),
    ):
        status, body, _ = _post(served, document, variables)
        assert status == 200 and "errors" not in body, body
        assert body["data"]["rateLimit"]["cost"] == points
    nodes = body["data"]["repository"]["pullRequests"]["nodes"]
    shas = [c["commit"]["oid"] for n in nodes for c in n["commits"]["nodes"]][:99] + ["0" * 40]
    assert len(shas) == 100
    selections = "\n".join(graphql.PARENTS_OF.format(i=i, sha=sha) for i, sha in enumerate(shas))
    status, body, _ = _post(served, graphql.PARENTS_QUERY.replace("SELECTIONS", selections), variables)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["rateLimit"]["cost"] == 1
    answered = body["data"]["repository"]
    assert answered["c99"] is None
    for i, sha in enumerate(shas[:99]):
        rest = requests.get(
            f"{served.url}/github/repos/{svc.repository}/commits/{sha}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ).json()
        parents = answered[f"c{i}"]["parents"]["nodes"]
        assert [p["oid"] for p in parents] == [p["sha"] for p in rest["parents"]]


def test_parents_from_the_history_are_those_asked_by_sha(served, world) -> None:
    """A first load's pull request commits take their parents from the default branch's history where it
    holds them (merged with a merge commit) and ask the others: the same parents as asking every one by
    SHA, and only the others are asked (a point per 100)."""
    svc = max(
        (s for s in world.services if s.on_github),
        key=lambda s: sum(pr.merge_method == "merge" for pr in s.pulls),
    )
    gql, usage = _client(served)
    history = graphql.HistoryParents(lambda: True)
    assert history.reads(svc.repository, lambda: [])
    history.put(svc.repository, graphql.read_history(gql, svc.repository, None, END - timedelta(days=120)))

    def page(known) -> tuple[list[dict], int, int]:
        """The first page's nodes with their parents filled, the SHAs asked and the points spent on them."""
        gql, usage = _client(served)
        owner, name = svc.repository.split("/")
        variables = {"owner": owner, "name": name, "first": 100, "after": None}
        data = gql.query(graphql.PULL_REQUESTS_QUERY, variables, "pull requests")
        nodes = data["repository"]["pullRequests"]["nodes"]
        documents: list[str] = []
        query = gql.query

        def counted(document: str, *args, **kwargs) -> dict:
            documents.append(document)
            return query(document, *args, **kwargs)

        gql.query = counted  # type: ignore[method-assign]
        before = usage.points
        graphql.fill_parents(gql, svc.repository, nodes, known)
        return nodes, sum(d.count("object(oid:") for d in documents), usage.points - before

    known = history.take(svc.repository)
    from_history, asked_with, spent_with = page(known)
    asked, asked_without, spent_without = page(None)
    commits = [graphql.children(node)["pull_request_commits"] for node in from_history]
    assert commits == [graphql.children(node)["pull_request_commits"] for node in asked]
    assert all(listed is not None for listed in commits)
    on_history = [c for listed in commits for c in listed if known(c["sha"]) is not None]
    assert on_history and len(on_history) < sum(len(listed) for listed in commits)
    # the others asked by SHA, 100 a point
    total = sum(len(listed) for listed in commits)
    assert (asked_with, asked_without) == (total - len(on_history), total)
    assert (spent_with, spent_without) == (-(-asked_with // 100), -(-total // 100))
