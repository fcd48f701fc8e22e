"""A tiny local HTTP stub for source tests, plus tests of the shared HTTP layer (retries, errors).

The stub answers canned responses per path (and optionally per query), in order, repeating the last one;
it records every request so tests can count calls and inspect headers.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ingestion.http import ApiAuthError, ApiError, RetryBudgetExhausted, RetryingSession, RetryPolicy

Response = tuple[int, dict[str, str], Any]


class Stub:
    """Canned responses by route; `url` is the base to hand to a source."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Response]] = defaultdict(list)
        # dynamic routes: path -> function of the parsed query returning a response
        self.handlers: dict[str, Any] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                stub.requests.append(("GET", self.path, dict(self.headers)))
                path = self.path.split("?", 1)[0]
                queue = stub.routes.get(self.path) or stub.routes.get(path)
                if path in stub.handlers:
                    query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                    status, headers, body = stub.handlers[path](query)
                elif not queue:
                    status, headers, body = 404, {}, {"message": "Not Found"}
                elif len(queue) > 1:
                    status, headers, body = queue.pop(0)
                else:
                    status, headers, body = queue[0]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value.replace("{base}", stub.url))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, route: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Stub:
        self.routes[route].append((status, headers or {}, body))
        return self

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


FAST = RetryPolicy(max_retries=3, backoff_factor=0.01, max_wait_seconds=0.2, timeout_seconds=5)
TOKEN = "tok_very_secret_value_42"


def _get(
    stub: Stub, path: str, policy: RetryPolicy = FAST, sleeps: list[float] | None = None
) -> requests.Response:
    sleep = sleeps.append if sleeps is not None else (lambda _seconds: None)
    session = RetryingSession(policy, api_name="GitHub", sleep=sleep)
    return session.get(f"{stub.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"})


