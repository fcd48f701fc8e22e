"""Pull requests (with their commits, reviews, review comments and files), deployments (with their
statuses), a branch's commits (its history, on a repository's first load) and the jobs of Actions runs
(their check suites' check runs) through GitHub's GraphQL API, many to a request.

REST costs about five requests per pull request (its page, commits, reviews, comments, files); one GraphQL
query returns a page of pull requests with all of that nested. Nested lists come in one page each: a pull
request with more (commits, reviews, files, review threads or comments beyond the page, or a renamed file,
whose previous name GraphQL does not give) is marked so that list is read through REST for that pull request
only. Every node is turned into the object REST serves (the fields the source keeps), so rows, quarantine
screening and shaping are the same on both paths.

Points: GitHub charges each connection once per parent it may be resolved for (the product of the `first`
arguments above it), the sum divided by 100. Leaf lists (labels, commits, reviews, files) cost one request
per pull request whatever their page size, so they are asked 100 at a time; the nested ones (a commit's
parents, a thread's comments) multiply, so the first pass asks the commits without their parents and only
the number of review threads: a page of 100 costs 5 points (4 without files). The commits' parents are
then taken from the repository's default-branch history read in the same load where it holds the commit
(`parents_of`), and asked for the others by SHA, an aliased `object(oid:)` each, 100 to a query (one
point). A second pass asks, for the pull requests that have review threads, exactly that many (`first` =
the total count), packed into queries of at most 100 requests (one point each).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient

from ingestion.ahead import in_order  # noqa: F401 (the sources read repositories concurrently)
from ingestion.dates import iso_seconds, parse_ts
from ingestion.http import ApiError, ApiUsage

log = logging.getLogger(__name__)

# a page of 100 costs 5 points (100 x 5 requests, plus the page's own); 50 would cost 3 (rounded up). A first
# load starts with a page of 25 (1 point) and sizes the last page to what is left: a repository's few pull
# requests are not charged as a full page.
PULL_REQUEST_PAGE = 100
FIRST_PULL_REQUEST_PAGE = 25
DEPLOYMENT_PAGE = 100  # 101 requests: one point
# a pull request's commits, without their parents: a leaf list, one request per pull request of the page
# whatever its size (a pull request with more is read through REST)
COMMIT_PAGE = 100
NESTED_PAGE = 100
# the second pass: requests per query (GitHub's unit before dividing by 100), so each query costs a point
DETAIL_REQUESTS = 100
# commits whose parents one query asks by SHA (`object(oid:)`, one request each): one point
PARENTS_BATCH = 100

BARE_COMMIT_FIELDS = """
              oid message
              author { name email date user { login } }
              committer { name email date user { login } }
"""
PARENTS_FIELD = "parents(first: 5) { totalCount nodes { oid } }"
COMMIT_FIELDS = BARE_COMMIT_FIELDS + "              " + PARENTS_FIELD + "\n"
COMMENT_FIELDS = """
                databaseId path createdAt updatedAt authorAssociation
                author { login __typename }
                commit { oid }
                pullRequestReview { databaseId }
                replyTo { databaseId }
