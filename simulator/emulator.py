"""An HTTP emulator of GitHub REST, PagerDuty REST v2, GitLab and Jenkins over a simulated organisation.

It behaves like the real services where a client can get it wrong: token auth and 401s, `Link` header
pagination with capped `per_page`, rate-limit headers and a spendable budget, ETag / If-None-Match 304s,
PagerDuty offset pagination, `since`/`until` filters, and faults injected on demand. `set_now` serves the
world as it was at a moment, so incremental loads can be tested across time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

from simulator.automation import served_reviews
from simulator.clock import iso, parse_iso
from simulator.faults import (
    BODY_KINDS,
    LISTING_KINDS,
    Fault,
    current_listing_fault,
    listing_fault,
    parse_faults,
    shift_listing,
)
from simulator.github import ExtrasRenderer, Renderer, branch_tips, tag_sha
from simulator.github_graphql import GitHubGraph, GraphQLError, parse, query_cost
from simulator.gitlab import GitLabApi, GitLabError
from simulator.jenkins import JenkinsApi, JenkinsError
from simulator.pagerduty import PagerDutyRenderer
from simulator.world import Commit, PullRequest, Service, World

GITHUB_DOCS = "https://docs.github.com/rest"
# Rendered answers kept for ETags and repeated reads, bounded by count and by size (a large org's pages
# would otherwise hold gigabytes), and filtered listings kept while clients page through them.
CACHE_BYTES = 64 * 1024 * 1024
LISTINGS_KEPT = 256


def _filters(params: dict[str, str]) -> tuple:
    """The query parameters that choose a listing's records (not the page of it)."""
    return tuple(sorted((k, v) for k, v in params.items() if k not in ("page", "per_page")))


def _dumps(payload: Any) -> bytes:
    """A JSON body: compact UTF-8 from orjson (several times faster than the standard encoder, most of
    what the emulator spends on a large listing); the standard encoder where orjson refuses (integers
    beyond 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(payload)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(payload, separators=(",", ":")).encode()


class HttpError(Exception):
    """An API error response: status, JSON body and extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _gh_error(status: int, message: str) -> HttpError:
    return HttpError(status, {"message": message, "documentation_url": GITHUB_DOCS, "status": str(status)})


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except ValueError:
        return default


def _created_range(value: str) -> tuple[datetime | None, datetime | None]:
    """GitHub's `created` qualifier: `>=T`, `>T`, `<=T`, `<T`, `A..B` (`*` open), or one date."""

    def at(text: str, end_of_day: bool = False) -> datetime | None:
        if text in ("", "*"):
            return None
        ts = parse_iso(text if "T" in text else text + "T00:00:00Z")
        return ts + timedelta(days=1, seconds=-1) if end_of_day and "T" not in text else ts

    try:
        if ".." in value:
            low, high = value.split("..", 1)
            return at(low), at(high, True)
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                ts = at(value[len(op) :], op == "<=")
                if op == ">" and ts is not None:
                    ts += timedelta(seconds=1)
                if op == "<" and ts is not None:
                    ts -= timedelta(seconds=1)
                return (ts, None) if op.startswith(">") else (None, ts)
        return at(value), at(value, True)
    except ValueError:
        raise HttpError(
            422, {"message": "Validation Failed", "documentation_url": GITHUB_DOCS, "status": "422"}
        ) from None


