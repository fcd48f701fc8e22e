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


# --- The model's fast path (numbered commits, SQL edges, per-repository slices) against a plain walk. ---


def reference_trace(parents, tips, landings, pull_heads=()):
    """The definition, walked recursively on SHAs: a commit takes the owner of the first line that reaches
    it; a landing on direct history owns its merged branches (second and further known parents); each
    commit's first parent's history is walked whole before its other parents'; tips in order, then pull
    request heads. {sha: (pr_number, is_landing, is_on_main_line)}."""
    traced = {}

    def visit(sha, owner, main_line):
        if sha not in parents or sha in traced:
            return
        landing = landings.get(sha)
        is_landing = landing is not None and owner is None
        traced[sha] = (landing if is_landing else owner, is_landing, main_line)
        for position, parent in enumerate(p for p in parents[sha] if p in parents):
            visit(parent, owner if position == 0 or not is_landing else landing, main_line)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(parents) + 1000))
    try:
        for sha, main_line in tips:
            visit(sha, None, main_line)
        for number, sha in pull_heads:
            visit(sha, number, False)
    finally:
        sys.setrecursionlimit(limit)
    return traced


def random_history(rng, size):
    """A graph with merges (up to three parents, sometimes a repeated one), parents before the horizon,
    an occasional cycle, landings, and SHAs whose sort order is not their age."""
    shas = [f"{rng.getrandbits(40):010x}" for _ in range(size)]
    parents = {}
    for index, sha in enumerate(shas):
        if index == 0 or rng.random() < 0.05:
            parents[sha] = [] if rng.random() < 0.5 else [f"gone{index}"]
            continue
        count = rng.choice((1, 1, 1, 2, 2, 3))
        chosen = [shas[rng.randrange(max(0, index - 12), index)] for _ in range(count)]
        if rng.random() < 0.1:
            chosen.append(f"gone{index}")
        if rng.random() < 0.03:
            chosen.append(chosen[0])
        parents[sha] = chosen
    if size > 3 and rng.random() < 0.3:  # a malformed graph: an old commit names a later one
        parents[shas[1]] = [*parents[shas[1]], shas[-2]]
    landings = {sha: rng.randrange(1, 40) for sha in shas if rng.random() < 0.2}
    return shas, parents, landings


def test_numbered_walk_equals_the_plain_walk_on_random_graphs():
    import random

    rng = random.Random(7)
    for _ in range(300):
        shas, parents, landings = random_history(rng, rng.randrange(1, 60))
        tips = [(sha, rng.random() < 0.5) for sha in rng.sample(shas, min(len(shas), rng.randrange(1, 5)))]
        tips.append(("unknown-tip", True))
        pull_heads = [(rng.randrange(1, 40), rng.choice(shas)) for _ in range(rng.randrange(0, 4))]
        traced = tracing.trace_pull_requests(parents, tips, landings, pull_heads)
        assert len({t.commit_sha for t in traced}) == len(traced)
        got = {t.commit_sha: (t.pr_number, t.is_landing, t.is_on_main_line) for t in traced}
        assert got == reference_trace(parents, tips, landings, pull_heads)


class _Dbt:
    """The part of dbt's object the model uses, over tables in an in-memory DuckDB."""

    def __init__(self, con):
        self.con = con

    def ref(self, name):
        return self.con.table(name)

    def config(self, **_):
        pass


def test_the_model_equals_the_plain_walk_on_random_repositories():
    # Several repositories in one table (one a fork sharing SHAs with another), commits outside the branch
    # history, branches and tags (a default branch, tips the graph does not know, tags without a time) and
    # pull request heads: the model's rows are those of the definition applied repository by repository.
    import random

    import duckdb

    rng = random.Random(11)
    for round_ in range(15):
        con = duckdb.connect()
        con.execute(
            "create table int_commits_unioned (repository varchar, commit_sha varchar, "
            "parent_shas varchar[], authored_at timestamp, committed_at timestamp, author_login varchar, "
            "author_name varchar, "
            "author_email varchar, message varchar, title varchar, landing_pr_number integer, "
            "is_on_branch boolean)"
        )
        con.execute(
            "create table int_branches_unioned (repository varchar, ref_kind varchar, ref_name varchar, "
            "commit_sha varchar, tip_at timestamp, pr_number integer, is_default_branch boolean)"
        )
        expected = {}
        histories = {}
        for repository in ("acme/api", "acme/web", "fork/api")[: rng.randrange(1, 4)]:
            if repository == "fork/api" and "acme/api" in histories:
                shas, parents, landings = histories["acme/api"]
            else:
                shas, parents, landings = random_history(rng, rng.randrange(1, 80))
            histories[repository] = (shas, parents, landings)
            committed = {sha: float(rng.randrange(1_600_000_000, 1_700_000_000)) for sha in shas}
            con.executemany(
                "insert into int_commits_unioned values (?, ?, ?, to_timestamp(?)::timestamp, "
                "to_timestamp(?)::timestamp, null, ?, null, ?, ?, ?, true)",
                [
                    [
                        repository,
                        sha,
                        parents[sha],
                        committed[sha],
                        committed[sha],
                        "dev",
                        "m",
                        "m",
                        landings.get(sha),
                    ]
                    for sha in shas
                ],
            )
            con.execute(  # a pull request's commit the branch history does not have
                "insert into int_commits_unioned values (?, ?, ?, null, null, null, null, null, 'x', 'x', 7, "
                "false)",
                [repository, f"pr-only-{round_}", [shas[-1]]],
            )
            named, defaults, pull_heads = [], [], []
            for index in range(rng.randrange(0, 6)):
                kind = rng.choice(("branch", "branch", "tag", "pull_request_head"))
                name = rng.choice(("main", "master", "develop", f"feature-{index}", f"v1.{index}"))
                sha = rng.choice(shas) if rng.random() < 0.9 else f"unknown-{index}"
                when = None if rng.random() < 0.4 else float(rng.randrange(1_600_000_000, 1_700_000_000))
                number = rng.randrange(1, 40) if kind == "pull_request_head" else None
                is_default = kind == "branch" and rng.random() < 0.2
                con.execute(
                    "insert into int_branches_unioned values (?, ?, ?, ?, to_timestamp(?)::timestamp, ?, ?)",
                    [repository, kind, name, sha, when, number, is_default],
                )
                if kind == "pull_request_head":
                    pull_heads.append((number, sha))
                    continue
                named.append(
                    (name if kind == "branch" else f"refs/tags/{name}", sha, when or committed.get(sha))
                )
                if is_default:
                    defaults.append(name)
            heads_here = {sha for _, sha in pull_heads}
            heads = [(sha, committed[sha]) for sha in tracing.graph_heads(parents) if sha not in heads_here]
            tips = tracing.order_tips(named, heads, defaults)
            for sha, row in reference_trace(parents, tips, landings, sorted(pull_heads)).items():
                expected[(repository, sha)] = (*row, len(parents[sha]) > 1)
        rows = tracing.model(_Dbt(con), con).fetchall()
        columns = tracing.OUTPUT_COLUMNS
        got = {}
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            key = (record["repository"], record["commit_sha"])
            assert key not in got, "a commit was traced twice"
            got[key] = (
                record["pr_number"],
                record["is_landing"],
                record["is_on_main_line"],
                record["is_merge"],
            )
        assert got == expected