"""

PULL_REQUESTS_QUERY = """
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        number databaseId title state createdAt updatedAt closedAt mergedAt
        author { login }
        mergeCommit { oid }
        potentialMergeCommit { oid }
        headRefOid headRefName baseRefName baseRefOid additions deletions changedFiles
        labels(first: 100) { totalCount nodes { name } }
        commits(first: COMMIT_PAGE) { totalCount nodes { commit { BARE_COMMIT_FIELDS } } }
        reviews(first: 100) {
          totalCount
          nodes { databaseId state submittedAt author { login __typename } commit { oid } }
        }
        reviewThreads(first: 1) { totalCount }
        files(first: 100) { totalCount nodes { path additions deletions changeType } }
      }
    }
  }
}
""".replace("COMMIT_PAGE", str(COMMIT_PAGE)).replace("BARE_COMMIT_FIELDS", BARE_COMMIT_FIELDS)
# The same page without the changed files, for a repository whose files nothing reads (no service of it
# has `paths`): a page of 100 then costs a point less, and the node carries no `files` at all.
FILES_SELECTION = "        files(first: 100) { totalCount nodes { path additions deletions changeType } }\n"
PULL_REQUESTS_QUERY_WITHOUT_FILES = PULL_REQUESTS_QUERY.replace(FILES_SELECTION, "")
assert PULL_REQUESTS_QUERY_WITHOUT_FILES != PULL_REQUESTS_QUERY

# The second pass: one aliased `pullRequest(number:)` per list asked again (PULL_REQUEST_DETAIL).
DETAIL_QUERY = """
query PullRequestLists($owner: String!, $name: String!) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
SELECTIONS
  }
}
"""
DETAIL_LISTS = {
    # field: its selection, with the page size FIRST (it costs 1 + FIRST requests)
    "reviewThreads": "reviewThreads(first: FIRST) { totalCount nodes { comments(first: 100) { totalCount "
    "nodes { " + COMMENT_FIELDS + " } } } }",
}
# The parents of commits by SHA: an aliased `object(oid:)` per commit (PARENTS_OF), its `parents` a request.
PARENTS_QUERY = """
query CommitParents($owner: String!, $name: String!) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
SELECTIONS
  }
}
"""
PARENTS_OF = (
    '    c{i}: object(oid: "{sha}") {{ ... on Commit {{ '
    + PARENTS_FIELD.replace("{", "{{").replace("}", "}}")
    + " }} }}"
)

# The newest-updated pull request alone: one point, against 18 for a page with everything nested. An
# incremental run asks it first, so a repository with nothing changed costs one point.
NEWEST_PULL_REQUEST_QUERY = """
query NewestPullRequest($owner: String!, $name: String!) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { databaseId updatedAt } }
  }
}
"""
# Repositories whose newest pull request one query asks together (aliased `repository` fields): GitHub
# charges the connections' requests over 100, so up to 100 of them cost one point.
NEWEST_PULL_REQUESTS_BATCH = 50
NEWEST_OF = (
    "  r{i}: repository(owner: $o{i}, name: $n{i}) {{\n"
    "    pullRequests(first: 1, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{\n"
    "      nodes {{ databaseId updatedAt }}\n"
    "    }}\n"
    "  }}"
)
# An incremental run's first page is small (a few pull requests changed since the last run, usually),
# later pages full.
FIRST_INCREMENTAL_PAGE = 10

DEPLOYMENT_FIELDS = """
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId commitOid task environment originalEnvironment payload createdAt updatedAt
        ref { name }
        creator { login __typename }
        statuses(first: 100) {
          totalCount
          nodes { databaseId state environment createdAt updatedAt creator { login } }
        }
      }"""
DEPLOYMENTS_QUERY = (
    """
