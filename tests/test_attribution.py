"""The commit-graph walk that decides which commits each deployment shipped, on hand-made graphs.

Every expectation is written out by hand from the drawn graph, never computed by the code under test.
The model file is loaded by path: dbt runs it as a loose module, so it is not part of a package.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
MODEL_FILE = REPO_ROOT / "models" / "intermediate" / "int_commits_attributed_to_deployments.py"


def _load_model_module():
    spec = importlib.util.spec_from_file_location("int_commits_attributed_to_deployments", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


attribution = _load_model_module()


def shipped_by(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for shipment in result.shipments:
        out.setdefault(shipment.deployment_id, set()).add(shipment.commit_sha)
    return out


def test_linear_history_ships_only_new_commits():
    # a <- b <- c <- d
    parents = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
    result = attribution.attribute_commits(parents, [("d1", "b"), ("d2", "d")])
    assert shipped_by(result) == {"d1": {"a", "b"}, "d2": {"c", "d"}}
    assert result.baseline_deployment_id == "d1"
    baseline_flags = {s.commit_sha: s.is_baseline for s in result.shipments}
    assert baseline_flags == {"a": True, "b": True, "c": False, "d": False}


def test_merge_commit_ships_the_branch_commits():
    #   a <- b <------ m      (m merges feature x <- y into main)
    #         \       /
    #          x <- y
    parents = {"a": [], "b": ["a"], "x": ["b"], "y": ["x"], "m": ["b", "y"]}
    result = attribution.attribute_commits(parents, [("base", "b"), ("d2", "m")])
    assert shipped_by(result) == {"base": {"a", "b"}, "d2": {"x", "y", "m"}}


def test_squash_merge_ships_only_the_squash_commit():
    # Branch commits x, y were squashed into s on main; they are in the graph but not reachable from main.
    parents = {"a": [], "x": ["a"], "y": ["x"], "s": ["a"]}
    result = attribution.attribute_commits(parents, [("base", "a"), ("d2", "s")])
    assert shipped_by(result) == {"base": {"a"}, "d2": {"s"}}


def test_rollback_to_an_old_sha_ships_nothing():
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    result = attribution.attribute_commits(
        parents, [("d1", "a"), ("d2", "c"), ("rollback", "b"), ("again", "c")]
    )
    assert shipped_by(result) == {"d1": {"a"}, "d2": {"b", "c"}}
    assert result.unknown_sha_deployments == []


def test_maintenance_branch_sha_ships_only_its_own_commits():
    # main: a <- b <- c <- d ; maintenance branch from b: b <- m1 <- m2 (a tagged patch release)
    parents = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "m1": ["b"], "m2": ["m1"]}
    deployments = [("base", "b"), ("patch", "m2"), ("main", "d")]
    result = attribution.attribute_commits(parents, deployments)
    assert shipped_by(result) == {"base": {"a", "b"}, "patch": {"m1", "m2"}, "main": {"c", "d"}}


def test_diamond_merges_visit_each_commit_once():
    #        b
    #      /   \
    #    a       d <- e (merges c) ... f merges d and c again via e
    #      \   /
    #        c
    parents = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d", "c"], "f": ["e", "b"]}
    result = attribution.attribute_commits(parents, [("base", "a"), ("d2", "f")])
    shas = [s.commit_sha for s in result.shipments if s.deployment_id == "d2"]
    assert sorted(shas) == ["b", "c", "d", "e", "f"]
    assert len(shas) == len(set(shas))


def test_unknown_sha_ships_nothing_and_is_counted():
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    deployments = [("d1", "b"), ("ghost", "yyy"), ("d2", "c")]
    result = attribution.attribute_commits(parents, deployments)
    assert result.unknown_sha_deployments == ["ghost"]
    assert result.baseline_deployment_id == "d1"
    assert shipped_by(result) == {"d1": {"a", "b"}, "d2": {"c"}}


def test_baseline_older_than_the_loaded_history_ships_nothing():
    # The first deployment seen deployed 'old', a commit before the ingestion horizon: it is still the
    # baseline and ships nothing; the next deployment ships only the loaded commits (x, y), which are new
    # since the baseline and so keep their lead time.
    parents = {"x": ["old"], "y": ["x"]}
    result = attribution.attribute_commits(parents, [("first", "old"), ("next", "y")])
    assert result.baseline_deployment_id == "first"
    assert result.unknown_sha_deployments == ["first"]
    assert shipped_by(result) == {"next": {"x", "y"}}
    assert {s.is_baseline for s in result.shipments} == {False}


def test_parents_outside_the_loaded_history_are_ignored():
    # b's parent 'old' predates the ingestion horizon and is not a known commit.
    parents = {"b": ["old"], "c": ["b"]}
    result = attribution.attribute_commits(parents, [("d1", "c")])
    assert shipped_by(result) == {"d1": {"b", "c"}}


def test_long_linear_history_does_not_recurse():
    count = 50_000
    parents = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(count)}
    result = attribution.attribute_commits(parents, [("d1", "c10"), ("d2", f"c{count - 1}")])
    assert len(result.shipments) == count
    assert sum(1 for s in result.shipments if s.deployment_id == "d1") == 11


def test_attribute_all_walks_each_service_and_environment_separately():
    graphs = attribution.build_parent_map(
        [
            ("acme/api", "a", []),
            ("acme/api", "b", ["a"]),
            ("acme/api", "c", ["b"]),
            ("acme/api", "c", ["b"]),  # the same commit again, as a pull request commit
        ]
    )
    assert graphs == {"acme/api": {"a": [], "b": ["a"], "c": ["b"]}}
    t1, t2, t3 = datetime(2026, 6, 1), datetime(2026, 6, 2), datetime(2026, 6, 3)
    rows, unknown = attribution.attribute_all(
        graphs,
        [
            ("api", "production", "acme/api", "p1", "b", t1),
            ("api", "production", "acme/api", "p2", "c", t3),
            ("api", "staging", "acme/api", "s1", "c", t2),
            ("api", "staging", "acme/api", "s2", "nope", t3),
        ],
    )
    assert unknown == ["s2"]
    assert sorted(rows) == sorted(
        [
            ("api", "production", "a", "p1", t1, True),
            ("api", "production", "b", "p1", t1, True),
            ("api", "production", "c", "p2", t3, False),
            ("api", "staging", "a", "s1", t2, True),
            ("api", "staging", "b", "s1", t2, True),
            ("api", "staging", "c", "s1", t2, True),
        ]
    )


@pytest.mark.shared
@pytest.mark.parametrize("history", ["flask", "renovate"])
def test_real_history_every_commit_shipped_once_by_release_tags(history):
    """Real graphs released tag by tag ship each commit once: flask tags maintenance branches off main;
    renovate is a 100k-commit squash history with a release per merge (the walk must stay linear)."""
    path = SHARED / "data" / "git" / f"{history}.jsonl.gz"
    if not path.exists():
        pytest.skip(f"shared test data not available: {path.name} (see the shared data README)")
    parents: dict[str, list[str]] = {}
    tags: list[tuple[int, str, str]] = []
    dates: dict[str, int] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["kind"] == "commit":
                parents[record["sha"]] = record["parents"]
                dates[record["sha"]] = int(record["committer"]["date"].split()[0])
            elif record["ref"].startswith("refs/tags/"):
                tags.append((dates.get(record["target"], 0), record["ref"], record["target"]))
    tags.sort()
    result = attribution.attribute_commits(parents, [(ref, sha) for _, ref, sha in tags])
    shas = [s.commit_sha for s in result.shipments]
    assert len(shas) == len(set(shas))
    # Everything shipped is reachable from some tag, and the newest tag's history is fully shipped.
    assert set(shas) <= set(parents)
    assert result.unknown_sha_deployments == []
    assert tags[-1][2] in set(shas)
    assert len(shas) > 1000
