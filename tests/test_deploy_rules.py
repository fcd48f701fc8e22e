"""branch_push deploy rules: the first-parent walk that turns a deploy branch into deployments.

The dbt model int_commits_pushed_to_deploy_branches calls these functions; the SQL side of every rule kind
is covered by dbt unit tests in models/intermediate/_intermediate__models.yml.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

MODEL_FILE = (
    Path(__file__).resolve().parents[1]
    / "models"
    / "intermediate"
    / "int_commits_pushed_to_deploy_branches.py"
)


def _load():
    spec = importlib.util.spec_from_file_location("int_commits_pushed_to_deploy_branches", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pushes = _load()

# main: a - b - m(merge of f1) - d ; feature: a - f1 ; release: b - r1
GRAPH = {
    "a": [],
    "b": ["a"],
    "f1": ["a"],
    "m": ["b", "f1"],
    "d": ["m"],
    "r1": ["b"],
}


def test_first_parent_chain_skips_merged_branch_commits():
    assert pushes.first_parent_chain(GRAPH, "d") == ["d", "m", "b", "a"]


def test_chain_stops_at_the_ingestion_horizon_and_unknown_tips():
    shallow = {"d": ["m"], "m": ["b", "f1"]}  # b is older than what was loaded
    assert pushes.first_parent_chain(shallow, "d") == ["d", "m"]
    assert pushes.first_parent_chain(GRAPH, "zzz") == []


def test_a_cycle_ends_the_walk():
    assert pushes.first_parent_chain({"x": ["y"], "y": ["x"]}, "x") == ["x", "y"]


def test_rules_match_branches_case_insensitively_and_number_pushes_oldest_first():
    branches = [
        ("shop", "Main", "d"),
        ("shop", "feature", "f1"),
        ("shop", "release/1", "r1"),
        ("web", "main", "b"),
    ]
    rules = [
        ("shop-api", "production", "shop", "^main$"),
        ("shop-api", "staging", "shop", "^(main|release/)"),
    ]
    rows = pushes.pushes_for_rules({"shop": GRAPH}, branches, rules)
    production = [(sha, pos) for svc, env, repo, sha, pos in rows if env == "production"]
    assert sorted(production, key=lambda r: r[1]) == [("a", 0), ("b", 1), ("m", 2), ("d", 3)]
    staging = sorted(sha for svc, env, repo, sha, pos in rows if env == "staging")
    # main's chain and release/1's chain (r1, b, a): a commit on both branches is one deployment.
    assert staging == ["a", "b", "d", "m", "r1"]
    assert {repo for _, _, repo, _, _ in rows} == {"shop"}
    assert "f1" not in {sha for _, _, _, sha, _ in rows}


def test_a_repository_without_matching_branches_pushes_nothing():
    assert (
        pushes.pushes_for_rules({"shop": GRAPH}, [("shop", "develop", "d")], [("s", "p", "shop", "^main$")])
        == []
    )