def test_retries_a_502_then_succeeds() -> None:
    with Stub() as stub:
        stub.add("/x", {"m": 1}, status=502).add("/x", [1, 2])
        response = _get(stub, "/x")
    assert response.json() == [1, 2]
    assert stub.paths() == ["/x", "/x"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 7, "items": [{"a": "x"}, null, true, 1.5], "s": "caf\\u00e9 \xe2\x9c\x93"}',
        b'{"big": 123456789012345678901234567890, "neg": -98765432109876543210987}',
        # just past 64 bits (20 digits), after a 19-digit run, inside a list
        b'{"s": "1234567890123456789x", "over": [1, 18446744073709551616], "under": -9223372036854775808}',
        # a negative integer just past 64 bits has 19 digits
        b'{"below": -9223372036854775809, "far": [-9999999999999999999]}',
        b"[]",
    ],
)
def test_a_page_is_parsed_once_and_reads_as_the_standard_parser_reads_it(body: bytes) -> None:
    """The retrying session parses each answer to check it is whole JSON; the reader's first `json()` gets
    that parse, equal to the standard parser's (integers beyond 64 bits stay integers), and a second
    `json()` a fresh one, so a reader changing what it got changes nothing else."""
    with Stub() as stub:
        stub.add("/x", body)
        response = _get(stub, "/x")
    expected = json.loads(body)
    first = response.json()
    assert json.dumps(first, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert [type(v) for v in _leaves(first)] == [type(v) for v in _leaves(expected)]
    if isinstance(first, dict):
        first["changed"] = True
    assert json.dumps(response.json(), sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_an_integer_beyond_64_bits_is_found_and_digits_inside_strings_are_not() -> None:
    from ingestion.http import has_long_integer

    assert not has_long_integer(b"1234567890123456789")
    assert has_long_integer(b"12345678901234567890")
    assert has_long_integer(b"  \n 12345678901234567890")
    assert has_long_integer(b'{"a": [1, 18446744073709551616]}')
    assert has_long_integer(b'{"a":18446744073709551616}')
    assert has_long_integer(b'{"a": -18446744073709551616}')
    assert has_long_integer(b"[1,\n\t18446744073709551616]")
    # a negative integer below 64 bits' least has 19 digits
    assert has_long_integer(b'{"a": -9223372036854775809}')
    assert has_long_integer(b"-9223372036854775809")
    assert not has_long_integer(b'{"a": -922337203685477580}')
    assert not has_long_integer(b"1234567890 1234567890.1234567890")
    # a SHA or an identifier with 20 digits in a row is a string, which orjson reads exactly
    assert not has_long_integer(b'{"sha": "ab12345678901234567890cd", "id": 7}')
    assert not has_long_integer(b'["12345678901234567890"]')
    # Only ASCII digits count (UTF-8 bytes of other scripts' digits are not ASCII)
    assert not has_long_integer("\u0661".encode() * 30)


def test_a_page_whose_strings_hold_long_digit_runs_is_parsed_by_orjson(monkeypatch) -> None:
    """A page of SHAs (one in a few hundred holds 20 digits in a row) is parsed once, by orjson: the
    standard parser, several times slower, is kept for integers orjson would not read exactly."""
    import ingestion.http as http

    calls = []
    standard = http.json.loads
    monkeypatch.setattr(http.json, "loads", lambda *a, **k: calls.append(1) or standard(*a, **k))
    body = b'[{"sha": "ab12345678901234567890cd"}, {"sha": "12345678901234567890ef"}]'
    with Stub() as stub:
        stub.add("/x", body)
        response = _get(stub, "/x")
    assert response.json() == standard(body)
    assert calls == []
    big = b'{"id": 123456789012345678901}'
    with Stub() as stub:
        stub.add("/y", big)
        response = _get(stub, "/y")
    assert response.json() == {"id": 123456789012345678901}
    assert calls == [1]


def test_a_listings_plain_fields_are_read_from_the_parse_the_page_arrived_with(monkeypatch) -> None:
    """`top_level_value` (a listing's `total_count`) reads the parse made on arrival, after the page was
    handed on and changed: the half-megabyte page of runs is not parsed again."""
    import ingestion.http as http
    from ingestion.http import top_level_value

    body = b'{"total_count": 1234, "workflow_runs": [{"id": 1}], "more": {"a": 1}}'
    with Stub() as stub:
        stub.add("/x", body).add("/y", b"[1, 2]")
        response, listed = _get(stub, "/x"), _get(stub, "/y")
    page = response.json()
    page["total_count"] = 0  # what a reader does with its page is its own
    calls = []
    monkeypatch.setattr(requests.Response, "json", lambda self, **k: calls.append(1) or {})
    assert top_level_value(response, "total_count") == 1234
    assert top_level_value(response, "more") is None  # objects and lists are not kept
    assert top_level_value(response, "missing") is None
    assert calls == []
    assert top_level_value(listed, "total_count") is None  # not an object
    plain = requests.Response()  # an answer this session did not parse: read when asked
    plain._content, plain.status_code = body, 200
    monkeypatch.setattr(requests.Response, "json", lambda self, **k: http.json.loads(self.content))
    assert top_level_value(plain, "total_count") == 1234


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _leaves(value[key])]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_a_cut_off_page_is_retried_then_read() -> None:
    with Stub() as stub:
        stub.add("/x", b'{"items": [1, 2', status=200).add("/x", {"items": [1, 2]})
        response = _get(stub, "/x")
    assert response.json() == {"items": [1, 2]}
    assert stub.paths() == ["/x", "/x"]


def test_429_waits_as_long_as_retry_after_says_within_the_cap() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff_factor=5, max_wait_seconds=30)
    with Stub() as stub:
        stub.add("/x", {}, status=429, headers={"Retry-After": "7"}).add("/x", [])
        _get(stub, "/x", policy, sleeps)
    assert sleeps == [7.0]


def test_403_rate_limit_waits_until_reset_capped() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff_factor=5, max_wait_seconds=12)
    with Stub() as stub:
        far_reset = str(2_000_000_000)  # 2033: far beyond the cap
        stub.add(
            "/x",
            {"message": "API rate limit exceeded"},
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": far_reset},
        )
        stub.add("/x", [])
        _get(stub, "/x", policy, sleeps)
    assert sleeps == [12]


def test_403_without_rate_limit_is_not_retried() -> None:
    with Stub() as stub:
        stub.add(
            "/orgs/acme/repos", {"message": "Resource not accessible"}, 403, {"X-RateLimit-Remaining": "4999"}
        )
        with pytest.raises(ApiError) as info:
            _get(stub, "/orgs/acme/repos")
    assert info.value.status == 403
    assert "/orgs/acme/repos" in str(info.value)
    assert len(stub.requests) == 1


def test_exhausted_budget_names_endpoint_not_token() -> None:
    with Stub() as stub:
        stub.add("/repos/acme/api/pulls", {"m": "boom"}, status=503)
        with pytest.raises(RetryBudgetExhausted) as info:
            _get(stub, "/repos/acme/api/pulls?per_page=100")
    message = str(info.value)
    assert "GET /repos/acme/api/pulls" in message
    assert "4 attempts" in message and "503" in message
    assert TOKEN not in message and TOKEN not in repr(info.value)
    assert len(stub.requests) == 4  # first attempt + 3 retries


def test_401_is_a_clear_auth_error_without_retry() -> None:
    with Stub() as stub:
        stub.add("/orgs/acme/repos", {"message": "Bad credentials"}, status=401)
        with pytest.raises(ApiAuthError) as info:
            _get(stub, "/orgs/acme/repos")
    assert "token was rejected" in str(info.value) and "/orgs/acme/repos" in str(info.value)
    assert TOKEN not in str(info.value)
    assert len(stub.requests) == 1


def test_pagerduty_splits_windows_beyond_the_offset_cap(monkeypatch, tmp_path) -> None:
    """PagerDuty stops offset pagination at 10,000; the source halves a window whose total is larger.
    The cap is lowered to 10 here so 25 incidents in one window force two levels of splitting."""
    from datetime import UTC, datetime, timedelta

    import duckdb

    from ingestion.pagerduty import helpers, pagerduty_source
    from ingestion.pipelines import make_pipeline

    monkeypatch.setattr(helpers, "MAX_OFFSET", 10)
    base = datetime(2026, 5, 1, tzinfo=UTC)
    incidents = [
        {
            "id": f"Q{n:05d}",
            "incident_number": n,
            "title": f"incident {n}",
            "status": "resolved",
            "urgency": "high",
            "created_at": (base + timedelta(hours=7 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resolved_at": (base + timedelta(hours=7 * n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": {"id": "PSVC001", "type": "service_reference", "summary": "api"},
        }
        for n in range(25)
    ]

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    def serve(query: dict[str, str]) -> Response:
        since, until = parse(query["since"]), parse(query["until"])
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 25))
        found = [i for i in incidents if since <= parse(i["created_at"]) < until]
        page = found[offset : offset + limit]
        body = {"incidents": page, "limit": limit, "offset": offset, "more": offset + limit < len(found)}
        body["total"] = len(found) if query.get("total") == "true" else None
        return 200, {}, body

    with Stub() as stub:
        stub.handlers["/incidents"] = serve
        stub.add("/services", {"services": [{"id": "PSVC001", "name": "api"}], "more": False})
        source = pagerduty_source(
            base_url=stub.url, token=TOKEN, start_date="2026-05-01", end_date="2026-05-10T00:00:00Z"
        )
        make_pipeline("pagerduty", tmp_path / "b.duckdb", tmp_path / "dlt").run(source)
        auth = {headers.get("Authorization") for _, _, headers in stub.requests}
    with duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True) as con:
        loaded = [r[0] for r in con.execute("select id from raw_pagerduty.incidents order by id").fetchall()]
    assert loaded == [i["id"] for i in incidents]
    assert auth == {f"Token token={TOKEN}"}
    incident_queries = [parse_qs(urlsplit(p).query) for p in stub.paths() if p.startswith("/incidents")]
    assert all(int(q.get("offset", ["0"])[0]) < 10 for q in incident_queries)
    windows = {(q["since"][0], q["until"][0]) for q in incident_queries}
    assert len(windows) > 3  # the nine-day window was split, and split again


def test_the_environment_is_read_once_per_host_and_its_proxy_still_decides(monkeypatch) -> None:
    """requests reads proxies and `NO_PROXY` from the environment for every request (a scan of the whole
    environment, twice); the session reads them once per scheme and host, and they still decide."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    read: list[str] = []
    environ_proxies = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        read.append(url)
        return environ_proxies(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    with Stub() as proxy:
        proxy.add("http://api.example.invalid/items", [1])  # a proxy is asked for the whole URL
        proxy.add("/direct", [2])
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        session = RetryingSession(FAST)
        for _ in range(3):
            assert session.get("http://api.example.invalid/items").json() == [1]  # through the proxy
            assert session.get(f"{proxy.url}/direct").json() == [2]  # no_proxy: straight there
        assert proxy.paths() == ["http://api.example.invalid/items", "/direct"] * 3
        assert len(read) == 2  # once for each host, not once a request
        # a request's own settings are merged afresh, as requests does
        proxy.add(f"{proxy.url}/direct", [3])
        assert session.get(f"{proxy.url}/direct", proxies={"http": proxy.url}).json() == [3]
        assert proxy.paths()[-1] == f"{proxy.url}/direct"
        assert len(read) == 3


def test_a_data_selector_is_compiled_once_not_for_every_page(monkeypatch) -> None:
    """dlt parses a data selector given as text again for every page (a JSONPath parser built each
    time); the sources hand it one compiled once."""
    import dlt.common.jsonpath as jsonpath

    from ingestion.github.helpers import make_client, pages
    from ingestion.http import json_selector

    parsed: list[str] = []
    parse = jsonpath._parse
    monkeypatch.setattr(jsonpath, "_parse", lambda path: parsed.append(path) or parse(path))
    json_selector.cache_clear()
    with Stub() as stub:

        def page(query: dict[str, str]) -> Response:
            n = int(query.get("page", 0))
            link = {"Link": f'<{stub.url}/runs?page={n + 1}>; rel="next"'} if n < 2 else {}
            return 200, link, {"runs": [n]}

        stub.handlers["/runs"] = page
        client = make_client(stub.url, TOKEN, FAST)
        got = [list(page) for page in pages(client, "/runs", data_selector="runs")]
        got += [list(page) for page in pages(client, "/runs", data_selector="runs")]
    assert got == [[0], [1], [2]] * 2
    assert parsed.count("runs") == 1


def test_a_dropped_connection_is_named_by_its_root_cause_without_the_url(caplog) -> None:
    """A server that closes the connection without answering, then a port nobody listens on: each retry's
    warning and the final error name the wrapped causes (types and errno names), never the URL's query."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[int] = []

    def drop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            accepted.append(1)
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    session = RetryingSession(FAST, api_name="GitHub", sleep=lambda _seconds: None)
    query = f"/graphql?private_token={TOKEN}"
    with caplog.at_level("WARNING", logger="ingestion.http"), pytest.raises(RetryBudgetExhausted) as info:
        session.get(f"http://127.0.0.1:{port}{query}")
    listener.close()
    assert len(accepted) == 4
    message = str(info.value)
    assert "connection failed (ConnectionError < ProtocolError < RemoteDisconnected)" in message, message
    warnings = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(warnings) == 3 and all("RemoteDisconnected" in w for w in warnings), warnings
    for text in [message, *warnings]:
        assert TOKEN not in text and "127.0.0.1" not in text

    with pytest.raises(RetryBudgetExhausted) as refused:  # the port is closed now
        session.get(f"http://127.0.0.1:{port}{query}")
    assert "ConnectionRefusedError ECONNREFUSED" in str(refused.value), str(refused.value)
    assert TOKEN not in str(refused.value)
