"""Extending an earlier commit walk instead of redoing it, on hand-made graphs in a plain DuckDB.

`refresh_walks` is the incremental model's work on named relations: these tests give it hand-made
deployments and commits, keep its rows in a table the way dbt's delete+insert does, change the inputs, and
refresh again. Whatever the model decides (keep, extend or redo a service+environment), its rows must be
those of a walk from scratch over today's inputs; each test names the decision it expects, and the tests
for the redo conditions are written so that an extension would give wrong rows.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import duckdb
import pytest
from test_attribution import attribution, shipped_by

SERVICE = ("api", "production")
COLUMNS = "service, environment, commit_sha, deployment_id, deployed_at, is_baseline"
T0 = datetime(2026, 6, 1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Stub:
    """The model's three inputs and its built table, in an in-memory DuckDB."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute(
            """
            create table deployments (
                service varchar, environment varchar, repository varchar, deployment_id varchar,
                commit_sha varchar, deployed_at timestamp, deployment_order_key bigint, is_successful boolean
            );
            create table commits (repository varchar, commit_sha varchar, parent_shas varchar[]);
            create table fingerprint_version (version integer);
            insert into fingerprint_version values (0);
            -- Every refresh changes every fingerprint unless told otherwise: the checks decide.
            create view inputs as
            select distinct service, environment, hash(service, environment, version) as input_fingerprint
            from deployments, fingerprint_version
            where is_successful and service is not null and deployed_at is not null;
            """
        )
        self.built = False
        self.plan = None

    def deploy(
        self, deployment_id: str, sha: str, hours: float, *, key=SERVICE, repository="acme/api", ok=True
    ):
        service, environment = key
        self.con.execute(
            "insert into deployments values (?, ?, ?, ?, ?, ?, ?, ?)",
            [service, environment, repository, deployment_id, sha, at(hours), None, ok],
        )

    def commit(self, sha: str, *parents: str, repository="acme/api"):
        self.con.execute("insert into commits values (?, ?, ?)", [repository, sha, list(parents)])

    def remove_commit(self, sha: str):
        self.con.execute("delete from commits where commit_sha = ?", [sha])

    def refresh(self, *, same_fingerprints: bool = False):
        if not same_fingerprints:
            self.con.execute("update fingerprint_version set version = version + 1")
        this = "built" if self.built else None
        self.plan, table, _ = attribution.refresh_walks(self.con, "deployments", "commits", "inputs", this)
        self.con.register("new_rows", table)
        if not self.built:
            self.con.execute("create table built as select * from new_rows")
            self.built = True
        else:
            # dbt's delete+insert on (service, environment, commit_sha)
            self.con.execute(
                """delete from built using new_rows as new
                where new.service = built.service and new.environment = built.environment
                    and new.commit_sha = built.commit_sha"""
            )
            self.con.execute("insert into built select * from new_rows")
        self.con.unregister("new_rows")
        return self.plan

    def rows(self) -> set[tuple]:
        return set(self.con.sql(f"select {COLUMNS} from built").fetchall())

    def from_scratch(self) -> set[tuple]:
        _, table, _ = attribution.refresh_walks(self.con, "deployments", "commits", "inputs", None)
        return {tuple(row[c] for c in COLUMNS.split(", ")) for row in table.to_pylist()}

    def shipped(self, key=SERVICE) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for _, _, sha, deployment_id, _, _ in self.rows():
            out.setdefault(deployment_id, set()).add(sha)
        return out

    def assert_as_from_scratch(self):
        assert self.rows() == self.from_scratch()


def decision(plan, key=SERVICE) -> str:
    for name in ("unchanged", "extended", "redone"):
        if key in getattr(plan, name):
            return name
    raise AssertionError(f"{key} not planned")


# --- the extension entry point of the walk itself ----------------------------------------------------


def test_extending_a_walk_ships_what_the_whole_walk_ships_after_it():
    # a <- b <- c <- d <- e ; d1 deploys b, d2 d, d3 e
    parents = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "e": ["d"]}
    whole = attribution.attribute_commits(parents, [("d1", "b"), ("d2", "d"), ("d3", "e")])
    tail = attribution.attribute_commits(
        parents, [("d2", "d"), ("d3", "e")], shipped={"a", "b"}, first_is_baseline=False
    )
    assert shipped_by(tail) == {"d2": {"c", "d"}, "d3": {"e"}}
    assert shipped_by(tail) == {k: v for k, v in shipped_by(whole).items() if k != "d1"}
    assert tail.baseline_deployment_id is None
    assert {s.is_baseline for s in tail.shipments} == {False}