query Deployments($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    deployments(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {"""
    + DEPLOYMENT_FIELDS
    + """
    }
  }
}
"""
)
# Repositories whose first page of deployments one query asks together (aliased `repository` fields): 25
# pages of 100 deployments with 100 statuses each may hold 252,500 nodes, half GitHub's 500,000 a query.
DEPLOYMENTS_BATCH = 25
FIRST_DEPLOYMENTS_OF = (
    "  r{i}: repository(owner: $o{i}, name: $n{i}) {{\n"
    "    deployments(first: DEPLOYMENT_PAGE, orderBy: {{field: CREATED_AT, direction: DESC}}) {{"
    + DEPLOYMENT_FIELDS.replace("{", "{{").replace("}", "}}")
    + "\n    }}\n  }}"
)

# A branch's commits through its head commit's `history`: 100 commits and their parents cost 101 requests,
# one point, where REST lists 100 commits per request. BRANCH is the default branch (`defaultBranchRef`) or
# a named one (`ref(qualifiedName:)`, with its variable declared).
HISTORY_PAGE = 100
HISTORY_QUERY = """
query History($owner: String!, $name: String!, $first: Int!, $after: String, $since: GitTimestamp REF_VAR) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    BRANCH {
      target {
        ... on Commit {
          history(first: $first, after: $after, since: $since) {
            pageInfo { hasNextPage endCursor }
            nodes { COMMIT_FIELDS }
          }
        }
      }
    }
  }
}
""".replace("COMMIT_FIELDS", COMMIT_FIELDS)

# The jobs of up to 100 Actions runs: `nodes(ids:)` takes at most 100 global ids, here the runs' check
# suites (`check_suite_node_id` of a REST run), each with its check runs, one per job; `checkType: LATEST`
# keeps a re-run job's latest check run, as REST's jobs listing keeps the latest attempt. The check runs
# are a leaf list: 100 suites cost 100 requests, one point, whatever the page size.
NODE_IDS = 100
CHECK_RUN_PAGE = 100
CHECK_RUNS_QUERY = """
query CheckRuns($ids: [ID!]!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt limit }
  nodes(ids: $ids) {
    ... on CheckSuite {
      checkRuns(first: $first, after: $after, filterBy: {checkType: LATEST}) {
        pageInfo { hasNextPage endCursor }
        nodes { databaseId name status conclusion startedAt completedAt detailsUrl }
      }
    }
  }
}
"""

# the REST names of GraphQL's enumerations
_FILE_STATUS = {"ADDED": "added", "DELETED": "removed", "MODIFIED": "modified", "RENAMED": "renamed"}
_FILE_STATUS |= {"COPIED": "copied", "CHANGED": "changed"}


def graphql_url(base_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST base URL: api.github.com/graphql, `<host>/api/graphql` on
    GitHub Enterprise Server (REST under /api/v3), `<base>/graphql` elsewhere (the emulator)."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


class GraphQLClient:
    """POSTs queries through the source's REST client's session (same auth, retries and budget)."""

    def __init__(self, client: RESTClient, url: str, usage: ApiUsage | None):
        self.client = client
        self.url = url
        self.usage = usage

    def query(
        self, document: str, variables: dict[str, Any], what: str, missing_nodes: bool = False
    ) -> dict[str, Any]:
        """The `data` of an answer. An answer of errors raises ApiError (a missing repository as a 404,
        so the source's availability rules apply); a spent budget waits for its reset and asks again.
        `missing_nodes`: errors that are all NOT_FOUND beside data (ids of `nodes(ids:)` that resolve to
        nothing, answered as nulls) leave the data as it is."""
        for _ in range(4):
            response = self.client.session.post(
                self.url,
                json={"query": document, "variables": variables},
                headers=self.client.headers,
                auth=self.client.auth,
            )
            body = response.json()
            errors = body.get("errors") or []
            limited = [e for e in errors if e.get("type") == "RATE_LIMITED"]
            if limited:
                self._wait_for_reset(response)
                continue
            if errors and missing_nodes and body.get("data") is not None:
                errors = [e for e in errors if e.get("type") != "NOT_FOUND"]
            if errors:
                first = errors[0]
                status = 404 if first.get("type") == "NOT_FOUND" else 422
                raise ApiError(
                    f"GitHub POST /graphql ({what}): {first.get('message', 'query failed')}",
                    status=status,
                    path="/graphql",
                )
            data = body.get("data") or {}
            cost = (data.get("rateLimit") or {}).get("cost")
            if self.usage is not None and cost is not None:
                self.usage.add_points(int(cost))
            return data
        raise ApiError(
            f"GitHub POST /graphql ({what}): rate limited past its reset", status=403, path="/graphql"
        )

    def _wait_for_reset(self, response: Any) -> None:
        reset = response.headers.get("X-RateLimit-Reset")
        wait = max(int(reset) - time.time(), 0.0) + 1.0 if reset and reset.isdigit() else 60.0
        log.warning("GitHub GraphQL rate limit spent: waiting %.0fs for the reset, then resuming", wait)
        time.sleep(min(wait, 3700.0))


# ---------------------------------------------------------------------------------------------- reading
def _pages(
    gql: GraphQLClient,
    document: str,
    connection: str,
    full_name: str,
    size: int,
    first_size: int | None = None,
    answered: dict | None = None,
) -> Iterator[list[dict]]:
    """The connection's pages: the first of `first_size`, the others of `size`, or of what is left when
    the connection gives its `totalCount` (a page is charged for its `first`, not for what it holds).
    `answered`: the connection's first page, already asked (with other repositories')."""
    owner, name = full_name.split("/", 1)
    after = None
    page_size = first_size or size
    read = 0
    while True:
        if answered is not None:
            listed, answered = answered, None
        else:
            variables = {"owner": owner, "name": name, "first": page_size, "after": after}
            data = gql.query(document, variables, f"{connection} of {full_name}")
            listed = ((data.get("repository") or {}).get(connection)) or {}
        nodes = listed.get("nodes") or []
        read += len(nodes)
        yield nodes
        info = listed.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        after = info.get("endCursor")
        left = (listed.get("totalCount") or 0) - read
        page_size = min(size, left) if left > 0 else size


def newest_pull_requests(gql: GraphQLClient, full_names: Sequence[str]) -> dict[str, dict | None]:
    """Each repository's newest-updated pull request (`databaseId`, `updatedAt`; None without any), asked
    for NEWEST_PULL_REQUESTS_BATCH repositories at a time in one query of aliased `repository` fields."""
    out: dict[str, dict | None] = {}
    for at in range(0, len(full_names), NEWEST_PULL_REQUESTS_BATCH):
        batch = full_names[at : at + NEWEST_PULL_REQUESTS_BATCH]
        answered = _aliased_repositories(gql, "NewestPullRequests", NEWEST_OF, batch, "newest pull requests")
        for full_name, found in answered.items():
            nodes = ((found.get("pullRequests") or {}).get("nodes")) or []
            out[full_name] = nodes[0] if nodes else None
    return out


def read_pull_requests(
    gql: GraphQLClient,
    full_name: str,
    behind: Callable[[dict], bool],
    incremental: bool = False,
    files: bool = True,
    past: Callable[[dict], bool] | None = None,
    probed: bool = False,
    known_parents: Callable[[str], dict | None] | None = None,
) -> list[list[dict]]:
    """Pages of pull request nodes, newest-updated first, up to and including the first page whose every
    pull request is `behind` the cursor, or that holds one `past` it (updated strictly before the cursor's
    instant: every later node is then older still, so behind too, whatever ties the cursor holds).

    `incremental` (a cursor exists): the newest pull request is asked alone first, and nothing more when
    it lies behind the cursor (`probed`: the caller asked it already, with other repositories', and found
    it new); the first page is then a small one. `files`: whether the nodes carry their changed files.
    `known_parents`: a commit's `parents` connection by SHA where this load read it already (the default
    branch's history), else None: those commits' parents are not asked again (`fill_parents`)."""
    if incremental and not probed:
        owner, name = full_name.split("/", 1)
        data = gql.query(
            NEWEST_PULL_REQUEST_QUERY, {"owner": owner, "name": name}, f"pull requests of {full_name}"
        )
        newest = (((data.get("repository") or {}).get("pullRequests") or {}).get("nodes")) or []
        if not newest or behind(newest[0]):
            return []
    out = []
    first = FIRST_INCREMENTAL_PAGE if incremental else FIRST_PULL_REQUEST_PAGE
    document = PULL_REQUESTS_QUERY if files else PULL_REQUESTS_QUERY_WITHOUT_FILES
    kept: list[dict] = []
    for page in _pages(gql, document, "pullRequests", full_name, PULL_REQUEST_PAGE, first):
        out.append(page)
        kept += [node for node in page if not behind(node)]
        complete_pull_requests(gql, full_name, [node for node in page if not behind(node)])
        if page and all(behind(node) for node in page):
            break
        if past is not None and any(past(node) for node in page):
            break
    # the parents of all the pages' commits together: queries of 100 SHAs, whatever the pages held
    fill_parents(gql, full_name, kept, known_parents)
    return out


def _cut_short(node: dict) -> list[tuple[str, int]]:
    """The lists of a first-pass pull request node to ask again, with the page that holds them whole:
    review threads (only counted in the first pass). Threads beyond a page stay as they are (read through
    REST, see `children`)."""
    threads = node.get("reviewThreads") or {}
    total = threads.get("totalCount", 0)
    if len(threads.get("nodes") or []) < total <= NESTED_PAGE:
        return [("reviewThreads", total)]
    return []


def fill_parents(
    gql: GraphQLClient,
    full_name: str,
    nodes: list[dict],
    known: Callable[[str], dict | None] | None = None,
) -> None:
    """The `parents` of the commits of first-pass pull request nodes, in place: from `known` (the default
    branch's history read in this load) where it has the SHA, else asked by SHA, PARENTS_BATCH aliased
    `object(oid:)` fields a query (one request each: a point a query). A pull request with more commits
    than a page is read through REST, so its commits are left alone; a SHA that resolves to no commit
    keeps no `parents`, which sends its pull request's commits through REST too (`children`)."""
    asked: dict[str, list[dict]] = {}
    for node in nodes:
        listed = _complete(node.get("commits"))
        for entry in listed or []:
            inner = entry["commit"]
            if "parents" in inner:
                continue
            found = known(inner["oid"]) if known is not None else None
            if found is not None:
                inner["parents"] = found
            else:
                asked.setdefault(inner["oid"], []).append(inner)
    owner, name = full_name.split("/", 1)
    shas = list(asked)
    for at in range(0, len(shas), PARENTS_BATCH):
        batch = shas[at : at + PARENTS_BATCH]
        selections = "\n".join(PARENTS_OF.format(i=i, sha=sha) for i, sha in enumerate(batch))
        data = gql.query(
            PARENTS_QUERY.replace("SELECTIONS", selections),
            {"owner": owner, "name": name},
            f"commit parents of {full_name}",
        )
        answered = data.get("repository") or {}
        for i, sha in enumerate(batch):
            parents = (answered.get(f"c{i}") or {}).get("parents")
            if parents is not None:
                for inner in asked[sha]:
                    inner["parents"] = parents


def complete_pull_requests(gql: GraphQLClient, full_name: str, nodes: list[dict]) -> None:
    """The second pass: the lists the first pass cut short, asked again whole, in place, packed into
    queries of at most DETAIL_REQUESTS requests (a point each; a list that costs more goes alone)."""
    owner, name = full_name.split("/", 1)
    wanted = [(node, field, first) for node in nodes for field, first in _cut_short(node)]
    batch: list[tuple[dict, str, int]] = []
    spent = 0
    for index, want in enumerate(wanted):
        batch.append(want)
        spent += 1 + want[2]
        following = wanted[index + 1] if index + 1 < len(wanted) else None
        if following is not None and spent + 1 + following[2] <= DETAIL_REQUESTS:
            continue
        selections = "\n".join(
            f"    l{position}: pullRequest(number: {node['number']}) "
            f"{{ {DETAIL_LISTS[field].replace('FIRST', str(first))} }}"
            for position, (node, field, first) in enumerate(batch)
        )
        data = gql.query(
            DETAIL_QUERY.replace("SELECTIONS", selections),
            {"owner": owner, "name": name},
            f"pull request lists of {full_name}",
        )
        answered = data.get("repository") or {}
        for position, (node, field, _) in enumerate(batch):
            found = answered.get(f"l{position}") or {}
            if field in found:
                node[field] = found[field]
        batch, spent = [], 0


def read_history(
    gql: GraphQLClient, full_name: str, branch: str | None, since: datetime | None
) -> list[list[dict]]:
    """The commits reachable from `branch` (None: the default branch) committed at or after `since`,
    newest first, in pages of REST-shaped commits (`commit` below). A commit with more parents than the
    page of parents gives is marked `parents_cut` (the source reads it through REST). No pages when the
    branch (or the repository's default branch: an empty repository) does not exist."""
    owner, name = full_name.split("/", 1)
    if branch is None:
        document = HISTORY_QUERY.replace("REF_VAR", "").replace("BRANCH", "defaultBranchRef")
        extra: dict[str, Any] = {}
    else:
        document = HISTORY_QUERY.replace("REF_VAR", ", $ref: String!").replace(
            "BRANCH", "ref(qualifiedName: $ref)"
        )
        extra = {"ref": f"refs/heads/{branch}"}
    since_text = iso_seconds(since) if since is not None else None
    out: list[list[dict]] = []
    after = None
    while True:
        variables = {"owner": owner, "name": name, "first": HISTORY_PAGE, "after": after, **extra}
        variables["since"] = since_text
        data = gql.query(document, variables, f"commits of {full_name}")
        ref = (data.get("repository") or {}).get("defaultBranchRef" if branch is None else "ref")
        history = ((ref or {}).get("target") or {}).get("history")
        if not history:
            return out
        page = []
        for node in history.get("nodes") or []:
            raw = commit({"commit": node})
            if _complete(node.get("parents")) is None:
                raw["parents_cut"] = True
            page.append(raw)
        out.append(page)
        info = history.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return out
        after = info.get("endCursor")


class HistoryParents:
    """The parents of the commits of each repository's default-branch history read in this load (a first
    load's `read_history`), by SHA, for its pull requests' commits (`fill_parents`): a pull request merged
    with a merge commit brings its commits onto the branch, so their parents need not be asked again.

    The commits resource `put`s each history it reads (or `fail`s it); a repository's pull requests `take`
    its parents, waiting for the history when their first page needs them and it is still being read, and
    `drop` them when done: only the SHAs and their parents' SHAs are kept meanwhile. `active()` says whether
    the commits resource runs in this load (a load may select some resources only); `reads` which
    repositories' history it reads: those whose commits had no cursor when the run started."""

    def __init__(self, active: Callable[[], bool]) -> None:
        self._active = active
        self._lock = threading.Lock()
        self._cursored: frozenset[str] | None = None
        self._read: dict[str, Future[dict[str, tuple[str, ...] | None]]] = {}
        self._dropped: set[str] = set()

    def reads(self, full_name: str, cursored: Callable[[], Iterable[str]]) -> bool:
        """Whether this load reads the history of `full_name`. `cursored()`: the repositories whose commits
        have a cursor, asked on the run's first call (before any history is read)."""
        with self._lock:
            if self._cursored is None and self._active():
                self._cursored = frozenset(cursored())
            return self._cursored is not None and full_name not in self._cursored

    def _future(self, full_name: str) -> Future[dict[str, tuple[str, ...] | None]] | None:
        with self._lock:
            if full_name in self._dropped:
                return None
            return self._read.setdefault(full_name, Future())

    def put(self, full_name: str, pages: list[list[dict]]) -> None:
        """A history as `read_history` gives it: each commit's parents (None: more than their page)."""
        future = self._future(full_name)
        if future is not None and not future.done():
            future.set_result(
                {
                    raw["sha"]: None if raw.get("parents_cut") else tuple(p["sha"] for p in raw["parents"])
                    for page in pages
                    for raw in page
                }
            )

    def fail(self, full_name: str) -> None:
        """The history was not read (an error, or the load stopped before it): nothing is known."""
        future = self._future(full_name)
        if future is not None and not future.done():
            future.set_result({})

    def take(self, full_name: str) -> Callable[[str], dict | None]:
        """A commit's `parents` connection by SHA from the repository's history (None where it has not the
        commit, or not all its parents), the history waited for on the first call. Called after `reads`
        named the repository."""
        future = self._future(full_name)
        parents: dict[str, tuple[str, ...] | None] | None = None

        def known(sha: str) -> dict | None:
            nonlocal parents
            if parents is None:
                parents = future.result() if future is not None else {}
                self.drop(full_name)
            found = parents.get(sha)
            if found is None:
                return None
            return {"totalCount": len(found), "nodes": [{"oid": oid} for oid in found]}

        return known

    def drop(self, full_name: str) -> None:
        """The repository's pull requests are read: its parents are no longer kept (nor put)."""
        with self._lock:
            self._dropped.add(full_name)
            self._read.pop(full_name, None)


def _aliased_repositories(
    gql: GraphQLClient, name: str, of: str, full_names: Sequence[str], what: str
) -> dict[str, dict]:
    """One query's `repository` fields, `of` formatted for each of `full_names` (aliased r0, r1, ...):
    each repository's answer by full name (empty where null)."""
    variables: dict[str, Any] = {}
    for i, full_name in enumerate(full_names):
        variables[f"o{i}"], variables[f"n{i}"] = full_name.split("/", 1)
    arguments = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(len(full_names)))
    selections = "\n".join(of.format(i=i) for i in range(len(full_names)))
    document = (
        f"query {name}({arguments}) {{\n  rateLimit {{ cost remaining resetAt limit }}\n{selections}\n}}"
    )
    data = gql.query(document, variables, f"{what} of {len(full_names)} repositories")
    return {full_name: data.get(f"r{i}") or {} for i, full_name in enumerate(full_names)}


