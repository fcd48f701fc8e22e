"""The complete GitHub source against the emulator: conditional re-polls and optional resources.

A second refresh with nothing changed upstream must cost at most two requests per repository and
resource (the issue's goal); endpoints the emulator does not serve (404) must not fail the load.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_emulated_secret_token_etag"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}


@pytest.fixture(scope="module")
def world():
    return simulator.generate_org(scale="tiny", seed=7, end=END)


@pytest.fixture
def emulator(world):
    emu = simulator.Emulator(world, port=0, github_token=TOKEN).start()
    yield emu
    emu.stop()


def _load(emu, root: Path, **options) -> None:
    source = github_source(
        base_url=f"{emu.url}/github",
        organization=_organization(emu),
        token=TOKEN,
        start_date=emu.world.start.date().isoformat(),
        **{**FAST_RETRIES, **options},
    )
    make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)


def _organization(emu) -> str:
    return emu.world.services[0].repository.split("/")[0]


def _counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_github' and table_name not like '_dlt%'"
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from raw_github."{t}"').fetchone()[0] for t in tables}


def _resource_of(path: str) -> tuple[str, str] | None:
    """(repository, resource) of a GitHub request path, e.g. ('acme/api', 'pulls/N/files')."""
    match = re.match(r"/github/repos/([^/]+/[^/?]+)(/[^?]*)?", path)
    if not match:
        return None
    rest = re.sub(r"/[0-9a-f]{40}|/\d+", "/N", match.group(2) or "/")
    return match.group(1), rest.strip("/")


def test_unchanged_refresh_costs_at_most_two_requests_per_repository_and_resource(
    world, emulator, tmp_path
) -> None:
    _load(emulator, tmp_path)
    first = _counts(tmp_path / "build.duckdb")
    assert first["pull_requests"] > 0 and first["commits"] > 0 and first["deployments"] > 0

    for refresh in ("second", "third"):
        before = len(emulator.requests)
        _load(emulator, tmp_path)
        served = emulator.requests[before:]
        assert _counts(tmp_path / "build.duckdb") == first  # merge: nothing duplicated, nothing lost

        per_resource = Counter(key for _, path, _ in served if (key := _resource_of(path)) is not None)
        too_many = {key: n for key, n in per_resource.items() if n > 2}
        assert not too_many, (
            f"{refresh} refresh: more than two requests per repository and resource: {too_many}"
        )
        # nothing below a list was read again: no pull request pages, reviews, commits or statuses
        assert not [key for key in per_resource if "N" in key[1].split("/")], refresh
        # every repository was polled; lists whose query did not move answered 304 Not Modified. The
        # commits query moves once (from the start date to the cursor's look-back), so from the third on.
        statuses = {(key, status) for _, path, status in served if (key := _resource_of(path)) is not None}
        expect_304 = ("pulls", "deployments") if refresh == "second" else ("pulls", "deployments", "commits")
        for repository in {svc.repository for svc in world.services}:
            for resource in expect_304:
                assert ((repository, resource), 304) in statuses, (refresh, repository, resource)


def test_conditional_requests_send_the_previous_etag(emulator, tmp_path) -> None:
    _load(emulator, tmp_path)
    before = len(emulator.requests)
    _load(emulator, tmp_path, conditional_requests=False)
    # without ETags the same lists are read in full again: 200s, no 304s
    repeat = emulator.requests[before:]
    assert repeat and not any(status == 304 for _, _, status in repeat)


def test_endpoints_the_server_lacks_load_nothing_and_fail_nothing(world, emulator, tmp_path) -> None:
    """Until the emulator serves Actions, releases and tags, each answers 404: the load still succeeds."""
    _load(emulator, tmp_path)
    served = {(key[1], status) for _, path, status in emulator.requests if (key := _resource_of(path))}
    tables = set(_counts(tmp_path / "build.duckdb"))
    for resource, table in (
        ("actions/runs", "workflow_runs"),
        ("releases", "releases"),
        ("git/matching-refs/tags", "tags"),
    ):
        if (resource, 404) in served:
            assert table not in tables, f"{table} created from a 404"
        else:
            assert (resource, 200) in served and table in tables, resource