def test_an_extension_may_leave_the_shipped_commits_out_of_the_graph():
    # The model hands an extension only the commits not shipped yet: a parent missing from the map stops
    # the walk as a shipped one would, and redeploying a shipped SHA ships nothing without being unknown.
    unshipped = {"c": ["b"], "d": ["c"]}
    result = attribution.attribute_commits(
        unshipped, [("again", "b"), ("d3", "d")], shipped={"b"}, first_is_baseline=False
    )
    assert shipped_by(result) == {"d3": {"c", "d"}}
    assert result.unknown_sha_deployments == []


def test_the_first_deployment_of_an_extension_is_the_baseline_only_when_asked():
    parents = {"a": [], "b": ["a"]}
    result = attribution.attribute_commits(parents, [("d1", "b")], shipped=(), first_is_baseline=True)
    assert result.baseline_deployment_id == "d1"
    assert {s.is_baseline for s in result.shipments} == {True}


# --- the model's plan: extend when only appended, redo otherwise ---------------------------------------


def linear_start() -> Stub:
    """a <- b <- c, deployed at b (the baseline) then c."""
    stub = Stub()
    stub.commit("a")
    stub.commit("b", "a")
    stub.commit("c", "b")
    stub.deploy("d1", "b", 1)
    stub.deploy("d2", "c", 3)
    assert decision(stub.refresh()) == "redone"
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"c"}}
    return stub


def test_new_deployments_and_commits_extend_the_walk():
    stub = linear_start()
    stub.commit("d", "c")
    stub.commit("e", "d")
    stub.deploy("d3", "e", 5)
    plan = stub.refresh()
    assert decision(plan) == "extended"
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"c"}, "d3": {"d", "e"}}
    stub.assert_as_from_scratch()
    # the old rows are the old walk's, the new ones the extension's
    state = dict(stub.con.sql("select commit_sha, walked_deployments from built").fetchall())
    assert state == {"a": 2, "b": 2, "c": 2, "d": 3, "e": 3}


def test_new_commits_without_a_new_deployment_extend_by_nothing():
    stub = linear_start()
    stub.commit("d", "c")
    plan = stub.refresh()
    assert decision(plan) == "extended"
    stub.assert_as_from_scratch()


def test_unchanged_fingerprints_walk_nothing():
    stub = linear_start()
    plan = stub.refresh(same_fingerprints=True)
    assert decision(plan) == "unchanged"
    stub.assert_as_from_scratch()


def test_an_extension_reads_only_the_commits_not_shipped(monkeypatch):
    stub = linear_start()
    stub.commit("d", "c")
    stub.deploy("d3", "d", 5)
    seen: list[set[str]] = []
    walk = attribution.attribute_commits

    def recording(parents, deployments, **kwargs):
        seen.append(set(parents))
        return walk(parents, deployments, **kwargs)

    monkeypatch.setattr(attribution, "attribute_commits", recording)
    assert decision(stub.refresh()) == "extended"
    assert seen == [{"d"}]
    stub.assert_as_from_scratch()


def test_an_extension_reads_only_the_unshipped_commits_its_deployments_reach(monkeypatch):
    """A squash-merged branch's own commits stay unshipped forever: the extension does not read them, but it
    reads a merged branch's commits, however old, through the merge."""
    stub = linear_start()
    stub.commit("x1", "b")  # a branch squash-merged as d: nothing will ever ship x1, x2
    stub.commit("x2", "x1")
    stub.commit("y", "a")  # a branch merged by m below
    stub.commit("d", "c")
    stub.commit("m", "d", "y")
    stub.deploy("d3", "m", 5)
    seen: list[set[str]] = []
    walk = attribution.attribute_commits

    def recording(parents, deployments, **kwargs):
        seen.append(set(parents))
        return walk(parents, deployments, **kwargs)

    monkeypatch.setattr(attribution, "attribute_commits", recording)
    assert decision(stub.refresh()) == "extended"
    assert seen == [{"d", "y", "m"}]
    assert stub.shipped()["d3"] == {"d", "y", "m"}
    stub.assert_as_from_scratch()


def test_a_redeploy_of_a_shipped_sha_extends_by_nothing():
    stub = linear_start()
    stub.deploy("rollback", "b", 5)
    plan = stub.refresh()
    assert decision(plan) == "extended"
    stub.assert_as_from_scratch()


