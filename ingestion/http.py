"""HTTP plumbing shared by the API sources: a retrying session and errors that are safe to show.

Both GitHub and PagerDuty throttle and occasionally fail; a refresh should ride through that instead of
aborting a half-hour backfill on one 502. When it does give up, the error must say which endpoint failed
(so the operator knows what to look at) and must never contain the token (errors end up in logs, Dagster
run records and bug reports).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.hooks import default_hooks, dispatch_hook

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# Failures of the connection itself, including a body cut off before its announced length.
def failure_chain(exc: BaseException) -> str:
    """The exception's type and those it wraps, outermost first: `ConnectionError < ProtocolError <
    RemoteDisconnected`, an OS error with its errno name (`ConnectionResetError ECONNRESET`).

    Types and errno names only, never a message: urllib3's messages carry the URL (and so a query's token).
    """
    names: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(names) < 6:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, OSError) and current.errno in errno.errorcode:
            name = f"{name} {errno.errorcode[current.errno]}"
        if not names or names[-1] != name:
            names.append(name)
        wrapped = [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            wrapped.append(reason)
        wrapped += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo.extend(wrapped)
    return " < ".join(names)


RETRY_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class ApiError(RuntimeError):
    """A request failed for good. The message names the endpoint (method and path) but no credentials."""

    def __init__(self, message: str, *, status: int | None = None, path: str = ""):
        super().__init__(message)
        self.status = status
        self.path = path


class ApiAuthError(ApiError):
    """The API rejected the credentials (401): retrying cannot help, the token must be fixed."""


class RetryBudgetExhausted(ApiError):
    """Every retry of a throttled or failing request was spent."""


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a refresh is with a throttling or flaky API.

    `max_retries` retries follow the first attempt. Waits follow the server when it says how long
    (Retry-After, GitHub's X-RateLimit-Reset) and grow exponentially from `backoff_factor` otherwise;
    no single wait exceeds `max_wait_seconds`, so a far-away rate-limit reset cannot hang a run for an hour.
    """

    max_retries: int = 5
    backoff_factor: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: <scheme> <token>`, with a repr that never shows the token."""

    def __init__(self, token: str, scheme: str = "Bearer"):
        self._token = token
        self._scheme = scheme

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"{self._scheme} {self._token}"
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme={self._scheme!r}, token=***)"


@functools.lru_cache(maxsize=64)
def json_selector(path: str) -> Any:
    """A dlt data selector (`$`, `workflow_runs`) compiled once: dlt's client parses a selector given as
    text again for every page, building a JSONPath parser each time (about a seventh of a request's CPU)."""
    from dlt.common.jsonpath import compile_path

    return compile_path(path)


def endpoint_of(url: str | None) -> str:
    """The path of a URL without host or query: enough to name an endpoint, nothing secret."""
    return urlsplit(url or "").path or "/"


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _is_rate_limited(response: requests.Response) -> bool:
    """GitHub answers an exhausted primary rate limit with 403 (or 429) and X-RateLimit-Remaining: 0."""
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    if response.headers.get("X-RateLimit-Remaining") == "0":
        return True
    # secondary rate limits come as 403 with Retry-After
    return response.headers.get("Retry-After") is not None


# An integer orjson would not read exactly (it reads one beyond 64 bits as a float: 20 digits or more, or a
# negative one of 19 or more), found without parsing: every byte that may stand before a JSON number (`:`,
# `,`, `[`, whitespace) maps to "s", the minus sign to "m", every digit to "0", anything else to "x"; the
# body is then searched for "s" and twenty "0"s, and for "m" and nineteen: two passes in C. A digit run
# inside a string (a commit SHA holds 20 digits in a row every few hundred SHAs) is preceded by a letter or
# a quote and does not count, so such pages keep orjson's parse. The regex rb"\d{20}" rescanned each run
# of digits from every position in it, several times slower than parsing the body.
_NUMBER_START = frozenset(b":,[ \t\r\n")
_NUMBER_SHAPE = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x73 if byte in _NUMBER_START else 0x6D if byte == 0x2D else 0x78
    for byte in range(256)
)
_LONG_POSITIVE, _LONG_NEGATIVE = b"s" + b"0" * 20, b"m" + b"0" * 19
_LEADING_LONG_INTEGER = re.compile(b"s*(?:0{20}|m0{19})")  # a body that is one such integer


