"""The world cache: a miss generates and saves, a hit reads the same world back, a change of the simulator's
code or a corrupt file generates again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import simulator.cache as cache
from simulator import generate_org
from simulator.cache import cache_path, cached_org

END = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture
def generations(monkeypatch):
    """Counts the worlds generated (not read from the cache)."""
    made: list[tuple] = []

    def counting(scale, seed, end):
        made.append((scale, seed, end))
        return generate_org(scale, seed, end)

    monkeypatch.setattr(cache, "generate_org", counting)
    return made


def _fingerprint(world) -> list:
    return [
        (
            svc.name,
            [(c.sha, c.author.login, c.committed_at) for c in svc.commits.values()],
            [(pr.pr_id, pr.merged_at, [r.review_id for r in pr.reviews]) for pr in svc.pulls],
            [(d.source_id, d.rollback.source_id if d.rollback else None) for d in svc.deployments],
            [(r.run_id, r.deployment.source_id if r.deployment else None) for r in svc.runs],
        )
        for svc in world.services
    ] + [(i.incident_id, i.cause.source_id if i.cause else None, i.responder.login) for i in world.incidents]


def test_a_miss_generates_and_saves_a_hit_reads_the_same_world(tmp_path, generations):
    first = cached_org("mixed", 5, END, tmp_path)
    assert generations == [("mixed", 5, END)]
    assert cache_path("mixed", 5, END, tmp_path).exists()
    again = cached_org("mixed", 5, END, tmp_path)
    assert len(generations) == 1 and again is not first
    assert _fingerprint(again) == _fingerprint(first) == _fingerprint(generate_org("mixed", 5, END))
    # shared records stay shared: developers, and the deployments incidents and runs point at
    developers = again.developers
    assert all(c.author is developers[c.author.login] for s in again.services for c in s.commits.values())
    deployments = {id(d) for s in again.services for d in s.deployments}
    assert all(id(i.cause) in deployments for i in again.incidents if i.cause is not None)
    assert all(id(r.deployment) in deployments for s in again.services for r in s.runs if r.deployment)
    assert again.truth_tables()["changes"].equals(first.truth_tables()["changes"])
    assert not list(tmp_path.glob("*.tmp"))


def test_scale_seed_and_end_each_key_the_cache(tmp_path, generations):
    cached_org("tiny", 7, END, tmp_path)
    cached_org("tiny", 8, END, tmp_path)
    cached_org("tiny", 7, END - timedelta(days=1), tmp_path)
    cached_org("tiny", 7, END.astimezone(UTC).replace(microsecond=500), tmp_path)  # the same second: a hit
    assert len(generations) == 3
    assert len(list(tmp_path.glob("*.pickle"))) == 3


def test_a_code_change_invalidates_and_replaces_the_cached_world(tmp_path, generations, monkeypatch):
    cached_org("tiny", 7, END, tmp_path)
    old = cache_path("tiny", 7, END, tmp_path)
    monkeypatch.setattr(cache, "code_version", lambda: "0123456789abcdef")
    cached_org("tiny", 7, END, tmp_path)
    assert len(generations) == 2
    assert not old.exists() and cache_path("tiny", 7, END, tmp_path).exists()


def test_the_code_version_follows_the_simulator_sources(tmp_path, monkeypatch):
    (tmp_path / "world.py").write_text("x = 1\n")
    monkeypatch.setattr(cache, "SIMULATOR_DIR", tmp_path)
    before = cache.code_version.__wrapped__()
    (tmp_path / "world.py").write_text("x = 2\n")
    assert cache.code_version.__wrapped__() != before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_corrupt_file_is_generated_again(tmp_path, generations, damage):
    world = cached_org("tiny", 7, END, tmp_path)
    path = cache_path("tiny", 7, END, tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a pickle", "empty": b""}[damage])
    again = cached_org("tiny", 7, END, tmp_path)
    assert len(generations) == 2
    assert _fingerprint(again) == _fingerprint(world)
    assert path.read_bytes() != b"" and cached_org("tiny", 7, END, tmp_path) is not None
    assert len(generations) == 2  # the regenerated file is whole again


def test_a_naive_end_is_refused(tmp_path):
    with pytest.raises(ValueError, match="timezone-aware"):
        cached_org("tiny", 7, END.replace(tzinfo=None), tmp_path)
