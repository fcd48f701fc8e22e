"""Which pull request brought each commit, read from the commit graph alone (merge and squash landings).

The dbt model int_commits_traced_to_pull_requests calls these functions. Each graph is drawn in a comment;
the expectations are what `git rev-list M^1..M^2` gives for each merge M, worked out by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

MODEL_FILE = (
    Path(__file__).resolve().parents[1] / "models" / "intermediate" / "int_commits_traced_to_pull_requests.py"
)


def _load():
    spec = importlib.util.spec_from_file_location("int_commits_traced_to_pull_requests", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tracing = _load()


def owners(parents, tips, landings, pull_heads=()):
    traced = tracing.trace_pull_requests(parents, tips, landings, pull_heads)
    shas = [t.commit_sha for t in traced]
    assert len(shas) == len(set(shas)), "a commit was traced twice"
    return {t.commit_sha: t.pr_number for t in traced}, {t.commit_sha: t for t in traced}


def main_tip(sha):
    return [(sha, True)]


# main: a - b - M1 - d - M2 - S3
#            \  /       /
#             f1 - f2  /      PR 1 = f1, f2 (merged by M1)
#                 g1 -/       PR 2 = g1 (branched from d), S3 = squash of PR 3, d = direct push
GRAPH = {
    "a": [],
    "b": ["a"],
    "f1": ["a"],
    "f2": ["f1"],
    "M1": ["b", "f2"],
    "d": ["M1"],
    "g1": ["d"],
    "M2": ["d", "g1"],
    "S3": ["M2"],
}
LANDINGS = {"M1": 1, "M2": 2, "S3": 3}


def test_merge_and_squash_landings_claim_their_branches_and_the_rest_is_direct():
    owner, traced = owners(GRAPH, main_tip("S3"), LANDINGS)
    assert owner == {
        "a": None,
        "b": None,
        "f1": 1,
        "f2": 1,
        "M1": 1,
        "d": None,
        "g1": 2,
        "M2": 2,
        "S3": 3,
    }
    assert {sha for sha, t in traced.items() if t.is_landing} == {"M1", "M2", "S3"}
    assert all(t.is_on_main_line for t in traced.values())


def test_a_commit_reachable_from_the_first_parent_is_not_the_merged_branch():
    # The PR branch merged main in (x = merge of main's b into the branch): b and a are reachable from
    # M's first parent, so only f1, x and f2 are the branch's: `git rev-list c..f2` = f2, x, f1.
    #   main: a - b - c ----- M
    #          \   \         /
    #           f1 - x - f2
    parents = {
        "a": [],
        "b": ["a"],
        "c": ["b"],
        "f1": ["a"],
        "x": ["f1", "b"],
        "f2": ["x"],
        "M": ["c", "f2"],
    }
    owner, _ = owners(parents, main_tip("M"), {"M": 9})
    assert owner == {"a": None, "b": None, "c": None, "f1": 9, "x": 9, "f2": 9, "M": 9}


def test_a_merge_inside_a_pull_request_branch_is_part_of_that_pull_request():
    # N5 ("Merge pull request #5", e.g. a fork's own pull request) merged h1 into PR 4's branch, then PR 4
    # reached main through M4: everything on that branch is PR 4's, N5 is no landing.
    #   main: a ------------- M4
    #          \             /
    #           e1 -- N5 -- e2
    #            \   /
    #             h1
    parents = {
        "a": [],
        "e1": ["a"],
        "h1": ["e1"],
        "N5": ["e1", "h1"],
        "e2": ["N5"],
        "M4": ["a", "e2"],
    }
    owner, traced = owners(parents, main_tip("M4"), {"M4": 4, "N5": 5})
    assert owner == {"a": None, "e1": 4, "h1": 4, "N5": 4, "e2": 4, "M4": 4}
    assert not traced["N5"].is_landing


def test_squash_title_inside_a_merged_branch_is_not_a_landing():
    # k1 carries "(#7)" (a cherry-picked squash title) inside PR 6's branch: it stays PR 6's.
    parents = {"a": [], "k1": ["a"], "M6": ["a", "k1"]}
    owner, traced = owners(parents, main_tip("M6"), {"M6": 6, "k1": 7})
    assert owner == {"a": None, "k1": 6, "M6": 6}
    assert not traced["k1"].is_landing


def test_maintenance_branch_merged_forward_keeps_its_pull_requests():
    # 1.x has PR 11 merged by L11 and squash S12; main merges 1.x forward with a plain merge F: the
    # maintenance pull requests keep their commits, F brings nothing of its own, t1 is a direct fix on 1.x.
    #   main: a - b ------------------- F
    #          \                       /
    #           1.x: t1 - L11 - S12 --
    #                \   /
    #                 p1
    parents = {
        "a": [],
        "b": ["a"],
        "t1": ["a"],
        "p1": ["t1"],
        "L11": ["t1", "p1"],
        "S12": ["L11"],
        "F": ["b", "S12"],
    }
    owner, traced = owners(parents, main_tip("F"), {"L11": 11, "S12": 12})
    assert owner == {"a": None, "b": None, "t1": None, "p1": 11, "L11": 11, "S12": 12, "F": None}
    assert traced["S12"].is_landing


def test_pull_heads_bring_squashed_branches_and_never_take_main_commits():
    # PR 3 was squashed into S3 on main; its head h2 (h1 - h2, forked from b) is kept as refs/pull/3/head.
    # PR 4 is still open (head o1). Main-line tips are walked first: b stays direct.
    parents = {"a": [], "b": ["a"], "h1": ["b"], "h2": ["h1"], "S3": ["b"], "o1": ["S3"]}
    owner, traced = owners(parents, main_tip("S3"), {"S3": 3}, pull_heads=[(3, "h2"), (4, "o1")])
    assert owner == {"a": None, "b": None, "S3": 3, "h1": 3, "h2": 3, "o1": 4}
    assert not traced["h1"].is_on_main_line
    assert not traced["o1"].is_landing


def test_default_branch_walked_before_a_feature_branch_that_contains_a_merged_pr_branch():
    # feature/x is newer than main and contains PR 1's branch f1 (not merged there by a landing). Walked
    # first, it would make f1 a direct commit; the default branch goes first so M1 claims f1.
    parents = {"a": [], "f1": ["a"], "M1": ["a", "f1"], "x1": ["f1"]}
    jan, feb = datetime(2026, 1, 1, tzinfo=UTC).timestamp(), datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    tips = tracing.order_tips([("feature/x", "x1", feb), ("main", "M1", jan)], [("x1", feb), ("M1", jan)])
    assert tips == [("M1", True), ("x1", False)]
    owner, traced = owners(parents, tips, {"M1": 1})
    assert owner == {"a": None, "f1": 1, "M1": 1, "x1": None}
    assert not traced["x1"].is_on_main_line


def test_without_a_default_branch_every_tip_is_a_main_line_newest_first():
    jan, feb = datetime(2026, 1, 1, tzinfo=UTC).timestamp(), datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    assert tracing.order_tips([], [("old", jan), ("new", feb)]) == [("new", True), ("old", True)]
    # The same commit named twice keeps its best rank.
    assert tracing.order_tips([("refs/tags/v1", "m", jan), ("master", "m", jan)], []) == [("m", True)]


def test_unknown_parents_end_the_walk_and_cycles_do_not_loop():
    owner, _ = owners({"b": ["before-horizon"], "c": ["b"]}, main_tip("c"), {})
    assert owner == {"b": None, "c": None}
    owner, _ = owners({"x": ["y"], "y": ["x"]}, main_tip("x"), {})
    assert owner == {"x": None, "y": None}


def test_graph_heads_are_commits_nobody_names_as_parent():
    assert tracing.graph_heads(GRAPH) == {"S3"}


def test_long_linear_history_has_no_recursion_limit():
    n = 50_000
    parents = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(n)}
    traced = tracing.trace_pull_requests(parents, [(f"c{n - 1}", True)], {})
    assert len(traced) == n


def test_host_default_branch_is_the_main_line_and_other_heads_are_not():
    # A GitLab project lists commits of every branch: the open merge request's branch (o1) is no main line
    # once the host names `production` as the default branch, even though `main` exists too.
    jan, feb = 1.0, 2.0
    tips = tracing.order_tips(
        [("production", "p", jan), ("main", "m", feb), ("feature", "o1", feb)], [("o1", feb)], ["production"]
    )
    assert tips == [("p", True), ("m", True), ("o1", False)]
