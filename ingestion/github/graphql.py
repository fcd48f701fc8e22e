"""Pull requests (with their commits, reviews, review comments and files) and deployments (with their
statuses) through GitHub's GraphQL API, many to a request.

REST costs about five requests per pull request (its page, commits, reviews, comments, files); one GraphQL
query returns a page of pull requests with all of that nested. Nested lists come in one page each: a pull
request with more (commits, reviews, files, review threads or comments beyond the page, or a renamed file,
whose previous name GraphQL does not give) is marked so that list is read through REST for that pull request
only. Every node is turned into the object REST serves (the fields the source keeps), so rows, quarantine
screening and shaping are the same on both paths.

Points: GitHub charges each connection once per parent it may be resolved for. Leaf lists (labels, reviews,
files) cost one request per pull request whatever their page size, so they are asked 100 at a time; the
nested ones (a commit's parents, a thread's comments) multiply, so their parents' pages stay small.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from dlt.sources.helpers.rest_client import RESTClient

from ingestion.http import ApiError, ApiUsage

from .helpers import parse_ts

log = logging.getLogger(__name__)

PULL_REQUEST_PAGE = 50
DEPLOYMENT_PAGE = 50
# nested pages whose children are connections themselves: each costs one request per item of the page
COMMIT_PAGE = 20  # a commit's parents
THREAD_PAGE = 10  # a thread's comments
NESTED_PAGE = 100

PULL_REQUESTS_QUERY = """
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number databaseId title state createdAt updatedAt closedAt mergedAt
        author { login }
        mergeCommit { oid }
        potentialMergeCommit { oid }
        headRefOid headRefName baseRefName baseRefOid additions deletions changedFiles
        labels(first: 100) { totalCount nodes { name } }
        commits(first: COMMIT_PAGE) {
          totalCount
          nodes {
            commit {
              oid message
              author { name email date user { login } }
              committer { name email date user { login } }
              parents(first: 5) { totalCount nodes { oid } }
            }
          }
        }
        reviews(first: 100) {
          totalCount
          nodes { databaseId state submittedAt author { login __typename } commit { oid } }
        }
        reviewThreads(first: THREAD_PAGE) {
          totalCount
          nodes {
            comments(first: 100) {
              totalCount
              nodes {
                databaseId path createdAt updatedAt authorAssociation
                author { login __typename }
                commit { oid }
                pullRequestReview { databaseId }
                replyTo { databaseId }
              }
            }
          }
        }
        files(first: 100) { totalCount nodes { path additions deletions changeType } }
      }
    }
  }
}
""".replace("COMMIT_PAGE", str(COMMIT_PAGE)).replace("THREAD_PAGE", str(THREAD_PAGE))

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
# An incremental run's first page is small (a few pull requests changed since the last run, usually),
# later pages full.
FIRST_INCREMENTAL_PAGE = 10

DEPLOYMENTS_QUERY = """
query Deployments($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt limit }
  repository(owner: $owner, name: $name) {
    deployments(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId commitOid task environment originalEnvironment payload createdAt updatedAt
        ref { name }
        creator { login __typename }
        statuses(first: 100) {
          totalCount
          nodes { databaseId state environment createdAt updatedAt creator { login } }
        }
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

    def query(self, document: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """The `data` of an answer. An answer of errors raises ApiError (a missing repository as a 404,
        so the source's availability rules apply); a spent budget waits for its reset and asks again."""
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
) -> Iterator[list[dict]]:
    owner, name = full_name.split("/", 1)
    after = None
    page_size = first_size or size
    while True:
        variables = {"owner": owner, "name": name, "first": page_size, "after": after}
        page_size = size
        data = gql.query(document, variables, f"{connection} of {full_name}")
        listed = ((data.get("repository") or {}).get(connection)) or {}
        yield listed.get("nodes") or []
        info = listed.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        after = info.get("endCursor")


def read_pull_requests(
    gql: GraphQLClient, full_name: str, behind: Callable[[dict], bool], incremental: bool = False
) -> list[list[dict]]:
    """Pages of pull request nodes, newest-updated first, up to and including the first page whose every
    pull request is `behind` the cursor (a listing that shifts while paged can carry one across a page).

    `incremental` (a cursor exists): the newest pull request is asked alone first, and nothing more when
    it lies behind the cursor; else the first page is a small one."""
    if incremental:
        owner, name = full_name.split("/", 1)
        data = gql.query(
            NEWEST_PULL_REQUEST_QUERY, {"owner": owner, "name": name}, f"pull requests of {full_name}"
        )
        newest = (((data.get("repository") or {}).get("pullRequests") or {}).get("nodes")) or []
        if not newest or behind(newest[0]):
            return []
    out = []
    first = FIRST_INCREMENTAL_PAGE if incremental else None
    for page in _pages(gql, PULL_REQUESTS_QUERY, "pullRequests", full_name, PULL_REQUEST_PAGE, first):
        out.append(page)
        if page and all(behind(node) for node in page):
            break
    return out


def read_deployments(gql: GraphQLClient, full_name: str, floor: datetime | None) -> list[list[dict]]:
    """Pages of deployment nodes, newest first, up to and including the first page wholly behind `floor`."""
    out = []
    for page in _pages(gql, DEPLOYMENTS_QUERY, "deployments", full_name, DEPLOYMENT_PAGE):
        out.append(page)
        if floor is not None and page and all(parse_ts(n["createdAt"]) < floor for n in page):
            break
    return out


T = TypeVar("T")
R = TypeVar("R")


def in_order(items: Iterable[T], fetch: Callable[[T], R], max_concurrency: int) -> Iterator[tuple[T, R]]:
    """`(item, fetch(item))` in the order of `items`, up to `max_concurrency` fetches running at once.

    Results are handed over in input order, so what is loaded does not depend on which request answered
    first; at most `max_concurrency` results wait in memory. A failed fetch raises when its turn comes."""
    items = list(items)
    if max_concurrency <= 1 or len(items) <= 1:
        for item in items:
            yield item, fetch(item)
        return
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="github-graphql") as pool:
        pending: list[tuple[T, Future[R]]] = []
        queue = iter(items)
        try:
            for item in queue:
                pending.append((item, pool.submit(fetch, item)))
                if len(pending) >= max_concurrency:
                    break
            while pending:
                item, future = pending.pop(0)
                result = future.result()
                following = next(queue, None)
                if following is not None:
                    pending.append((following, pool.submit(fetch, following)))
                yield item, result
        finally:
            for _, future in pending:
                future.cancel()


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


# ------------------------------------------------------------------------------------- nested lists
def _complete(connection: dict | None) -> list[dict] | None:
    """A nested connection's nodes, or None when it holds more than its page (read through REST then)."""
    connection = connection or {}
    nodes = connection.get("nodes") or []
    return nodes if connection.get("totalCount", len(nodes)) <= len(nodes) else None


def children(node: dict) -> dict[str, list[dict] | None]:
    """A pull request node's nested lists in REST shape by resource; None for a list to read via REST."""
    commits = _complete(node.get("commits"))
    if commits is not None and any(_complete(c["commit"].get("parents")) is None for c in commits):
        commits = None
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
    return {
        "pull_request_commits": None if commits is None else [commit(c) for c in commits],
        "pull_request_reviews": None if reviews is None else [review(r) for r in reviews],
        "pull_request_review_comments": None if comments is None else [review_comment(c) for c in comments],
        "pull_request_files": None if files is None else [changed_file(f) for f in files],
    }


def statuses(node: dict) -> list[dict] | None:
    listed = _complete(node.get("statuses"))
    return None if listed is None else [deployment_status(s) for s in listed]
