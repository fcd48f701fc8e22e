"""Questions asked for many repositories at once, when the first of a batch is wanted
(`graphql.asked_by_batch`: the newest pull request probes and the deployments' first pages)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingestion.github import graphql

NAMES = [f"acme/svc-{i:02d}" for i in range(7)]


def _recording(answer_of=lambda name: name.upper()):
    asked: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def ask(batch):
        with lock:
            asked.append(tuple(batch))
        return {name: answer_of(name) for name in batch}

    return ask, asked


def test_each_batch_is_asked_once_when_its_first_repository_is_wanted() -> None:
    ask, asked = _recording()
    answer = graphql.asked_by_batch(NAMES, 3, ask)
    assert asked == []
    assert answer("acme/svc-04") == "ACME/SVC-04"  # the middle batch, before any other
    assert asked == [tuple(NAMES[3:6])]
    rest = [name for name in NAMES if name != "acme/svc-04"]
    assert [answer(name) for name in rest] == [name.upper() for name in rest]
    assert asked == [tuple(NAMES[3:6]), tuple(NAMES[0:3]), tuple(NAMES[6:7])]


def test_an_answer_is_taken_once() -> None:
    ask, _ = _recording()
    answer = graphql.asked_by_batch(NAMES, 3, ask)
    answer("acme/svc-00")
    with pytest.raises(KeyError):
        answer("acme/svc-00")


def test_readers_of_one_batch_share_its_query_while_the_next_batch_is_asked_beside_it() -> None:
    """Four readers of the first batch wait for its one query; the second batch's query is asked while the
    first's is still unanswered (its readers are not held behind it)."""
    release_first = threading.Event()
    second_asked = threading.Event()
    asked: list[tuple[str, ...]] = []

    def ask(batch):
        asked.append(tuple(batch))
        if batch[0] == NAMES[0]:
            assert release_first.wait(10), "the first batch's query was never released"
        else:
            second_asked.set()
        return {name: f"newest of {name}" for name in batch}

    answer = graphql.asked_by_batch(NAMES, 4, ask)
    with ThreadPoolExecutor(max_workers=6) as pool:
        firsts = [pool.submit(answer, name) for name in NAMES[:4]]
        seconds = [pool.submit(answer, name) for name in NAMES[4:]]
        assert second_asked.wait(10), "the second batch waited for the first"
        assert all(not f.done() for f in firsts)
        release_first.set()
        assert [f.result(10) for f in firsts + seconds] == [f"newest of {name}" for name in NAMES]
    assert sorted(asked) == [tuple(NAMES[:4]), tuple(NAMES[4:])]


def test_a_failed_query_fails_every_reader_of_its_batch_without_asking_again() -> None:
    calls: list[tuple[str, ...]] = []

    def ask(batch):
        calls.append(tuple(batch))
        if NAMES[0] in batch:
            raise RuntimeError("GitHub POST /graphql: gave up after 6 attempts, last status 502")
        return {name: name for name in batch}

    answer = graphql.asked_by_batch(NAMES, 3, ask)
    for name in NAMES[:3]:
        with pytest.raises(RuntimeError, match="gave up"):
            answer(name)
    assert answer(NAMES[3]) == NAMES[3]
    assert calls == [tuple(NAMES[:3]), tuple(NAMES[3:6])]
