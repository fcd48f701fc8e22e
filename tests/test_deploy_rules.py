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


def test_branch_patterns_mean_what_duckdb_makes_of_them_where_python_applies_them():
    """The branch_push walk here and the GitHub source's choice of branches to load apply the pattern the
    way DuckDB (RE2) does, as for every other rule: `\\d` is an ASCII digit (Python's `re` also takes
    '٣', an Arabic-Indic digit), and RE2's `\\p{..}` classes, which `re` refuses, work."""
    import re

    from ingestion.github import branches_to_load

    digits = r"^release/\d+$"
    assert re.search(digits, "release/٣")  # what the Python engine would have said
    graph = {"r3": [], "rx": []}
    branches = [("shop", "release/3", "r3"), ("shop", "release/٣", "rx")]
    rows = pushes.pushes_for_rules({"shop": graph}, branches, [("s", "p", "shop", digits)])
    assert [sha for _, _, _, sha, _ in rows] == ["r3"]
    assert branches_to_load(["main", "release/3", "release/٣"], "main", [digits]) == ["release/3"]
    letters = r"^\p{Lu}+$"  # upper-case letters; case-insensitive like every rule
    assert branches_to_load(["main", "PROD", "prod-1"], "develop", [letters]) == ["PROD", "main"]
    rule = ("s", "p", "shop", letters)
    rows = pushes.pushes_for_rules({"shop": {"a": []}}, [("shop", "Main", "a")], [rule])
    assert [sha for _, _, _, sha, _ in rows] == ["a"]


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    import os
    import subprocess

    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env.update(GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com")
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.com")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    command = ["git", "-C", str(repo), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_branch_push_rule_through_the_refresh(tmp_path):
    """Deploy on merge: main's first-parent commits (initial, the merge, a direct push) are production
    deployments at their committer time; the feature branch's commits ship with the merge. A feature
    branch matching no rule deploys nothing on its own."""
    import duckdb

    from orchestration.cli import run_refresh
    from orchestration.workdir import Workdir

    repo = tmp_path / "shop"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    day = 1_760_000_000

    def commit(message: str, offset_days: int) -> str:
        _git(repo, "commit", "-q", "--allow-empty", "-m", message, date=f"{day + offset_days * 86400} +0000")
        return _git(repo, "rev-parse", "HEAD")

    first = commit("Initial commit", 0)
    _git(repo, "checkout", "-q", "-b", "feature")
    f1 = commit("Feature part one", 1)
    f2 = commit("Feature part two", 2)
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from ada/feature", "feature",
         date=f"{day + 3 * 86400} +0000")  # fmt: skip
    merge = _git(repo, "rev-parse", "HEAD")
    direct = commit("Direct push", 4)

    workdir = Workdir.at(tmp_path / "wd").ensure()
    workdir.config.write_text(
        "sources:\n  git:\n    repositories:\n      - path: ../shop\n"
        "teams:\n  - name: core\n"
        "services:\n  - name: shop\n    team: core\n    repository: shop\n    deployments:\n"
        '      - environment: production\n        branch_push: "^main$"\n'
    )
    run_refresh(workdir.config, workdir)
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        deployments = con.execute(
            "select source_deployment_id, source_system, environment, is_production, status, is_baseline, "
            "commit_count, epoch(deployed_at)::bigint from marts.fct_deployments order by deployed_at"
        ).fetchall()
        shipped = dict(
            con.execute(
                "select fct_commits.commit_sha, fct_deployments.source_deployment_id from marts.fct_commits "
                "left join marts.fct_deployments using (deployment_id)"
            ).fetchall()
        )
    assert deployments == [
        (f"shop@{first}", "git_push", "production", True, "success", True, 1, day),
        (f"shop@{merge}", "git_push", "production", True, "success", False, 3, day + 3 * 86400),
        (f"shop@{direct}", "git_push", "production", True, "success", False, 1, day + 4 * 86400),
    ]
    assert shipped == {
        first: f"shop@{first}",
        f1: f"shop@{merge}",
        f2: f"shop@{merge}",
        merge: f"shop@{merge}",
        direct: f"shop@{direct}",
    }