def has_long_integer(body: bytes) -> bool:
    """Whether `body` may hold a JSON integer orjson would not keep exactly: a number of 20 digits or more,
    or a negative one of 19 or more. A run of digits inside a string after one of the bytes that may
    precede a number counts too, which only costs the slower parse."""
    shape = body.translate(_NUMBER_SHAPE)
    return (
        _LONG_POSITIVE in shape or _LONG_NEGATIVE in shape or _LEADING_LONG_INTEGER.match(shape) is not None
    )


def _body_problem(response: requests.Response) -> str | None:
    """Why a successful answer's body is unusable as JSON (cut off, an HTML page), or None when it parses.

    A proxy or an overloaded server may answer 200 with half a body; parsing it later would fail far from
    the request (in dlt's extraction, naming a resource), and a second try usually succeeds. The detail
    names the position of the problem, never the body's content. The body parsed here is what the
    answer's first `json()` returns (_parsed_once): a page is decoded once, not twice.
    """
    if response.status_code not in range(200, 300) or response.status_code == 204:
        return None
    if response.request is not None and response.request.method == "HEAD":
        return None
    try:
        if has_long_integer(response.content):
            raise TypeError  # orjson reads an integer beyond 64 bits as a float: the standard parser keeps it
        parsed = orjson.loads(response.content)
    except (orjson.JSONDecodeError, TypeError):
        # what orjson does not take (not UTF-8, NaN) the standard parser may
        try:
            parsed = json.loads(response.content)
        except json.JSONDecodeError as exc:
            return f"response not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        except ValueError:  # bytes in no Unicode encoding
            return "response not JSON (not valid text)"
    _parsed_once(response, parsed)
    return None


def _parsed_once(response: requests.Response, parsed: Any) -> None:
    """The answer's `json()` returns `parsed` the first time, a fresh parse after (its reader may change
    the objects it got). A class, not a closure on the answer: a closure would tie the answer to itself,
    and its body would wait for the garbage collector instead of going with its last reference."""
    response.__class__ = _ParsedResponse
    response._parsed = parsed  # type: ignore[attr-defined]
    if type(parsed) is dict:  # its plain fields (a listing's `total_count`), for top_level_value
        response._scalars = {  # type: ignore[attr-defined]
            key: value for key, value in parsed.items() if type(value) not in (dict, list)
        }


def top_level_value(response: requests.Response, key: str) -> Any:
    """A plain field (not an object or a list) of the JSON object an answer holds, None when absent: from
    the parse made when the answer arrived (`_parsed_once`), so a page that was handed on is not parsed
    again (a page of Actions runs is about half a megabyte)."""
    scalars = getattr(response, "_scalars", None)
    if scalars is not None:
        return scalars.get(key)
    body = response.json()
    return body.get(key) if isinstance(body, dict) else None


_TAKEN = object()


class _ParsedResponse(requests.Response):
    _parsed: Any = _TAKEN
    _scalars: dict[str, Any] | None = None

    def json(self, **kwargs: Any) -> Any:
        if self._parsed is _TAKEN or kwargs:
            return super().json(**kwargs)
        out, self._parsed = self._parsed, _TAKEN
        return out