def asked_by_batch(
    full_names: Sequence[str], size: int, ask: Callable[[Sequence[str]], dict[str, Any]]
) -> Callable[[str], Any]:
    """A repository's answer from `ask`, which is given the batch of `size` repositories the name lies in
    (its neighbours in `full_names`) when the first of them is wanted. Concurrent readers of one batch wait
    for its one query; different batches are asked independently, so the next batch's query runs while the
    workers still read the one before. Each answer is held until taken, once."""
    batch_of = {name: index // size for index, name in enumerate(full_names)}
    held: dict[str, Any] = {}
    locks: dict[int, threading.Lock] = {}
    failed: dict[int, BaseException] = {}  # a batch whose query failed fails its other readers too
    asked: set[int] = set()
    guard = threading.Lock()

    def answer(full_name: str) -> Any:
        batch = batch_of[full_name]
        with guard:
            lock = locks.setdefault(batch, threading.Lock())
        with lock:
            if batch in failed:
                raise failed[batch]
            if batch not in asked:
                try:
                    answers = ask(full_names[batch * size : (batch + 1) * size])
                except BaseException as exc:
                    failed[batch] = exc
                    raise
                with guard:
                    held.update(answers)
                asked.add(batch)
        with guard:
            return held.pop(full_name)

    return answer


def first_deployment_pages(gql: GraphQLClient, full_names: Sequence[str]) -> dict[str, dict]:
    """Each repository's first page of deployments (the `deployments` connection: `pageInfo`, `nodes`),
    DEPLOYMENTS_BATCH repositories to a query."""
    of = FIRST_DEPLOYMENTS_OF.replace("DEPLOYMENT_PAGE", str(DEPLOYMENT_PAGE))
    out: dict[str, dict] = {}
    for at in range(0, len(full_names), DEPLOYMENTS_BATCH):
        batch = full_names[at : at + DEPLOYMENTS_BATCH]
        for full_name, found in _aliased_repositories(
            gql, "FirstDeployments", of, batch, "deployments"
        ).items():
            out[full_name] = found.get("deployments") or {}
    return out


def read_deployments(
    gql: GraphQLClient, full_name: str, floor: datetime | None, first: dict | None = None
) -> list[list[dict]]:
    """Pages of deployment nodes, newest first, up to and including the first page reaching behind
    `floor` (created before it): every later page lies wholly behind it. `first`: the first page, when
    asked already (first_deployment_pages)."""
    out = []
    for page in _pages(gql, DEPLOYMENTS_QUERY, "deployments", full_name, DEPLOYMENT_PAGE, answered=first):
        out.append(page)
        if floor is not None and any(parse_ts(n["createdAt"]) < floor for n in page):
            break
    return out


def read_check_runs(gql: GraphQLClient, suites: list[str]) -> dict[str, list[dict] | None]:
    """Each check suite's check runs (latest per job), by the suite's global id, asked NODE_IDS suites a
    query; a suite with more than a page is paged alone. None for a suite that did not resolve (the run
    is gone, or is no check suite here) or whose check runs lack their `databaseId` (read through REST)."""
    out: dict[str, list[dict] | None] = {}
    for start in range(0, len(suites), NODE_IDS):
        batch = suites[start : start + NODE_IDS]
        variables = {"ids": batch, "first": CHECK_RUN_PAGE, "after": None}
        data = gql.query(CHECK_RUNS_QUERY, variables, "check runs", missing_nodes=True)
        nodes = data.get("nodes") or []
        for index, suite in enumerate(batch):
            node = nodes[index] if index < len(nodes) else None
            out[suite] = _suite_check_runs(gql, suite, (node or {}).get("checkRuns"))
    return out


def _suite_check_runs(gql: GraphQLClient, suite: str, listed: dict | None) -> list[dict] | None:
    runs: list[dict] = []
    while listed:
        runs.extend(listed.get("nodes") or [])
        info = listed.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return runs if all(run and run.get("databaseId") is not None for run in runs) else None
        variables = {"ids": [suite], "first": CHECK_RUN_PAGE, "after": info.get("endCursor")}
        data = gql.query(CHECK_RUNS_QUERY, variables, "check runs", missing_nodes=True)
        listed = (((data.get("nodes") or [None])[0]) or {}).get("checkRuns")
    return None


# ----------------------------------------------------------------------------------- REST-shaped objects
def _login(actor: dict | None) -> dict | None:
    return {"login": actor["login"]} if actor and actor.get("login") else None


def _login_and_type(actor: dict | None) -> dict | None:
    """Who, and what kind of account (`Bot`, `User`, ...): GraphQL's type name is REST's `type`."""
    if not actor or not actor.get("login"):
        return None
    return {"login": actor["login"], "type": actor.get("__typename")}


def pull_request(node: dict) -> dict[str, Any]:
    """The pull request as REST's list entry and detail page give the fields the source keeps."""
    merge = node.get("mergeCommit") or node.get("potentialMergeCommit") or {}
    merged = node.get("state") == "MERGED"
    return {
        "id": node["databaseId"],
        "number": node["number"],
        "title": node.get("title"),
        "state": "open" if node.get("state") == "OPEN" else "closed",
        "user": _login(node.get("author")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "closed_at": node.get("closedAt"),
        "merged_at": node.get("mergedAt"),
        "merge_commit_sha": merge.get("oid") if merged or node.get("state") == "OPEN" else None,
        "head": {"sha": node.get("headRefOid"), "ref": node.get("headRefName")},
        "base": {"sha": node.get("baseRefOid"), "ref": node.get("baseRefName")},
        "labels": [{"name": label["name"]} for label in (node.get("labels") or {}).get("nodes") or []],
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "changed_files": node.get("changedFiles"),
    }


def commit(node: dict) -> dict[str, Any]:
    """A pull request commit (`{commit {...}}` node) as REST lists it."""
    inner = node["commit"]

    def person(role: str) -> dict[str, Any]:
        actor = inner.get(role) or {}
        return {"name": actor.get("name"), "email": actor.get("email"), "date": actor.get("date")}

    return {
        "sha": inner["oid"],
        "parents": [{"sha": p["oid"]} for p in (inner.get("parents") or {}).get("nodes") or []],
        "author": _login((inner.get("author") or {}).get("user")),
        "committer": _login((inner.get("committer") or {}).get("user")),
        "commit": {
            "author": person("author"),
            "committer": person("committer"),
            "message": inner.get("message"),
        },
    }


def review(node: dict) -> dict[str, Any]:
    return {
        "id": node["databaseId"],
        "user": _login_and_type(node.get("author")),
        "state": node.get("state"),
        "submitted_at": node.get("submittedAt"),
        "commit_id": (node.get("commit") or {}).get("oid"),
    }


def review_comment(node: dict) -> dict[str, Any]:
    author = node.get("author") or {}
    return {
        "id": node["databaseId"],
        "pull_request_review_id": (node.get("pullRequestReview") or {}).get("databaseId"),
        "in_reply_to_id": (node.get("replyTo") or {}).get("databaseId"),
        "user": {"login": author.get("login"), "type": author.get("__typename")} if author else None,
        "author_association": node.get("authorAssociation"),
        "path": node.get("path"),
        "commit_id": (node.get("commit") or {}).get("oid"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }


def changed_file(node: dict) -> dict[str, Any]:
    additions, deletions = node.get("additions") or 0, node.get("deletions") or 0
    return {
        "filename": node["path"],
        "status": _FILE_STATUS.get(node.get("changeType") or "", (node.get("changeType") or "").lower()),
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
    }


def deployment(node: dict) -> dict[str, Any]:
    payload = node.get("payload")
    try:
        payload = json.loads(payload) if isinstance(payload, str) and payload else payload
    except ValueError:
        pass  # not JSON: kept as the text it is
    return {
        "id": node["databaseId"],
        "sha": node.get("commitOid"),
        "ref": (node.get("ref") or {}).get("name"),
        "task": node.get("task"),
        "environment": node.get("environment"),
        "original_environment": node.get("originalEnvironment"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "creator": _login_and_type(node.get("creator")),
        "payload": payload,
    }


def deployment_status(node: dict) -> dict[str, Any]:
    return {
        "id": node["databaseId"],
        "state": (node.get("state") or "").lower(),
        "environment": node.get("environment"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "creator": _login(node.get("creator")),
    }


def workflow_job(node: dict, run: dict) -> dict[str, Any]:
    """A check run of a run's check suite as REST's jobs listing gives the job: the job's `id` is the
    check run's `databaseId`, its status and conclusion REST's lower-case names, its page the check run's
    `detailsUrl`; the run's fields (attempt, workflow name, head commit and branch) from the run's row. The
    job's `created_at`, runner and labels are not in GraphQL: left out."""
    conclusion = node.get("conclusion")
    return {
        "id": node["databaseId"],
        "run_id": run["id"],
        "run_attempt": run.get("run_attempt"),
        "workflow_name": run.get("name"),
        "head_sha": run.get("head_sha"),
        "head_branch": run.get("head_branch"),
        "name": node.get("name"),
        "status": (node.get("status") or "").lower() or None,
        "conclusion": conclusion.lower() if conclusion else None,
        "started_at": node.get("startedAt"),
        "completed_at": node.get("completedAt"),
        "html_url": node.get("detailsUrl"),
    }


# ------------------------------------------------------------------------------------- nested lists
def _complete(connection: dict | None) -> list[dict] | None:
    """A nested connection's nodes, or None when it holds more than its page (read through REST then)."""
    connection = connection or {}
    nodes = connection.get("nodes") or []
    return nodes if connection.get("totalCount", len(nodes)) <= len(nodes) else None


def children(node: dict) -> dict[str, list[dict] | None]:
    """A pull request node's nested lists in REST shape by resource; None for a list to read via REST.
    A node read without its files (`PULL_REQUESTS_QUERY_WITHOUT_FILES`) has no entry for them."""
    commits = _complete(node.get("commits"))
    if commits is not None and any(
        "parents" not in c["commit"] or _complete(c["commit"]["parents"]) is None for c in commits
    ):
        commits = None  # parents beyond their page, or not found (fill_parents)
    files = _complete(node.get("files"))
    if files is not None and any(f.get("changeType") in ("RENAMED", "COPIED") for f in files):
        files = None  # GraphQL does not give the previous name
    threads = _complete(node.get("reviewThreads"))
    comments: list[dict] | None = []
    for thread in threads if threads is not None else []:
        listed = _complete(thread.get("comments"))
        if listed is None:
            comments = None
            break
        comments.extend(listed)  # type: ignore[union-attr]
    if threads is None:
        comments = None
    reviews = _complete(node.get("reviews"))
    lists = {
        "pull_request_commits": None if commits is None else [commit(c) for c in commits],
        "pull_request_reviews": None if reviews is None else [review(r) for r in reviews],
        "pull_request_review_comments": None if comments is None else [review_comment(c) for c in comments],
        "pull_request_files": None if files is None else [changed_file(f) for f in files],
    }
    if "files" not in node:
        del lists["pull_request_files"]
    return lists


def statuses(node: dict) -> list[dict] | None:
    listed = _complete(node.get("statuses"))
    return None if listed is None else [deployment_status(s) for s in listed]