class Emulator:
    """Serve a `World` as GitHub (under `/github`) and PagerDuty (under `/pagerduty`) on a local port."""

    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        port: int = 0,
        github_token: str = "gh-demo-token",
        pagerduty_token: str = "pd-demo-token",
        rate_limit: int = 5000,
        gitlab_token: str = "gl-demo-token",
        jenkins_user: str = "deploybot",
        jenkins_token: str = "jenkins-demo-token",
        now: datetime | None = None,
        graphql_rate_limit: int = 5000,
        rate_reset_seconds: float = 3600.0,
        review_comments: bool = False,
    ):
        """`now`: serve the world as it was then (default its end); `advance` moves it forward.
        `review_comments`: serve line comments on the engineers' non-approving reviews, through REST and
        GraphQL alike (`Renderer.review_comments`); off, pull requests have none (the orgs' records)."""
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be a timezone-aware datetime")
        self.world = world
        self.review_comments = review_comments
        self.host = host
        self.port = port
        self.github_token = github_token
        self.pagerduty_token = pagerduty_token
        self.rate_limit = rate_limit
        self.gitlab_token = gitlab_token
        self.jenkins_auth = "Basic " + base64.b64encode(f"{jenkins_user}:{jenkins_token}".encode()).decode()
        self.rate_used = 0
        # GraphQL has a budget of its own (points, not requests); both windows restart together here
        self.graphql_rate_limit = graphql_rate_limit
        self.graphql_used = 0
        self.rate_reset_seconds = rate_reset_seconds
        self.rate_reset = self._next_reset()
        self._usage: dict[str, dict[str, int]] = {}
        self.now = world.end if now is None else min(now, world.end)
        self.requests: list[tuple[str, str, int]] = []
        self._faults: list[Fault] = []
        self.faults_served: list[tuple[str, str]] = []  # (kind, target) of every request a fault changed
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cache: OrderedDict[tuple, tuple[int, bytes, dict[str, str]]] = OrderedDict()
        self._cache_bytes = 0
        # Filtered, ordered listings as of `now`, kept while a client pages through them: a page then costs
        # the page, not a pass over the service's whole history (see `_listing`).
        self._listings: OrderedDict[tuple, list] = OrderedDict()
        self._services = {svc.name: svc for svc in world.services}
        self._pd_services = {pd.pd_service_id: pd for pd in world.pd_services}
        self._incidents = {inc.incident_id: inc for inc in world.incidents}
        self._deployments = {dep.deployment_id: dep for svc in world.services for dep in svc.deployments}
        # (no tuples per record: allocating millions of containers sets off full garbage collections over
        # the whole world, seconds at the large org's size)
        self._runs = {run.run_id: run for svc in world.services for run in svc.runs}
        self._run_services = {run.run_id: svc.name for svc in world.services for run in svc.runs}
        self._main_order: dict[str, list[Commit]] = {}  # built per service on first use
        self._branches: dict[str, dict[str, PullRequest]] = {}
        self.gh: Renderer | None = None
        self.pd: PagerDutyRenderer | None = None
        self.gitlab: GitLabApi | None = None
        self.jenkins: JenkinsApi | None = None
        # seconds each answer waits before it is sent, as a real API's round trip would (benchmarks only)
        self.latency_s = 0.0

    # ----------------------------------------------------------------- control
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        """Start serving in a background thread; returns self so `Emulator(...).start()` reads naturally."""
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self.gh = ExtrasRenderer(self.world, f"{self.url}/github")
        self.pd = PagerDutyRenderer(self.world, f"{self.url}/pagerduty")
        self.gitlab = GitLabApi(self.world, f"{self.url}/gitlab")
        self.jenkins = JenkinsApi(self.world, f"{self.url}/jenkins")
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="deploylens-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_now(self, ts: datetime | None = None) -> None:
        """Serve the world as it was at `ts` (clamped to the world's history; default its end)."""
        ts = self.world.end if ts is None else ts
        if ts.tzinfo is None:
            raise ValueError("set_now needs a timezone-aware datetime")
        with self._lock:
            self.now = min(ts, self.world.end)
            self._forget()

    def advance(self, days: float = 1.0) -> datetime:
        """Move the served clock `days` forward (never past the world's end); returns the new `now`.

        The world holds its whole history, so what happened in the meantime (commits, reviews, merges,
        deployments and their statuses, incidents and their resolution) simply becomes visible."""
        if not days >= 0:
            raise ValueError("the clock only moves forward: days must be 0 or more")
        with self._lock:
            self.now = min(self.now + timedelta(days=days), self.world.end)
            self._forget()
            return self.now

    def _forget(self) -> None:
        """Drop what was served for another `now` (holding the lock)."""
        self._cache.clear()
        self._cache_bytes = 0
        self._listings.clear()

    def _listing(self, key: tuple, produce: Callable[[], list]) -> list:
        """The listing `key` names (resource, filters and `now`), produced once while clients page it."""
        with self._lock:
            hit = self._listings.get(key)
            if hit is not None:
                self._listings.move_to_end(key)
                return hit
        items = produce()
        with self._lock:
            self._listings[key] = items
            while len(self._listings) > LISTINGS_KEPT:
                self._listings.popitem(last=False)
        return items

    def _main_order_of(self, svc: Service) -> list[Commit]:
        """The service's commits reachable from main, newest first (built on first use)."""
        order = self._main_order.get(svc.name)
        if order is None:
            order = [c for c in svc.commits.values() if c.reach_index is not None]
            order.sort(key=lambda c: (c.committed_at, c.reach_index or 0), reverse=True)
            self._main_order[svc.name] = order
        return order

    def _branch_pull(self, svc: Service, branch: str) -> PullRequest | None:
        """The first pull request (by number) whose head branch is `branch`."""
        index = self._branches.get(svc.name)
        if index is None:
            index = {}
            for pr in svc.pulls:
                index.setdefault(pr.branch, pr)
            self._branches[svc.name] = index
        return index.get(branch)

    def inject_fault(
        self,
        path_regex: str,
        status: int | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        *,
        kind: str | None = None,
        api: str | None = None,
        seconds: float | None = None,
    ) -> Fault:
        """Make the next `times` requests (None: every one) whose path with query matches `path_regex`
        fail: with `status` (and `retry_after`), or as `kind` says (docs/simulator.md, "Faults").

        `api` narrows the fault to one API and matches `path_regex` below its prefix (`/repos/...`
        rather than `/github/repos/...`).
        """
        if (status is None) == (kind is None):
            raise ValueError("inject_fault needs a status or a kind (one of them)")
        fault = Fault(
            path_regex,
            str(status) if kind is None else kind,
            times,
            api,
            retry_after if seconds is None else seconds,
        )
        return self.add_faults([fault])[0]

    def add_faults(self, faults: str | list[Fault]) -> list[Fault]:
        """Add faults from a spec string (`parse_faults`) or a list; returns what was added."""
        added = parse_faults(faults) if isinstance(faults, str) else list(faults)
        with self._lock:
            self._faults.extend(added)
            self._cache.clear()
        return added

    def clear_faults(self) -> None:
        """Remove every injected fault (those already spent included)."""
        with self._lock:
            self._faults.clear()

    def reset_rate_limit(
        self, limit: int | None = None, *, graphql_limit: int | None = None, seconds: float | None = None
    ) -> None:
        """Start a fresh rate-limit window (optionally with new budgets, or a new window length)."""
        with self._lock:
            if limit is not None:
                self.rate_limit = limit
            if graphql_limit is not None:
                self.graphql_rate_limit = graphql_limit
            if seconds is not None:
                self.rate_reset_seconds = seconds
            self.rate_used = 0
            self.graphql_used = 0
            self.rate_reset = self._next_reset()

    def _next_reset(self) -> int:
        return int(time.time() + self.rate_reset_seconds + 0.999)

    def _roll_window(self) -> None:
        """Like GitHub, start a new window once the reset time has passed (caller holds the lock)."""
        if time.time() >= self.rate_reset:
            self.rate_used = 0
            self.graphql_used = 0
            self.rate_reset = self._next_reset()

    def usage(self) -> dict[str, dict[str, int]]:
        """Requests served per API since the start (GitHub also: GraphQL requests and points charged)."""
        with self._lock:
            out = {api: dict(counts) for api, counts in self._usage.items()}
        github = out.setdefault("github", {})
        for key in ("requests", "graphql_requests", "graphql_points"):
            github.setdefault(key, 0)
        return out

    def _count(self, api: str, key: str, amount: int = 1) -> None:
        with self._lock:
            counts = self._usage.setdefault(api, {})
            counts[key] = counts.get(key, 0) + amount

    # ---------------------------------------------------------------- dispatch
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request; returns status, body and headers. Thread-safe."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        api = path.strip("/").split("/", 1)[0]
        if api and api != "_control":
            self._count(api, "requests")
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        multi = parse_qs(parts.query)
        if path.startswith("/_control/"):
            return self._control(method, path, params)
        fault = self._take_fault(target)
        if fault is not None and fault.kind not in BODY_KINDS + LISTING_KINDS:
            return self._fault_answer(fault)
        if fault is not None and fault.kind == "timeout":
            # hang past the client's timeout; the answer that follows finds nobody listening
            time.sleep(65.0 if fault.seconds is None else fault.seconds)
        with listing_fault(fault.kind if fault is not None and fault.kind in LISTING_KINDS else None):
            if method == "POST" and path == "/github/graphql":
                status, answer, extra = self._github_graphql(body, headers)
            else:
                status, answer, extra = self._route(method, path, params, multi, target, headers)
        if fault is not None and fault.kind == "truncate" and status == 200 and answer:
            answer = answer[: max(1, len(answer) // 2)]
        return status, answer, extra

    def _control(self, method: str, path: str, params: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """The emulator's own routes (no token, no faults): `POST /_control/advance?days=N` moves the clock
        forward and answers `{"now": iso}`; `GET /_control/now` tells the clock; `GET /_control/usage` counts
        requests (and GraphQL points) per API."""
        if path == "/_control/usage" and method == "GET":
            return self._json(200, self.usage(), {})
        if path == "/_control/advance":
            if method != "POST":
                return self._json(405, {"message": "POST /_control/advance?days=N"}, {"Allow": "POST"})
            try:
                days = float(params.get("days", "1"))
                now = self.advance(days)
            except (ValueError, OverflowError) as exc:
                return self._json(400, {"message": f"days: {exc}"}, {})
            return self._json(200, {"now": iso(now)}, {})
        if path == "/_control/now" and method in ("GET", "HEAD"):
            return self._json(200, {"now": iso(self.now), "end": iso(self.world.end)}, {})
        return self._json(404, {"message": "Not Found"}, {})

    def _fault_answer(self, fault: Fault) -> tuple[int, bytes, dict[str, str]]:
        """The error answer of a status fault, with the headers a real API sends with it."""
        extra: dict[str, str] = {}
        if fault.kind in ("429", "secondary") or (fault.kind.isdigit() and fault.seconds is not None):
            extra["Retry-After"] = str(int(1 if fault.seconds is None else fault.seconds))
        status = 403 if fault.kind in ("secondary", "ratelimit") else int(fault.kind)
        if fault.kind == "ratelimit":
            reset = int(time.time() + (1 if fault.seconds is None else fault.seconds))
            extra.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
            message = "API rate limit exceeded for user ID 1."
        elif fault.kind == "secondary":
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            )
        else:
            message = f"Injected fault {status}"
        body = {"message": message, "documentation_url": GITHUB_DOCS}
        return status, json.dumps(body).encode(), {"Content-Type": "application/json", **extra}

    def _route(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        multi: dict[str, list[str]],
        target: str,
        headers: dict[str, str],
    ) -> tuple[int, bytes, dict[str, str]]:
        if method not in ("GET", "HEAD"):
            return 405, b'{"message": "Method not allowed"}', {"Content-Type": "application/json"}
        if path.startswith("/github/") or path == "/github":
            return self._github(path[len("/github") :] or "/", params, target, headers)
        if path.startswith("/gitlab/api/v4/"):
            return self._gitlab(path[len("/gitlab/api/v4") :], target, headers)
        if path.startswith("/jenkins/") or path == "/jenkins":
            return self._jenkins(path[len("/jenkins") :] or "/", target, headers)
        if path.startswith("/pagerduty/") or path == "/pagerduty":
            return self._pagerduty(path[len("/pagerduty") :] or "/", params, multi, headers)
        return 404, b'{"message": "Not Found"}', {"Content-Type": "application/json"}

    def _take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(target):
                    fault.served += 1
                    self.faults_served.append((fault.kind, target))
                    return fault
        return None

    # ------------------------------------------------------------------ GitHub
    def _github(self, path: str, params: dict[str, str], target: str, headers: dict[str, str]):
        auth = headers.get("authorization", "")
        match = re.match(r"^(?:bearer|token)\s+(\S+)$", auth.strip(), re.IGNORECASE)
        if not auth:
            raise_ = _gh_error(401, "Requires authentication")
            return self._json(raise_.status, raise_.body, {})
        if not match or match.group(1) != self.github_token:
            raise_ = _gh_error(401, "Bad credentials")
            return self._json(raise_.status, raise_.body, {})
        with self._lock:
            self._roll_window()
            if self.rate_used >= self.rate_limit:
                rate = self._rate_headers(0)
                err = _gh_error(
                    403,
                    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support "
                    "for help, please include the request ID.",
                )
                return self._json(403, err.body, rate)
            now = self.now
        try:
            status, body, extra = self._cached(
                ("gh", target, now, current_listing_fault()), lambda: self._github_route(path, params, target)
            )
        except HttpError as err:
            with self._lock:
                self.rate_used += 1
                rate = self._rate_headers(self.rate_limit - self.rate_used)
            return self._json(err.status, err.body, {**rate, **err.headers})
        etag = extra["ETag"]
        conditional = headers.get("if-none-match")
        with self._lock:
            if not (conditional and etag in [t.strip() for t in conditional.split(",")]):
                self.rate_used += 1  # GitHub does not charge conditional requests answered with 304
            rate = self._rate_headers(self.rate_limit - self.rate_used)
        if conditional and etag in [t.strip() for t in conditional.split(",")]:
            return 304, b"", {**rate, "ETag": etag}
        return status, body, {**extra, **rate}

    def _github_graphql(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """`POST /graphql`: the query subset simulator/github_graphql.py serves, charged in points."""
        auth = headers.get("authorization", "")
        match = re.match(r"^(?:bearer|token)\s+(\S+)$", auth.strip(), re.IGNORECASE)
        if not match or match.group(1) != self.github_token:
            message = "This endpoint requires you to be authenticated." if not auth else "Bad credentials"
            return self._json(401, {"message": message, "documentation_url": GITHUB_DOCS}, {})
        self._count("github", "graphql_requests")
        try:
            request = json.loads(body or b"{}")
            document, variables = request.get("query"), request.get("variables") or {}
            if not isinstance(document, str) or not isinstance(variables, dict):
                raise GraphQLError("A query attribute must be specified and must be a string.")
            defaults, selections = parse(document)
            variables = {**{k: v for k, v in defaults.items() if v is not None}, **variables}
            for name in defaults:
                variables.setdefault(name, None)
            cost = query_cost(selections, variables)
        except (GraphQLError, ValueError) as exc:
            error = exc.as_error() if isinstance(exc, GraphQLError) else {"message": "Problems parsing JSON"}
            status = 200 if isinstance(exc, GraphQLError) else 400
            return self._json(status, {"errors": [error]}, self._graphql_rate_headers())
        with self._lock:
            self._roll_window()
            if self.graphql_used + cost > self.graphql_rate_limit:
                rate = self._graphql_rate_headers()
                error = {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}
                return self._json(200, {"errors": [error]}, {**rate, "X-RateLimit-Remaining": "0"})
            self.graphql_used += cost
            now = self.now
            limit, remaining = self.graphql_rate_limit, self.graphql_rate_limit - self.graphql_used
            reset = self.rate_reset
        self._count("github", "graphql_points", cost)
        rate = {
            "cost": cost,
            "limit": limit,
            "remaining": remaining,
            "used": limit - remaining,
            "resetAt": datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nodeCount": 0,
        }
        assert self.gh is not None
        graph = GitHubGraph(
            self.world,
            self.gh,
            now,
            lambda svc, pr: self._pull_files(svc, pr, now),
            self._listing,
            lambda svc, ref, since, listed: self._history(svc, ref, since, now, listed),
            lambda svc, pr: self._review_comments(svc, pr, now),
            lambda run_id: self._run_at(run_id, now),
        )
        try:
            data = graph.execute(selections, variables, rate)
        except GraphQLError as exc:
            return self._json(200, {"data": None, "errors": [exc.as_error()]}, self._graphql_rate_headers())
        answer = {"data": data, "errors": graph.errors} if graph.errors else {"data": data}
        return self._json(200, answer, self._graphql_rate_headers())

    def _run_at(self, run_id: int, now: datetime) -> tuple[Service, Any] | None:
        """An Actions run and its service, where the REST API serves it at `now` (else None)."""
        run = self._runs.get(run_id)
        if run is None or run.created_at > now or not self.world.extras:
            return None
        svc = self._services[self._run_services[run_id]]
        return (svc, run) if svc.on_github else None

    def _graphql_rate_headers(self) -> dict[str, str]:
        with self._lock:
            used = min(self.graphql_used, self.graphql_rate_limit)
            return {
                "X-RateLimit-Limit": str(self.graphql_rate_limit),
                "X-RateLimit-Remaining": str(self.graphql_rate_limit - used),
                "X-RateLimit-Reset": str(self.rate_reset),
                "X-RateLimit-Used": str(used),
                "X-RateLimit-Resource": "graphql",
            }

    def _pull_files(self, svc: Service, pr: Any, now: datetime) -> list[dict[str, Any]]:
        """The files a pull request touches as of `now`, by name (each file's latest change stands)."""
        gh = self.gh
        assert gh is not None
        files: dict[str, dict] = {}
        for sha in pr.shas_at(now, svc.commits):
            for entry in gh.commit(svc, svc.commits[sha], detail=True).get("files", []):
                files[entry["filename"]] = entry
        return sorted(files.values(), key=lambda f: f["filename"])

    def _review_comments(self, svc: Service, pr: Any, now: datetime) -> list[dict[str, Any]]:
        """The pull request's line comments as of `now` (none unless the emulator serves them)."""
        gh = self.gh
        assert gh is not None
        files = self._pull_files(svc, pr, now) if self.review_comments else []
        if not files:
            return []
        reviews = served_reviews(self.world, svc, pr, now)
        return gh.review_comments(svc, pr, reviews, files[0]["filename"], now)

    def _rate_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(min(self.rate_used, self.rate_limit)),
            "X-RateLimit-Resource": "core",
        }

    def _cached(self, key: tuple, produce) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        payload, link = produce()
        body = _dumps(payload)
        extra = {
            "Content-Type": "application/json; charset=utf-8",
            "ETag": f'W/"{hashlib.sha1(body).hexdigest()}"',
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }
        if link:
            extra["Link"] = link
        result = (200, body, extra)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = result
                self._cache_bytes += len(body)
            while len(self._cache) > 4000 or self._cache_bytes > CACHE_BYTES:
                _, (_, dropped, _) = self._cache.popitem(last=False)
                self._cache_bytes -= len(dropped)
        return result

    def _paginate(self, items: list, params: dict[str, str], target: str) -> tuple[list, str | None]:
        per_page = max(1, min(100, _int_param(params, "per_page", 30)))
        page = max(1, _int_param(params, "page", 1))
        items = shift_listing(items, per_page, current_listing_fault())
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}

        def link(p: int) -> str:
            q = dict(query, page=str(p))
            if "per_page" in query:
                q["per_page"] = str(per_page)
            return f"{self.url}{parts.path}?{urlencode(q)}"

        rels = []
        if page > 1:
            rels.append(f'<{link(min(page - 1, last))}>; rel="prev"')
        if page < last:
            rels += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            rels.append(f'<{link(1)}>; rel="first"')
        return chunk, ", ".join(rels) or None

    def _service_for(self, owner: str, repo: str) -> Service:
        svc = self._services.get(repo)
        if svc is None or owner.lower() != self.world.org.lower() or not svc.on_github:
            raise _gh_error(404, "Not Found")
        return svc

    def _github_route(self, path: str, params: dict[str, str], target: str) -> tuple[Any, str | None]:
        now = self.now
        gh = self.gh
        assert gh is not None
        m = re.fullmatch(r"/orgs/([^/]+)/repos", path)
        if m:
            if m.group(1).lower() != self.world.org.lower():
                raise _gh_error(404, "Not Found")
            repo_type = params.get("type", "all")
            on_github = [svc for svc in self.world.services if svc.on_github]
            repos = [] if repo_type in ("public", "forks") else on_github
            sort = params.get("sort", "created")
            direction = params.get("direction", "asc" if sort == "full_name" else "desc")
            keyfn = {
                "full_name": lambda s: s.repository,
                "created": lambda s: (s.created_at, s.repo_id),
            }.get(sort, lambda s: (self.world.end, s.repo_id))
            repos.sort(key=keyfn, reverse=direction == "desc")
            chunk, link = self._paginate(repos, params, target)
            return [gh.repository(s) for s in chunk], link
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not m:
            raise _gh_error(404, "Not Found")
        svc = self._service_for(m.group(1), m.group(2))
        rest = m.group(3) or ""
        if rest == "":
            return gh.repository(svc), None
        if rest == "/pulls":
            pulls = self._listing(
                ("pulls", svc.name, now, _filters(params)), lambda: self._pulls(svc, params, now)
            )
            chunk, link = self._paginate(pulls, params, target)
            return [gh.pull(svc, pr, now) for pr in chunk], link
        m = re.fullmatch(r"/pulls/(\d+)(/commits|/reviews)?", rest)
        if m:
            number = int(m.group(1))
            pr = svc.pulls[number - 1] if 0 < number <= len(svc.pulls) else None
            if pr is None or pr.opened_at > now:
                raise _gh_error(404, "Not Found")
            if m.group(2) is None:
                return gh.pull(svc, pr, now, full=True), None
            if m.group(2) == "/commits":
                commits = [svc.commits[s] for s in pr.shas_at(now, svc.commits)][:250]
                chunk, link = self._paginate(commits, params, target)
                return [gh.commit(svc, c) for c in chunk], link
            reviews = served_reviews(self.world, svc, pr, now)
            chunk, link = self._paginate(reviews, params, target)
            return [gh.review(svc, pr, r) for r in chunk], link
        if rest == "/commits":
            return self._commits(svc, params, target, now)
        if rest == "/branches":
            tips = branch_tips(svc, now)
            if "protected" in params:
                wanted = params["protected"].lower() in ("true", "1")
                tips = [(name, tip) for name, tip in tips if (name == "main") == wanted]
            chunk, link = self._paginate(tips, params, target)
            return [gh.branch(svc, name, tip) for name, tip in chunk], link
        m = re.fullmatch(r"/commits/([^/]+)", rest)
        if m:
            commit = self._resolve(svc, m.group(1), now)
            if commit is None:
                raise HttpError(
                    422,
                    {
                        "message": f"No commit found for SHA: {m.group(1)}",
                        "documentation_url": GITHUB_DOCS,
                        "status": "422",
                    },
                )
            return gh.commit(svc, commit, detail=True), None
        if self.world.extras:
            extra = self._github_extras(svc, rest, params, target, now)
            if extra is not None:
                return extra
        if rest == "/deployments":
            # services that ship through Actions, Jenkins or tags never call the Deployments API
            deps = self._listing(
                ("deployments", svc.name, now, _filters(params)),
                lambda: self._deployments_of(svc, params, now),
            )
            chunk, link = self._paginate(deps, params, target)
            return [gh.deployment(svc, d, now) for d in chunk], link
        m = re.fullmatch(r"/deployments/(\d+)(/statuses)?", rest)
        if m:
            dep = self._deployments.get(int(m.group(1)))
            owners = {svc.name, *(part.name for part in svc.path_services)}  # a monorepo's services
            if dep is None or dep.created_at > now or svc.delivery != "github" or dep.service not in owners:
                raise _gh_error(404, "Not Found")
            if m.group(2) is None:
                return gh.deployment(svc, dep, now), None
            statuses = [s for s in dep.statuses if s.created_at <= now]
            statuses.sort(key=lambda s: (s.created_at, s.status_id), reverse=True)
            chunk, link = self._paginate(statuses, params, target)
            return [gh.deployment_status(svc, dep, s) for s in chunk], link
        raise _gh_error(404, "Not Found")

    @staticmethod
    def _deployments_of(svc: Service, params: dict[str, str], now: datetime) -> list:
        # services that ship through Actions, Jenkins or tags never call the Deployments API
        if svc.delivery != "github" or ("task" in params and params["task"] != "deploy"):
            return []
        # deployments are kept in creation order: those created by `now` are a prefix
        deps = svc.deployments[: bisect_right(svc.deployments, now, key=lambda d: d.created_at)]
        for key, attr in (("sha", "sha"), ("ref", "ref"), ("environment", "environment")):
            if key in params:
                deps = [d for d in deps if getattr(d, attr) == params[key]]
        return sorted(deps, key=lambda d: (d.created_at, d.deployment_id), reverse=True)

    def _runs_of(self, svc: Service, params: dict[str, str], now: datetime) -> list[dict[str, Any]]:
        gh = self.gh
        assert isinstance(gh, ExtrasRenderer)
        runs = [r for r in svc.runs if r.created_at <= now]
        if "branch" in params:
            runs = [r for r in runs if r.head_branch == params["branch"]]
        if "event" in params:
            runs = [r for r in runs if r.event == params["event"]]
        if "head_sha" in params:
            runs = [r for r in runs if r.head_sha == params["head_sha"]]
        if "created" in params:
            low, high = _created_range(params["created"])
            runs = [
                r
                for r in runs
                if (low is None or r.created_at >= low) and (high is None or r.created_at <= high)
            ]
        rendered = [gh.workflow_run(svc, r, now) for r in runs]
        if "status" in params:
            wanted = params["status"]
            rendered = [r for r in rendered if wanted in (r["status"], r["conclusion"])]
        rendered.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        return rendered

    def _github_extras(
        self, svc: Service, rest: str, params: dict[str, str], target: str, now: datetime
    ) -> tuple[Any, str | None] | None:
        """Actions runs and jobs, releases and tags; None when `rest` is none of them."""
        gh = self.gh
        assert isinstance(gh, ExtrasRenderer)
        if rest == "/actions/runs":
            rendered = self._listing(
                ("runs", svc.name, now, _filters(params)), lambda: self._runs_of(svc, params, now)
            )
            chunk, link = self._paginate(rendered, params, target)
            return {"total_count": len(rendered), "workflow_runs": chunk}, link
        m = re.fullmatch(r"/actions/runs/(\d+)(/jobs)?", rest)
        if m:
            run = self._runs.get(int(m.group(1)))
            if run is None or self._run_services[run.run_id] != svc.name or run.created_at > now:
                raise _gh_error(404, "Not Found")
            if m.group(2) is None:
                return gh.workflow_run(svc, run, now), None
            return {"total_count": 1, "jobs": [gh.workflow_job(svc, run, now)]}, None
        m = re.fullmatch(r"/pulls/(\d+)/(files|comments)", rest)
        if m:
            number = int(m.group(1))
            pr = svc.pulls[number - 1] if 0 < number <= len(svc.pulls) else None
            if pr is None or pr.opened_at > now:
                raise _gh_error(404, "Not Found")
            if m.group(2) == "comments":
                if not self.review_comments:
                    return [], None  # reviewers review as a whole (see /reviews), with no line comments
                return self._paginate(self._review_comments(svc, pr, now), params, target)
            return self._paginate(self._pull_files(svc, pr, now), params, target)
        tagged = [d for d in svc.deployments if d.tag and d.deployed_at is not None and d.deployed_at <= now]
        if rest == "/releases":
            tagged.sort(key=lambda d: (d.deployed_at, d.tag), reverse=True)
            chunk, link = self._paginate(tagged, params, target)
            return [gh.release(svc, d) for d in chunk], link
        m = re.fullmatch(r"/git/matching-refs/tags(?:/(.*))?", rest)
        if m:
            prefix = m.group(1) or ""
            refs = sorted((d for d in tagged if (d.tag or "").startswith(prefix)), key=lambda d: d.tag or "")
            chunk, link = self._paginate(refs, params, target)
            return [gh.git_ref(svc, d) for d in chunk], link
        m = re.fullmatch(r"/git/tags/([0-9a-f]{40})", rest)
        if m:
            dep = next((d for d in tagged if tag_sha(svc, d.tag or "") == m.group(1)), None)
            if dep is None:
                raise _gh_error(404, "Not Found")
            return gh.git_tag(svc, dep), None
        if rest == "/tags":
            tagged.sort(key=lambda d: (d.deployed_at, d.tag), reverse=True)
            chunk, link = self._paginate(tagged, params, target)
            return [gh.tag(svc, d) for d in chunk], link
        return None

    def _pulls(self, svc: Service, params: dict[str, str], now: datetime) -> list[PullRequest]:
        gh = self.gh
        assert gh is not None
        state = params.get("state", "open")
        # numbers follow opening order, so the pull requests open by `now` are a prefix; except the pull
        # requests of fixes forward, numbered after all others whenever they opened (world.py `_add_fixes`)
        regular = len(svc.pulls)
        while regular and svc.pulls[regular - 1].fix_kind is not None:
            regular -= 1
        pulls = svc.pulls[: bisect_right(svc.pulls, now, hi=regular, key=lambda pr: pr.opened_at)]
        pulls += [pr for pr in svc.pulls[regular:] if pr.opened_at <= now]

        def closed_at(pr) -> bool:
            return pr.closed_at is not None and pr.closed_at <= now

        if state == "open":
            pulls = [pr for pr in pulls if not closed_at(pr)]
        elif state == "closed":
            pulls = [pr for pr in pulls if closed_at(pr)]
        elif state != "all":
            raise HttpError(
                422, {"message": "Validation Failed", "documentation_url": GITHUB_DOCS, "status": "422"}
            )
        if "base" in params:
            pulls = [pr for pr in pulls if params["base"] == "main"]
        sort = params.get("sort", "created")
        direction = params.get("direction", "desc")
        rendered_updated = {}
        if sort in ("updated", "long-running", "popularity"):
            for pr in pulls:
                rendered_updated[pr.number] = gh.pull_order(svc, pr, now)["updated_at"]
            pulls.sort(key=lambda pr: (rendered_updated[pr.number], pr.number), reverse=direction == "desc")
        else:
            pulls.sort(key=lambda pr: (pr.opened_at, pr.number), reverse=direction == "desc")
        return pulls

    def _resolve(self, svc: Service, ref: str, now: datetime) -> Commit | None:
        if ref in ("main", "HEAD", "refs/heads/main"):
            # main is appended in time order: its head at `now` is the last commit committed by then
            count = bisect_right(svc.main, now, key=lambda sha: svc.commits[sha].committed_at)
            return svc.commits[svc.main[count - 1]] if count else None
        pr = self._branch_pull(svc, ref)
        if pr is not None and pr.opened_at <= now:
            shas = pr.shas_at(now, svc.commits)
            return svc.commits[shas[-1]] if shas else None
        exact = svc.commits.get(ref)
        if exact is not None:
            return exact if exact.committed_at <= now else None
        if re.fullmatch(r"[0-9a-f]{7,39}", ref):
            matches = [c for sha, c in svc.commits.items() if sha.startswith(ref) and c.committed_at <= now]
            if len(matches) == 1:
                return matches[0]
        return None

    def _commits(self, svc: Service, params: dict[str, str], target: str, now: datetime):
        gh = self.gh
        assert gh is not None
        ref = params.get("sha", "main")
        head = self._resolve(svc, ref, now)
        if head is None:
            raise HttpError(
                404,
                {
                    "message": "No commit found for SHA: " + ref,
                    "documentation_url": GITHUB_DOCS,
                    "status": "404",
                },
            )
        commits = self._listing(
            ("commits", svc.name, now, _filters(params)), lambda: self._commit_listing(svc, head, params)
        )
        chunk, link = self._paginate(commits, params, target)
        return [gh.commit(svc, c) for c in chunk], link

    def _history(
        self, svc: Service, ref: str, since: str | None, now: datetime, listed: bool
    ) -> tuple[Commit | None, list]:
        """A branch's head at `now` and (`listed`) the commits the REST listing gives for it: GraphQL's
        `history`."""
        head = self._resolve(svc, ref, now)
        if head is None or not listed:
            return head, []
        params = {"sha": ref, **({"since": since} if since else {})}
        commits = self._listing(
            ("commits", svc.name, now, _filters(params)), lambda: self._commit_listing(svc, head, params)
        )
        return head, commits

    def _commit_listing(self, svc: Service, head: Commit, params: dict[str, str]) -> list[Commit]:
        if head.main_index is not None:  # a point on main: everything main had reached by then
            position = head.main_index
            commits = [c for c in self._main_order_of(svc) if (c.reach_index or 0) <= position]
        else:
            seen: set[str] = set()
            stack = [head.sha]
            commits = []
            while stack:
                sha = stack.pop()
                if sha in seen:
                    continue
                seen.add(sha)
                commit = svc.commits[sha]
                commits.append(commit)
                stack.extend(commit.parents)
            commits.sort(key=lambda c: (c.committed_at, c.reach_index or 0), reverse=True)
        if "since" in params:
            since = parse_iso(params["since"])
            commits = [c for c in commits if c.committed_at >= since]
        if "until" in params:
            until = parse_iso(params["until"])
            commits = [c for c in commits if c.committed_at <= until]
        if "author" in params:
            commits = [
                c for c in commits if c.author.login == params["author"] or c.author.email == params["author"]
            ]
        return commits

    # ------------------------------------------------------------ GitLab, Jenkins
    def _gitlab(self, path: str, target: str, headers: dict[str, str]):
        token = headers.get("private-token") or ""
        bearer = re.match(r"^bearer\s+(\S+)$", headers.get("authorization", "").strip(), re.IGNORECASE)
        if token != self.gitlab_token and not (bearer and bearer.group(1) == self.gitlab_token):
            return self._json(401, {"message": "401 Unauthorized"}, {})
        assert self.gitlab is not None
        with self._lock:
            now = self.now
        try:
            payload, extra = self.gitlab.route(path, target, now)
        except GitLabError as err:
            return self._json(err.status, err.body, {})
        return self._json(200, payload, extra)

    def _jenkins(self, path: str, target: str, headers: dict[str, str]):
        if headers.get("authorization", "").strip() != self.jenkins_auth:
            return (
                401,
                b"Unauthorized",
                {"Content-Type": "text/html;charset=utf-8", "WWW-Authenticate": "Basic"},
            )
        assert self.jenkins is not None
        with self._lock:
            now = self.now
        try:
            payload = self.jenkins.route(path, target, now)
        except JenkinsError as err:
            return err.status, err.message.encode(), {"Content-Type": "text/html;charset=utf-8"}
        return self._json(200, payload, {"X-Jenkins": "2.479.3"})

    # --------------------------------------------------------------- PagerDuty
    def _pagerduty(
        self, path: str, params: dict[str, str], multi: dict[str, list[str]], headers: dict[str, str]
    ):
        auth = headers.get("authorization", "").strip()
        if auth != f"Token token={self.pagerduty_token}":
            body = {"error": {"message": "Unauthorized", "code": 2006, "errors": ["Authentication required"]}}
            return self._json(401, body, {})
        with self._lock:
            now = self.now
        try:
            payload = self._pagerduty_route(path, params, multi, now)
        except HttpError as err:
            return self._json(err.status, err.body, err.headers)
        return self._json(200, payload, {})

    def _offset_page(self, items: list, params: dict[str, str], key: str) -> dict[str, Any]:
        limit = max(1, min(100, _int_param(params, "limit", 25)))
        offset = max(0, _int_param(params, "offset", 0))
        items = shift_listing(items, limit, current_listing_fault())
        chunk = items[offset : offset + limit]
        return {
            key: chunk,
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if params.get("total", "false").lower() == "true" else None,
        }

    def _incident_listing(self, params, multi, now: datetime) -> list[dict[str, Any]]:
        pd = self.pd
        assert pd is not None
        # incidents are kept in creation order: those created by `now` are a prefix
        incidents = self.world.incidents[
            : bisect_right(self.world.incidents, now, key=lambda i: i.created_at)
        ]
        if params.get("date_range") != "all":
            try:
                until = parse_iso(params["until"]) if "until" in params else now
                since = parse_iso(params["since"]) if "since" in params else until - timedelta(days=30)
            except ValueError:
                raise HttpError(
                    400,
                    {
                        "error": {
                            "message": "Invalid Input Provided",
                            "code": 2001,
                            "errors": ["Since or until is not a valid date"],
                        }
                    },
                ) from None
            if since > until:
                raise HttpError(
                    400,
                    {
                        "error": {
                            "message": "Invalid Input Provided",
                            "code": 2001,
                            "errors": ["Since must be before until"],
                        }
                    },
                )
            incidents = [i for i in incidents if since <= i.created_at < until]
        service_ids = multi.get("service_ids[]", []) + multi.get("service_ids", [])
        if service_ids:
            incidents = [i for i in incidents if i.pd_service_id in service_ids]
        rendered = [pd.incident(i, self._pd_services[i.pd_service_id], now) for i in incidents]
        statuses = multi.get("statuses[]", []) + multi.get("statuses", [])
        if statuses:
            rendered = [r for r in rendered if r["status"] in statuses]
        sort_by = params.get("sort_by", "created_at:asc")
        field, _, order = sort_by.partition(":")
        if field not in ("created_at", "resolved_at", "incident_number", "urgency"):
            field = "created_at"
        rendered.sort(key=lambda r: (r.get(field) or "", r["incident_number"]), reverse=order == "desc")
        return rendered

    def _pagerduty_route(self, path: str, params, multi, now: datetime) -> Any:
        pd = self.pd
        assert pd is not None
        if path == "/services":
            services = sorted(self.world.pd_services, key=lambda s: s.name.lower())
            if "query" in params:
                services = [s for s in services if params["query"].lower() in s.name.lower()]
            page = self._offset_page(services, params, "services")
            page["services"] = [pd.service(s, now) for s in page["services"]]
            return page
        m = re.fullmatch(r"/services/([A-Z0-9]+)", path)
        if m:
            svc = self._pd_services.get(m.group(1))
            if svc is None:
                raise HttpError(404, {"error": {"message": "Not Found", "code": 2100}})
            return {"service": pd.service(svc, now)}
        if path == "/incidents":
            chosen = sorted((k, tuple(v)) for k, v in multi.items() if k not in ("offset", "limit", "total"))
            key = ("incidents", now, tuple(chosen))
            rendered = self._listing(key, lambda: self._incident_listing(params, multi, now))
            return self._offset_page(rendered, params, "incidents")
        m = re.fullmatch(r"/incidents/([A-Z0-9]+)", path)
        if m:
            inc = self._incidents.get(m.group(1))
            if inc is None or inc.created_at > now:
                raise HttpError(404, {"error": {"message": "Not Found", "code": 2100}})
            return {"incident": pd.incident(inc, self._pd_services[inc.pd_service_id], now)}
        raise HttpError(404, {"error": {"message": "Not Found", "code": 2100}})

    @staticmethod
    def _json(status: int, payload: Any, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        return (
            status,
            _dumps(payload),
            {"Content-Type": "application/json; charset=utf-8", **headers},
        )

    def _record(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, target, status))


class _Server(ThreadingHTTPServer):
    # The listen backlog. socketserver's default of 5 overflows when a source opens its concurrent
    # connections while the emulator's threads hold the interpreter: the kernel drops the handshakes (a
    # second's SYN retransmit each), then answers with SYN cookies, and a cookie that no longer validates
    # resets the connection (`ConnectionResetError` in the client). A web server's backlog is hundreds
    # (nginx: 511); the kernel caps it at `net.core.somaxconn`.
    request_queue_size = 1024
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    emulator: Emulator
    protocol_version = "HTTP/1.1"
    server_version = "deploylens-emulator"
    # One buffered write per response and no Nagle delay: unbuffered header/body writes cost ~40 ms a request.
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        payload = self.rfile.read(length) if length else b""
        try:
            status, body, extra = self.emulator.handle(method, self.path, headers, payload)
        except Exception as exc:  # an emulator bug must surface as a 500, not a hung client
            status, body, extra = 500, json.dumps({"message": f"emulator error: {exc}"}).encode(), {}
        self.emulator._record(method, self.path, status)
        if self.emulator.latency_s:
            time.sleep(self.emulator.latency_s)  # a network's round trip: each request waits on its own
        try:
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method != "HEAD" and body:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (an injected timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass
