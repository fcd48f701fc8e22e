"""The API emulator behaves like GitHub and PagerDuty where clients can get it wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from simulator import Emulator, generate_org

END = datetime(2026, 11, 23, tzinfo=UTC)
GH = {"Authorization": "Bearer gh-demo-token"}
PD = {"Authorization": "Token token=pd-demo-token"}


@pytest.fixture(scope="module")
def world():
    return generate_org(scale="tiny", seed=7, end=END)


@pytest.fixture()
def emu(world):
    emulator = Emulator(world, rate_limit=5000).start()
    yield emulator
    emulator.stop()


def _all_pages(url: str, params: dict | None = None) -> tuple[list, list[requests.Response]]:
    items, responses = [], []
    while url:
        response = requests.get(url, params=params, headers=GH, timeout=10)
        response.raise_for_status()
        responses.append(response)
        items += response.json()
        params = None
        url = response.links.get("next", {}).get("url")
    return items, responses


def test_github_auth(emu):
    url = f"{emu.url}/github/orgs/acme/repos"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and "message" in missing.json()
    bad = requests.get(url, headers={"Authorization": "token nope"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert requests.get(url, headers={"Authorization": "token gh-demo-token"}, timeout=10).status_code == 200
    assert requests.get(url, headers=GH, timeout=10).status_code == 200


def test_pagerduty_auth(emu):
    url = f"{emu.url}/pagerduty/services"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Token token=wrong"}, timeout=10).status_code == 401
    assert requests.get(url, headers=GH, timeout=10).status_code == 401
    assert requests.get(url, headers=PD, timeout=10).status_code == 200


def test_link_pagination_is_complete_and_correct(emu, world):
    svc = world.service("auth-service")
    url = f"{emu.url}/github/repos/acme/auth-service/pulls"
    items, responses = _all_pages(url, {"state": "all", "per_page": 7})
    opened = [
        pr for pr in svc.pulls if pr.opened_at <= END
    ]  # a branch opened as a PR only later is not one yet
    assert len(items) == len(opened) > 14
    assert len({pr["number"] for pr in items}) == len(items)
    pages = len(responses)
    assert pages == -(-len(opened) // 7)
    first = responses[0].links
    assert set(first) == {"next", "last"}
    assert re.search(rf"[?&]page={pages}(&|$)", first["last"]["url"])
    assert "per_page=7" in first["next"]["url"] and "state=all" in first["next"]["url"]
    middle = responses[1].links
    assert {"prev", "next", "last", "first"} <= set(middle) or pages == 2
    assert set(responses[-1].links) == {"prev", "first"}
    # newest first by default
    created = [pr["created_at"] for pr in items]
    assert created == sorted(created, reverse=True)


def test_per_page_is_capped_and_defaults_to_30():
    small = Emulator(generate_org(scale="small", seed=7, end=END)).start()
    try:
        url = f"{small.url}/github/repos/acme/auth-service/commits"
        capped = requests.get(url, params={"per_page": 500}, headers=GH, timeout=10)
        default = requests.get(url, headers=GH, timeout=10)
        assert len(capped.json()) == 100 and "per_page=100" in capped.links["next"]["url"]
        assert len(default.json()) == 30
    finally:
        small.stop()


def test_etag_and_304(emu):
    url = f"{emu.url}/github/repos/acme/checkout-api/deployments"
    first = requests.get(url, headers=GH, timeout=10)
    etag = first.headers["ETag"]
    remaining = int(first.headers["X-RateLimit-Remaining"])
    again = requests.get(url, headers={**GH, "If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining  # conditional hits are free
    other = requests.get(url, headers={**GH, "If-None-Match": 'W/"stale"'}, timeout=10)
    assert other.status_code == 200 and other.json() == first.json()


def test_rate_limit_exhaustion(world):
    emu = Emulator(world, rate_limit=3).start()
    try:
        url = f"{emu.url}/github/orgs/acme/repos"
        seen = [requests.get(url, headers=GH, timeout=10) for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 403]
        assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
        assert seen[0].headers["X-RateLimit-Limit"] == "3"
        assert int(seen[3].headers["X-RateLimit-Reset"]) > datetime.now(UTC).timestamp()
        assert "rate limit" in seen[3].json()["message"].lower()
        emu.reset_rate_limit()
        assert requests.get(url, headers=GH, timeout=10).status_code == 200
    finally:
        emu.stop()


def test_commits_since_until_on_committer_date(emu, world):
    svc = world.service("storefront-web")
    url = f"{emu.url}/github/repos/acme/storefront-web/commits"
    everything, _ = _all_pages(url, {"per_page": 100})
    since = world.start + timedelta(days=10)
    until = world.start + timedelta(days=20)
    window, _ = _all_pages(url, {"per_page": 100, "since": since.isoformat(), "until": until.isoformat()})
    expected = [
        c
        for c in everything
        if since.isoformat()[:19] <= c["commit"]["committer"]["date"][:19] <= until.isoformat()[:19]
    ]
    assert 0 < len(window) < len(everything)
    assert [c["sha"] for c in window] == [c["sha"] for c in expected]
    # main's history includes the PR commits of merge commits, with parents
    assert any(len(c["parents"]) == 2 for c in everything)
    assert svc.main[0] == everything[-1]["sha"] and everything[-1]["parents"] == []


def test_pagerduty_since_until_and_offset_pagination(emu, world):
    url = f"{emu.url}/pagerduty/incidents"
    all_incidents = []
    offset = 0
    while True:
        page = requests.get(
            url,
            params={"date_range": "all", "limit": 2, "offset": offset, "total": "true"},
            headers=PD,
            timeout=10,
        ).json()
        assert page["limit"] == 2 and page["offset"] == offset
        all_incidents += page["incidents"]
        offset += 2
        if not page["more"]:
            break
    assert page["total"] == len(all_incidents) == len(world.incidents)
    mid = world.incidents[len(world.incidents) // 2].created_at
    since = requests.get(
        url, params={"since": mid.isoformat(), "until": END.isoformat(), "limit": 100}, headers=PD, timeout=10
    ).json()["incidents"]
    assert [i["id"] for i in since] == [i.incident_id for i in world.incidents if mid <= i.created_at < END]
    capped = requests.get(url, params={"date_range": "all", "limit": 1000}, headers=PD, timeout=10).json()
    assert capped["limit"] == 100
    svc = world.services[0]
    only = requests.get(
        url, params={"date_range": "all", "service_ids[]": svc.pd_service_id}, headers=PD, timeout=10
    ).json()["incidents"]
    assert all(i["service"]["id"] == svc.pd_service_id for i in only)


def test_set_now_hides_the_future(emu, world):
    svc = world.service("checkout-api")
    at = world.start + timedelta(days=14, hours=12)
    emu.set_now(at)
    deps, _ = _all_pages(f"{emu.url}/github/repos/acme/checkout-api/deployments", {"per_page": 100})
    assert deps and all(d["created_at"] <= at.strftime("%Y-%m-%dT%H:%M:%SZ") for d in deps)
    assert len(deps) == sum(1 for d in svc.deployments if d.created_at <= at)
    pulls, _ = _all_pages(
        f"{emu.url}/github/repos/acme/checkout-api/pulls", {"state": "all", "per_page": 100}
    )
    for pr in pulls:
        truth = svc.pulls[pr["number"] - 1]
        assert truth.opened_at <= at
        assert (pr["merged_at"] is not None) == (truth.merged_at is not None and truth.merged_at <= at)
    commits, _ = _all_pages(f"{emu.url}/github/repos/acme/checkout-api/commits", {"per_page": 100})
    assert all(c["commit"]["committer"]["date"] <= at.strftime("%Y-%m-%dT%H:%M:%SZ") for c in commits)
    incidents = requests.get(
        f"{emu.url}/pagerduty/incidents", params={"date_range": "all", "limit": 100}, headers=PD, timeout=10
    ).json()["incidents"]
    assert len(incidents) == sum(1 for i in world.incidents if i.created_at <= at)
    for inc in incidents:
        truth = next(i for i in world.incidents if i.incident_id == inc["id"])
        assert (inc["status"] == "resolved") == (truth.resolved_at <= at)
    future = next(p for p in svc.pulls if p.opened_at > at)
    assert (
        requests.get(
            f"{emu.url}/github/repos/acme/checkout-api/pulls/{future.number}", headers=GH, timeout=10
        ).status_code
        == 404
    )
    emu.set_now(None)
    assert len(
        _all_pages(f"{emu.url}/github/repos/acme/checkout-api/deployments", {"per_page": 100})[0]
    ) > len(deps)


def test_deployment_updated_at_moves_with_its_latest_status(emu, world):
    svc = world.service("checkout-api")
    dep = next(d for d in svc.deployments if not d.is_baseline and d.deployed_at)
    url = f"{emu.url}/github/repos/acme/checkout-api/deployments/{dep.deployment_id}"
    emu.set_now(dep.statuses[0].created_at)
    early = requests.get(url, headers=GH, timeout=10).json()
    statuses = requests.get(url + "/statuses", headers=GH, timeout=10).json()
    assert [s["state"] for s in statuses] == ["in_progress"]
    emu.set_now(None)
    late = requests.get(url, headers=GH, timeout=10).json()
    statuses = requests.get(url + "/statuses", headers=GH, timeout=10).json()
    assert [s["state"] for s in statuses] == ["success", "in_progress"]  # newest first
    assert early["updated_at"] < late["updated_at"] == statuses[0]["created_at"]


def test_fault_injection_and_request_log(emu):
    emu.inject_fault(r"/deployments", 502, times=2, retry_after=3)
    url = f"{emu.url}/github/repos/acme/checkout-api/deployments"
    first = requests.get(url, headers=GH, timeout=10)
    second = requests.get(url, headers=GH, timeout=10)
    third = requests.get(url, headers=GH, timeout=10)
    assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
    assert first.headers["Retry-After"] == "3"
    assert emu.requests[-3:] == [
        ("GET", "/github/repos/acme/checkout-api/deployments", s) for s in (502, 502, 200)
    ]


def test_unknown_things_are_404_json(emu):
    for path in (
        "/github/repos/acme/nope/pulls",
        "/github/repos/acme/checkout-api/pulls/9999",
        "/github/repos/acme/checkout-api/deployments/1",
        "/github/orgs/other/repos",
    ):
        response = requests.get(emu.url + path, headers=GH, timeout=10)
        assert response.status_code == 404 and response.json()["message"] == "Not Found", path
    assert requests.get(emu.url + "/pagerduty/incidents/QNOPE", headers=PD, timeout=10).status_code == 404


def test_squash_and_merge_commits_as_served(emu, world):
    svc = world.service("auth-service")
    merge_pr = next((p for p in svc.pulls if p.merge_method == "merge"), None)
    squash_pr = next(p for p in svc.pulls if p.merge_method == "squash")
    base = f"{emu.url}/github/repos/acme/auth-service"
    squash = requests.get(f"{base}/pulls/{squash_pr.number}", headers=GH, timeout=10).json()
    assert squash["merged"] is True and squash["merge_commit_sha"] == squash_pr.merge_commit_sha
    commit = requests.get(f"{base}/commits/{squash['merge_commit_sha']}", headers=GH, timeout=10).json()
    assert len(commit["parents"]) == 1 and commit["sha"] not in squash_pr.commit_shas
    if merge_pr is not None:
        merged = requests.get(f"{base}/pulls/{merge_pr.number}", headers=GH, timeout=10).json()
        commit = requests.get(f"{base}/commits/{merged['merge_commit_sha']}", headers=GH, timeout=10).json()
        assert [p["sha"] for p in commit["parents"]][1] == merged["head"]["sha"]


@pytest.mark.parametrize(
    ("scale", "seed", "end", "budget"),
    [
        ("small", 7, END, 2600),
        ("small", 7, datetime(2026, 11, 2, tzinfo=UTC), 2600),  # the end-to-end demo's world
        # the end-to-end tests' world (its four fixes forward add a dozen requests)
        ("tiny", 11, datetime(2026, 11, 2, tzinfo=UTC), 820),
    ],
)
def test_full_ingestion_stays_within_request_budget(scale, seed, end, budget):
    """A complete naive crawl (every PR's commits and reviews, every deployment's statuses)."""
    world = generate_org(scale=scale, seed=seed, end=end)
    requests_needed = 1 + 1  # repos list, PagerDuty services
    for svc in world.services:
        pulls = [p for p in svc.pulls if p.opened_at <= end]
        deps = [d for d in svc.deployments if d.created_at <= end]
        on_main = sum(1 for c in svc.commits.values() if c.reach_index is not None)
        requests_needed += (
            -(-len(pulls) // 100) + 2 * len(pulls) + -(-on_main // 100) + -(-len(deps) // 100) + len(deps)
        )
    requests_needed += -(-sum(i.created_at <= end for i in world.incidents) // 100)
    assert requests_needed < budget


def test_pagerduty_incident_and_service_shapes(emu, world):
    services = requests.get(f"{emu.url}/pagerduty/services", headers=PD, timeout=10).json()
    assert set(services) >= {"services", "limit", "offset", "more"}
    served = {s["id"]: s["name"] for s in services["services"]}
    assert set(served) == {pd.pd_service_id for pd in world.pd_services}
    # shared infrastructure pages too, on PagerDuty services no deploylens service maps to
    infrastructure = set(served) - {s.pd_service_id for s in world.services}
    assert {served[i] for i in infrastructure} == {"Primary Postgres", "Edge network", "Cloud provider"}
    assert all(
        re.fullmatch(r"P[A-Z0-9]{6}", s["id"]) and s["type"] == "service" for s in services["services"]
    )
    resolved = next(i for i in world.incidents if i.resolved_at <= END)
    body = requests.get(
        f"{emu.url}/pagerduty/incidents/{resolved.incident_id}", headers=PD, timeout=10
    ).json()
    inc = body["incident"]
    for key in (
        "id",
        "incident_number",
        "title",
        "status",
        "urgency",
        "created_at",
        "updated_at",
        "last_status_change_at",
        "resolved_at",
        "service",
        "acknowledgements",
        "assignments",
        "html_url",
    ):
        assert key in inc, key
    assert set(inc["service"]) == {"id", "type", "summary", "self", "html_url"}
    assert inc["service"]["type"] == "service_reference"
    assert inc["status"] == "resolved" and inc["resolved_at"] == resolved.resolved_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # while acknowledged (before resolution) the acknowledgement is listed with its time and acknowledger
    acked = next(i for i in world.incidents if i.acknowledged_at is not None)
    emu.set_now(acked.acknowledged_at)
    inc = requests.get(f"{emu.url}/pagerduty/incidents/{acked.incident_id}", headers=PD, timeout=10).json()[
        "incident"
    ]
    assert inc["status"] == "acknowledged" and inc["resolved_at"] is None
    assert inc["acknowledgements"][0]["at"] == acked.acknowledged_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert inc["acknowledgements"][0]["acknowledger"]["type"] == "user_reference"


def _ignore_and_block_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def test_serve_command_writes_config_and_truth(tmp_path):
    import subprocess
    import sys
    import time

    import yaml

    config_path = tmp_path / "org.yml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "serve",
            "--scale",
            "tiny",
            "--seed",
            "3",
            "--port",
            "0",
            "--truth",
            str(tmp_path / "truth"),
            "--config-out",
            str(config_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # started the way a parent that ignores and blocks SIGTERM would start it (both pass through exec):
        # `terminate()` below must still stop it
        preexec_fn=_ignore_and_block_sigterm,
    )
    try:
        deadline = time.monotonic() + 30
        while not config_path.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert config_path.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no config"
        time.sleep(0.1)
        config = yaml.safe_load(config_path.read_text())
        github = config["sources"]["github"]
        response = requests.get(
            f"{github['base_url']}/orgs/acme/repos",
            headers={"Authorization": f"token {github['token']}"},
            timeout=10,
        )
        assert response.status_code == 200 and len(response.json()) == 8
        assert (tmp_path / "truth" / "deployments.parquet").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pagerduty_services_show_only_incidents_that_happened_by_now(emu, world):
    first = min(i.created_at for i in world.incidents)
    emu.set_now(first - timedelta(seconds=1))
    services = requests.get(f"{emu.url}/pagerduty/services", headers=PD, timeout=10).json()["services"]
    assert all(s["last_incident_timestamp"] is None for s in services)
    emu.set_now(first)
    services = requests.get(f"{emu.url}/pagerduty/services", headers=PD, timeout=10).json()["services"]
    stamps = [s["last_incident_timestamp"] for s in services if s["last_incident_timestamp"]]
    assert stamps == [first.strftime("%Y-%m-%dT%H:%M:%SZ")]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Zoë Ångström ✓", "id": 7, "ok": True, "nothing": None, "ratio": 0.25, "items": [1, "a"]},
        {"id": 123456789012345678901234567890, "run": 2**64},  # beyond 64 bits: orjson refuses
        {1: "a key that is no string"},  # orjson refuses: the standard encoder writes "1"
    ],
)
def test_a_json_body_reads_back_as_the_standard_encoder_wrote_it(payload):
    import json

    from simulator.emulator import _dumps

    body = _dumps(payload)
    assert json.loads(body) == json.loads(json.dumps(payload))
    assert b", " not in body and b": " not in body  # compact, as GitHub answers


def test_the_fields_a_pull_request_listing_orders_by_are_those_the_pull_request_renders(world):
    """Listings ordered by update (REST's `sort=updated`, GraphQL's `orderBy: UPDATED_AT`) rank every pull
    request of a repository from `Renderer.pull_order`, which skips the rest of the rendering: at moments
    before, during and after the pull requests' lives its fields are the rendered pull request's."""
    from simulator.github import Renderer

    renderer = Renderer(world, "http://emulator.invalid")
    fields = ("created_at", "updated_at", "state", "merged_at")
    moments = [world.start + timedelta(days=days) for days in (3, 9, 20, 40)] + [END]
    seen = set()
    for svc in world.services:
        for pr in svc.pulls:
            for now in (now for now in moments if pr.opened_at <= now):
                rendered = renderer.pull(svc, pr, now)
                assert renderer.pull_order(svc, pr, now) == {name: rendered[name] for name in fields}
                seen.add(
                    (
                        rendered["state"],
                        rendered["merged_at"] is not None,
                        rendered["updated_at"] > rendered["created_at"],
                    )
                )
    # open, closed unmerged and merged pull requests, updated after they opened and not
    assert {(state, merged) for state, merged, _ in seen} >= {
        ("open", False),
        ("closed", False),
        ("closed", True),
    }
    assert {updated for _, _, updated in seen} == {True, False}


def test_a_burst_of_connections_is_queued_not_dropped():
    """The listen backlog holds a burst of connections the server has not accepted yet (its threads busy
    answering): a source opening its concurrent connections at once must not have handshakes dropped
    (a second's retransmit each) or reset. Here nothing accepts at all, so every connection waits in the
    backlog; with socketserver's default of 5 the sixth and later time out."""
    import socket

    from simulator.emulator import _Handler, _Server

    server = _Server(("127.0.0.1", 0), _Handler)  # listening, never serving
    opened = []
    try:
        for _ in range(100):
            opened.append(socket.create_connection(server.server_address, timeout=0.5))
    finally:
        for sock in opened:
            sock.close()
        server.server_close()
    assert len(opened) == 100