def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class ApiUsage:
    """What one refresh spent of an API's rate budget, and the budget's state as last answered.

    Every request a session sends is counted (retries included: the server counts them too), GraphQL
    points as the answers report them. The budget is kept per rate-limit resource (`core` for REST,
    `graphql`), from `X-RateLimit-Remaining`/`-Reset`. When what is left falls to the reserve, requests
    wait for the reset instead of spending the rest: the refresh slows down, it does not fail, and it does
    not hammer an exhausted budget. The reserve leaves room for requests already in flight on other threads
    (the GitHub source reads ahead in up to five resources, four requests each: 20 at once).
    """

    def __init__(
        self,
        api_name: str = "API",
        *,
        reserve: dict[str, int] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.api_name = api_name
        self.reserve = {"core": 25, "graphql": 100, **(reserve or {})}
        self.requests = 0
        self.points = 0
        self.waits = 0
        self.budget: dict[str, tuple[int, int, int | None]] = {}  # resource: (remaining, reset, limit)
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def add_points(self, points: int) -> None:
        with self._lock:
            self.points += max(0, int(points))

    def observe(self, response: requests.Response, resource: str) -> None:
        """Remember the budget a response reports (GitHub names its resource in a header of its own)."""
        remaining = _header_int(response, "X-RateLimit-Remaining")
        reset = _header_int(response, "X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        resource = response.headers.get("X-RateLimit-Resource") or resource
        self.note(resource, remaining, reset, _header_int(response, "X-RateLimit-Limit"))

    def note(self, resource: str, remaining: int, reset: int, limit: int | None = None) -> None:
        with self._lock:
            known = self.budget.get(resource)
            # answers of parallel requests arrive out of order: within one window the lowest count stands
            if known is not None and known[1] == reset and known[0] < remaining:
                return
            self.budget[resource] = (remaining, reset, limit)

    def wait_for_budget(self, resource: str) -> None:
        """Block until `resource` has more than its reserve left, sleeping to the reset when it has not."""
        while True:
            with self._lock:
                known = self.budget.get(resource)
                if known is None:
                    return
                remaining, reset, limit = known
                if remaining > self.reserve.get(resource, 0):
                    return
                now = self._clock()
                if reset <= now:
                    # the window has passed: one request learns the new one
                    self.budget[resource] = (limit or self.reserve.get(resource, 0) + 1, reset, limit)
                    return
                wait = reset - now + 1.0
                self.waits += 1
            at = time.strftime("%H:%M:%S UTC", time.gmtime(reset))
            log.warning(
                "%s rate limit nearly spent (%s %s left): waiting %.0fs for the reset at %s, then resuming",
                self.api_name,
                remaining,
                "points" if resource == "graphql" else "requests",
                wait,
                at,
            )
            self._sleep(wait)

    def snapshot(self) -> dict[str, Any]:
        """Requests and points so far, and the budget as last answered (per resource)."""
        with self._lock:
            return {
                "requests": self.requests,
                "points": self.points,
                "waits": self.waits,
                "budget": {
                    name: {"remaining": remaining, "reset": reset, "limit": limit}
                    for name, (remaining, reset, limit) in self.budget.items()
                },
            }


def rate_resource(url: str | None) -> str:
    """The GitHub rate-limit resource a request spends: GraphQL's points or REST's core requests."""
    return "graphql" if endpoint_of(url).endswith("/graphql") else "core"


class RetryingSession(requests.Session):
    """A requests session that retries throttled and failed requests, then fails with a clear error.

    dlt's RESTClient attaches its own raise-for-status hook to every request; hooks are held back here
    until the final response, otherwise the first 502 would raise before we could retry it. With
    `expect_json` (every API source here), a 2xx answer whose body does not parse as JSON counts as
    failed too and is retried like a 5xx, so no caller parses a truncated body.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        api_name: str = "API",
        sleep: Callable[[float], None] = time.sleep,
        expect_json: bool = True,
        usage: ApiUsage | None = None,
    ):
        super().__init__()
        self.policy = policy or RetryPolicy()
        self.api_name = api_name
        self.expect_json = expect_json
        self.usage = usage
        self._sleep = sleep
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests' settings from the environment (proxies, `NO_PROXY`, CA bundles, `.netrc` aside), read
        once per scheme and host of this session, not for every request: requests scans the whole
        environment twice a request for them, about a fifth of a request's CPU here. A request with its
        own proxies, stream, verify or cert settings merges them afresh, as requests does."""
        if proxies or stream is not None or verify is not None or cert is not None or not url:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else url
        scheme, host = urlsplit(text)[:2]
        settings = self._environment.get((scheme, host))
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[(scheme, host)] = settings
        return {**settings, "proxies": dict(settings["proxies"])}

    def _primary_reset_wait(self, response: requests.Response | None) -> float | None:
        """Seconds to an exhausted primary rate limit's reset (None: not that case). Waited for in full,
        without spending a retry: running out of budget is a pause, not a failure."""
        if response is None or self.usage is None or not _is_rate_limited(response):
            return None
        if response.headers.get("X-RateLimit-Remaining") != "0" or _retry_after_seconds(response) is not None:
            return None
        reset = _header_int(response, "X-RateLimit-Reset")
        if reset is None:
            return None
        return min(max(reset - time.time(), 0.0) + 1.0, 3700.0)

    def _wait_for(self, response: requests.Response | None, attempt: int) -> float:
        policy = self.policy
        wait: float | None = None
        if response is not None:
            wait = _retry_after_seconds(response)
            if wait is None and response.headers.get("X-RateLimit-Remaining") == "0":
                reset = response.headers.get("X-RateLimit-Reset")
                if reset and reset.isdigit():
                    wait = max(int(reset) - time.time(), 0.0) + 1.0
        if wait is None:
            wait = policy.backoff_factor * (2**attempt) * (1 + random.random() * 0.1)
        return min(wait, policy.max_wait_seconds)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.policy.timeout_seconds)
        hooks = request.hooks
        request.hooks = default_hooks()
        path = endpoint_of(request.url)
        what = f"{self.api_name} {request.method} {path}"
        try:
            attempt = resets = 0
            while True:
                response: requests.Response | None = None
                problem: str
                resource = rate_resource(request.url)
                if self.usage is not None:
                    self.usage.wait_for_budget(resource)
                    self.usage.count_request()
                try:
                    response = super().send(request, **kwargs)
                except RETRY_EXCEPTIONS as exc:
                    problem = f"connection failed ({failure_chain(exc)})"
                else:
                    if self.usage is not None:
                        self.usage.observe(response, resource)
                    reset_wait = self._primary_reset_wait(response)
                    if reset_wait is not None and resets < 3:
                        resets += 1
                        at = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + reset_wait))
                        log.warning(
                            "%s: rate limit spent, waiting %.0fs for the reset at %s", what, reset_wait, at
                        )
                        response.close()
                        self._sleep(reset_wait)
                        continue
                    if response.status_code == 401:
                        raise ApiAuthError(
                            f"{what}: the token was rejected (401 Unauthorized); check the configured token",
                            status=401,
                            path=path,
                        )
                    retryable = response.status_code in RETRY_STATUSES or _is_rate_limited(response)
                    if retryable:
                        problem = f"status {response.status_code}"
                    else:
                        bad_body = _body_problem(response) if self.expect_json else None
                        if bad_body is None:
                            break
                        problem = bad_body
                if attempt >= self.policy.max_retries:
                    raise RetryBudgetExhausted(
                        f"{what}: gave up after {attempt + 1} attempts, last {problem}",
                        status=response.status_code if response is not None else None,
                        path=path,
                    )
                wait = self._wait_for(response, attempt)
                log.warning("%s: %s, retrying in %.1fs", what, problem, wait)
                if response is not None:
                    response.close()
                self._sleep(wait)
                attempt += 1
        finally:
            request.hooks = hooks
        if response.status_code >= 400:
            detail = response.text[:300].replace("\n", " ") if response.text else ""
            reason = f"{response.status_code} {response.reason or ''}".strip()
            raise ApiError(
                f"{what}: failed with status {reason}: {detail}".rstrip(" :"),
                status=response.status_code,
                path=path,
            )
        return dispatch_hook("response", hooks, response, **kwargs)