# Condition 1: the deployments walked before are today's first ones, and the new ones sort after them.
def test_a_late_deployment_before_the_last_one_walked_redoes():
    # d_late deployed b between d1 (a) and d2 (c): it, not d2, shipped b.
    stub = Stub()
    for sha, parent in (("a", None), ("b", "a"), ("c", "b")):
        stub.commit(sha, *([parent] if parent else []))
    stub.deploy("d1", "a", 1)
    stub.deploy("d2", "c", 3)
    stub.refresh()
    stub.deploy("d_late", "b", 2)
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert plan.redo_reasons == {"deployments_before_changed": {SERVICE}}
    assert stub.shipped() == {"d1": {"a"}, "d_late": {"b"}, "d2": {"c"}}
    stub.assert_as_from_scratch()


def test_a_deployment_walked_before_that_is_no_longer_successful_redoes():
    stub = linear_start()
    stub.con.execute("update deployments set is_successful = false where deployment_id = 'd1'")
    stub.commit("d", "c")
    stub.deploy("d3", "d", 5)
    assert decision(stub.refresh()) == "redone"
    assert stub.shipped() == {"d2": {"a", "b", "c"}, "d3": {"d"}}
    stub.assert_as_from_scratch()


# Condition 2a: every shipped commit is still in the graph.
def test_a_shipped_commit_gone_from_the_graph_redoes():
    stub = linear_start()
    stub.remove_commit("a")
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert plan.redo_reasons == {"shipped_commit_gone": {SERVICE}}
    assert stub.shipped() == {"d1": {"b"}, "d2": {"c"}}
    stub.assert_as_from_scratch()


# Condition 2b: no shipped commit's parent list changed.
def test_a_shipped_commit_that_lost_a_parent_redoes():
    #   a <- b <- m      m merged x; then a source that no longer lists x as m's parent
    #   x <------/
    stub = Stub()
    stub.commit("a")
    stub.commit("b", "a")
    stub.commit("x")
    stub.commit("m", "b", "x")
    stub.deploy("d1", "b", 1)
    stub.deploy("d2", "m", 3)
    stub.refresh()
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"m", "x"}}
    stub.remove_commit("m")
    stub.commit("m", "b")
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert plan.redo_reasons == {"shipped_parents_changed": {SERVICE}}
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"m"}}
    stub.assert_as_from_scratch()


# Condition 2c: every parent of a shipped commit that the graph knows is shipped.
def test_a_dangling_parent_of_a_shipped_commit_loaded_since_redoes():
    # b's parent a was not loaded when d1 (the baseline) shipped b; now it is, and the baseline ships it.
    stub = Stub()
    stub.commit("b", "a")
    stub.commit("c", "b")
    stub.deploy("d1", "b", 1)
    stub.deploy("d2", "c", 3)
    stub.refresh()
    assert stub.shipped() == {"d1": {"b"}, "d2": {"c"}}
    stub.commit("a")
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert plan.redo_reasons == {"shipped_parent_unshipped": {SERVICE}}
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"c"}}
    stub.assert_as_from_scratch()


def test_a_shipped_commit_whose_parents_grew_toward_an_unshipped_commit_redoes():
    stub = linear_start()
    stub.commit("y", "a")
    stub.commit("c", "y")  # a second source lists y as c's parent too
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert set(plan.redo_reasons) == {"shipped_parents_changed", "shipped_parent_unshipped"}
    assert stub.shipped() == {"d1": {"a", "b"}, "d2": {"c", "y"}}
    stub.assert_as_from_scratch()


# Condition 3: a deployment walked before whose SHA the graph knows now shipped it (or saw it shipped).
def test_a_deployed_sha_unknown_then_and_known_now_redoes():
    # d2 deployed x, a commit on a branch off a that was not loaded yet: it shipped nothing then.
    stub = Stub()
    stub.commit("a")
    stub.commit("b", "a")
    stub.deploy("d1", "a", 1)
    stub.deploy("d2", "x", 2)
    stub.deploy("d3", "b", 3)
    stub.refresh()
    assert stub.shipped() == {"d1": {"a"}, "d3": {"b"}}
    stub.commit("x", "a")
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert plan.redo_reasons == {"deployed_sha_now_known": {SERVICE}}
    assert stub.shipped() == {"d1": {"a"}, "d2": {"x"}, "d3": {"b"}}
    stub.assert_as_from_scratch()


def test_a_baseline_older_than_the_history_becomes_known_and_redoes():
    # The baseline named 'old', before the horizon: d2 shipped x, y with their lead time. Once 'old' is
    # loaded the baseline ships it.
    stub = Stub()
    stub.commit("x", "old")
    stub.commit("y", "x")
    stub.deploy("first", "old", 1)
    stub.deploy("next", "y", 2)
    stub.refresh()
    assert stub.shipped() == {"next": {"x", "y"}}
    stub.commit("old")
    stub.commit("z", "y")
    stub.deploy("third", "z", 3)
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert "deployed_sha_now_known" in plan.redo_reasons
    assert stub.shipped() == {"first": {"old"}, "next": {"x", "y"}, "third": {"z"}}
    stub.assert_as_from_scratch()


def test_an_extension_after_an_unknown_baseline_ships_no_baseline():
    stub = Stub()
    stub.commit("x", "old")
    stub.commit("y", "x")
    stub.deploy("first", "old", 1)
    stub.deploy("next", "y", 2)
    stub.refresh()
    stub.commit("z", "y")
    stub.deploy("third", "z", 3)
    assert decision(stub.refresh()) == "extended"
    assert stub.con.sql("select count(*) from built where is_baseline").fetchall() == [(0,)]
    stub.assert_as_from_scratch()


# --- state the model cannot extend from ----------------------------------------------------------------


def test_rows_built_without_walk_state_are_redone():
    stub = linear_start()
    stub.con.execute(
        "update built set walked_deployments = null, walked_prefix_hash = null, parents_hash = null"
    )
    stub.commit("d", "c")
    stub.deploy("d3", "d", 5)
    assert decision(stub.refresh()) == "redone"
    stub.assert_as_from_scratch()


def test_a_table_built_before_rows_kept_their_walk_is_redone():
    stub = linear_start()
    stub.con.execute(
        "create or replace table built as select service, environment, commit_sha, deployment_id, "
        "deployed_at, is_baseline, input_fingerprint from built"
    )
    stub.commit("d", "c")
    stub.deploy("d3", "d", 5)
    stub.con.execute("update fingerprint_version set version = version + 1")
    plan = attribution.plan_walks(stub.con, "deployments", "commits", "inputs", "built")
    assert decision(plan) == "redone"


def test_a_service_deploying_from_two_repositories_is_redone():
    stub = linear_start()
    stub.commit("o1", repository="acme/other")
    stub.deploy("d3", "o1", 5, repository="acme/other")
    assert decision(stub.refresh()) == "redone"
    stub.assert_as_from_scratch()


def test_rows_of_a_service_environment_that_no_longer_ships_are_dropped():
    stub = linear_start()
    stub.deploy("s1", "c", 2, key=("api", "staging"))
    stub.refresh()
    assert ("api", "staging", "c", "s1", at(2), True) in stub.rows()
    # staging's only deployment failed after all; production's baseline now names an unknown SHA
    stub.con.execute("update deployments set is_successful = false where deployment_id = 's1'")
    stub.con.execute("update deployments set commit_sha = 'gone' where deployment_id in ('d1', 'd2')")
    plan = stub.refresh()
    assert decision(plan) == "redone"
    assert stub.rows() == set()
    stub.assert_as_from_scratch()


# --- many refreshes of a growing history ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_random_growing_histories_match_a_walk_from_scratch(seed):
    """Each day appends commits (merges, side branches, commits loaded late, parents known late) and
    deployments (mostly in order, some late or failed, some of unknown SHAs) to three services, two sharing
    a repository; every refresh's rows must equal a walk from scratch."""
    rng = random.Random(seed)
    stub = Stub()
    keys = [("api", "production"), ("api", "staging"), ("web", "production")]
    repository_of = {"api": "acme/mono", "web": "acme/mono"}
    commits: list[str] = []
    pending: list[tuple[str, list[str]]] = []  # commits not loaded yet
    hour = 0.0
    decisions: set[str] = set()
    for day in range(12):
        for n in range(rng.randint(0, 6)):
            sha = f"c{day}_{n}"
            parents = rng.sample(commits, k=min(len(commits), rng.choice([1, 1, 1, 2]))) if commits else []
            if rng.random() < 0.1:
                parents.append(f"never{day}_{n}")
            commits.append(sha)
            (pending if rng.random() < 0.15 else [None]).append((sha, parents))
            if pending and pending[-1][0] == sha:
                continue
            stub.commit(sha, *parents, repository="acme/mono")
        if pending and rng.random() < 0.5:
            sha, parents = pending.pop(0)
            stub.commit(sha, *parents, repository="acme/mono")
        for key in keys:
            for n in range(rng.randint(0, 2)):
                hour += 1
                when = hour - (rng.choice([5, 20]) if rng.random() < 0.1 else 0)
                sha = rng.choice(commits[-8:] + ["unknown"]) if commits else "unknown"
                stub.deploy(
                    f"{key[0]}-{key[1]}-{day}-{n}",
                    sha,
                    when,
                    key=key,
                    repository=repository_of[key[0]],
                    ok=rng.random() > 0.1,
                )
        plan = stub.refresh()
        decisions |= {name for name in ("extended", "redone") if getattr(plan, name)}
        stub.assert_as_from_scratch()
    assert "extended" in decisions
