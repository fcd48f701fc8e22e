"""Advancing the emulator's clock: a day later, what the APIs serve has moved on, stays consistent with the
served moment, and matches the truth written as of that moment."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from simulator import Emulator, generate_org
from simulator.clock import iso, parse_iso

END = datetime(2026, 11, 24, tzinfo=UTC)  # a Tuesday: the day before is a working day
GH = {"Authorization": "Bearer gh-demo-token"}
PD = {"Authorization": "Token token=pd-demo-token"}


@pytest.fixture(scope="module")
def world():
    return generate_org(scale="tiny", seed=7, end=END)


@pytest.fixture()
def emu(world):
    emulator = Emulator(world, now=END - timedelta(days=1)).start()
    yield emulator
    emulator.stop()


def _pages(url: str, headers=GH) -> list:
    items = []
    while url:
        response = requests.get(url, headers=headers, timeout=10)
        response.raise_for_status()
        items += response.json()
        url = response.links.get("next", {}).get("url")
    return items


def _served(emu: Emulator, world) -> dict:
    """Everything the tiny org's APIs serve now, as the sources would read it."""
    now = emu.now
    pulls, deployed, statuses = {}, Counter(), []
    for svc in world.services:
        for pr in _pages(f"{emu.url}/github/repos/acme/{svc.name}/pulls?state=all&per_page=100"):
            pulls[(svc.name, pr["number"])] = pr
        for dep in _pages(f"{emu.url}/github/repos/acme/{svc.name}/deployments?per_page=100"):
            served = _pages(f"{emu.url}/github/repos/acme/{svc.name}/deployments/{dep['id']}/statuses")
            statuses += served
            if any(s["state"] == "success" for s in served):
                deployed[(svc.name, dep["environment"])] += 1
    incidents = []
    offset = 0
    while True:
        page = requests.get(
            f"{emu.url}/pagerduty/incidents",
            params={"date_range": "all", "limit": 100, "offset": offset},
            headers=PD,
            timeout=10,
        ).json()
        incidents += page["incidents"]
        if not page["more"]:
            break
        offset += 100
    return {"now": now, "pulls": pulls, "deployed": deployed, "statuses": statuses, "incidents": incidents}


def _truth_counts(truth) -> Counter:
    return Counter(zip(truth["deployments"].service, truth["deployments"].environment, strict=True))


def test_truth_as_of_a_day_earlier_is_a_strict_subset_that_matches_what_is_served(emu, world):
    before, after = world.truth_tables(as_of=END - timedelta(days=1)), world.truth_tables()
    for table, key, strict in (
        ("deployments", ["deployment_id"], True),
        ("incidents", ["incident_id"], False),  # the tiny org has none on most days
        ("commits", ["commit_sha"], True),
        ("changes", ["service", "pr_number", "commit_sha"], True),
    ):
        earlier = set(map(tuple, before[table][key].astype(str).to_numpy()))
        later = set(map(tuple, after[table][key].astype(str).to_numpy()))
        assert earlier < later if strict else earlier <= later, table
    # what was deployed a day earlier stays as it was, with the same commit
    settled = before["deployments"].set_index("deployment_id")[["commit_sha", "deployed_at"]]
    assert settled.equals(after["deployments"].set_index("deployment_id").loc[settled.index, settled.columns])
    served = _served(emu, world)
    assert served["deployed"] == _truth_counts(before)
    assert len(served["incidents"]) == len(before["incidents"])
    assert all(parse_iso(s["created_at"]) <= served["now"] for s in served["statuses"])
    assert all(parse_iso(pr["updated_at"]) <= served["now"] for pr in served["pulls"].values())
    assert all(parse_iso(i["created_at"]) <= served["now"] for i in served["incidents"])


def test_advancing_over_http_moves_the_served_world_forward(emu, world):
    day_before = _served(emu, world)
    response = requests.post(f"{emu.url}/_control/advance?days=1", timeout=10)
    assert response.status_code == 200 and response.json() == {"now": iso(END)}
    assert emu.now == END
    day_after = _served(emu, world)
    assert day_after["deployed"] == _truth_counts(world.truth_tables())
    assert sum(day_after["deployed"].values()) > sum(day_before["deployed"].values())
    assert len(day_after["incidents"]) >= len(day_before["incidents"])
    # pull requests opened meanwhile appear; some of those open the day before are merged now
    assert set(day_after["pulls"]) > set(day_before["pulls"])
    merged_meanwhile = [
        key
        for key, pr in day_before["pulls"].items()
        if pr["state"] == "open" and day_after["pulls"][key]["merged_at"] is not None
    ]
    assert merged_meanwhile
    assert all(
        parse_iso(day_after["pulls"][key]["updated_at"]) > parse_iso(day_before["pulls"][key]["updated_at"])
        for key in merged_meanwhile
    )
    assert all(parse_iso(pr["updated_at"]) <= END for pr in day_after["pulls"].values())


def test_the_clock_never_passes_the_end_nor_goes_back(emu):
    assert requests.get(f"{emu.url}/_control/now", timeout=10).json()["now"] == iso(END - timedelta(days=1))
    assert requests.get(f"{emu.url}/_control/advance?days=1", timeout=10).status_code == 405
    assert requests.post(f"{emu.url}/_control/advance?days=-1", timeout=10).status_code == 400
    assert requests.post(f"{emu.url}/_control/advance?days=soon", timeout=10).status_code == 400
    assert emu.now == END - timedelta(days=1)
    assert emu.advance(0.5) == END - timedelta(hours=12)
    assert requests.post(f"{emu.url}/_control/advance?days=30", timeout=10).json() == {"now": iso(END)}
    assert emu.advance() == END


def test_an_emulator_refuses_a_naive_now(world):
    with pytest.raises(ValueError, match="timezone-aware"):
        Emulator(world, now=END.replace(tzinfo=None))
