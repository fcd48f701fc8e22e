"""Commits that reached a deploy branch, for services whose `branch_push` rule says pushing there deploys.

Teams that deploy on merge have no deployment record: each commit on the branch's first-parent chain (the
merge or squash commit each merge put there, or each directly pushed commit) is one deployment, at its
committer time. A dbt Python model because following first parents from a tip is a chain walk: linear
here, where a recursive SQL CTE re-joins the commit table once per step. Branch tips are every source's
branches (int_branches_unioned: a clone's, GitHub's, GitLab's), matched to the service's `repository` as
written, like every other repository fact (int_repositories_mapped_to_services). The graph is the branch
history of int_commits_unioned.

The walk is the plain function `first_parent_chain`, importable without dbt so it is tested on hand-made
graphs (tests/test_deploy_rules.py); `model` only reads and writes tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import compress
from typing import Any

from ingestion.patterns import RegexEngine

OUTPUT_COLUMNS = ("service", "environment", "repository", "commit_sha", "pushed_at", "chain_position")


def first_parent_chain(parents: Mapping[str, Sequence[str]], tip: str) -> list[str]:
    """SHAs from `tip` back along first parents, newest first, stopping where the graph ends.

    A commit seen twice (a malformed graph with a cycle) ends the walk instead of looping forever.
    """
    chain: list[str] = []
    seen: set[str] = set()
    sha: str | None = tip
    while sha is not None and sha in parents and sha not in seen:
        seen.add(sha)
        chain.append(sha)
        first = parents[sha]
        sha = first[0] if first else None
    return chain


def pushes_for_rules(
    parents_by_repository: Mapping[str, Mapping[str, Sequence[str]]],
    branches: Iterable[tuple[str, str, str]],
    rules: Iterable[tuple[str, str, str, str]],
) -> list[tuple[str, str, str, str, int]]:
    """(service, environment, repository, commit_sha, chain_position) for every branch_push rule.

    `branches` are (repository, branch, tip_sha); `rules` are (service, environment, repository, pattern)
    with the service's repository. The pattern is a case-insensitive regex searched in the branch name, by
    DuckDB (RE2) as every deploy rule's pattern.
    A commit on several matching branches is one deployment. chain_position counts from the oldest commit
    of the chain (0), so later pushes sort after earlier ones when committer times tie.
    """
    tips_by_repository: dict[str, list[tuple[str, str]]] = {}
    for repository, branch, tip in branches:
        tips_by_repository.setdefault(repository, []).append((branch, tip))
    out: dict[tuple[str, str, str], tuple[str, str, str, str, int]] = {}
    engine = RegexEngine()  # DuckDB's regexes, like every other rule's (ingestion/patterns.py)
    try:
        for service, environment, repository, pattern in rules:
            parents = parents_by_repository.get(repository, {})
            tips = sorted(tips_by_repository.get(repository, []))
            found = engine.search(pattern, [branch for branch, _ in tips])
            for _, tip in compress(tips, found):
                chain = first_parent_chain(parents, tip)
                for position, sha in enumerate(reversed(chain)):
                    key = (service, environment, sha)
                    if key not in out or out[key][4] < position:
                        out[key] = (service, environment, repository, sha, position)
    finally:
        engine.close()
    return sorted(out.values())


def model(dbt: Any, session: Any) -> Any:
    """dbt entry point: branch tips and rules in, one row per (service, environment, pushed commit) out.

    Without a `branch_push` rule (most organisations) the model is an empty table, built in SQL without
    reading the graph. Otherwise only first parents cross into Python, as Arrow columns turned into one
    dict per repository; committer times are read for the pushed commits only.
    """
    dbt.config(materialized="table")
    rules = (
        dbt.ref("stg_config__deploy_rules")
        .filter("rule_kind = 'branch_push'")
        .select("service, environment, match_pattern")
        .fetchall()
    )
    repositories = dict(dbt.ref("stg_config__services").select("service, repository").fetchall())
    rule_rows = [
        (service, environment, repositories.get(service), pattern)
        for service, environment, pattern in rules
        if repositories.get(service)
    ]
    if not rule_rows:
        return session.sql(
            "select null::varchar as service, null::varchar as environment, null::varchar as repository, "
            "null::varchar as commit_sha, null::timestamp as pushed_at, null::bigint as chain_position "
            "where false"
        )
    import pyarrow as pa

    schema = pa.schema(
        [
            ("service", pa.string()),
            ("environment", pa.string()),
            ("repository", pa.string()),
            ("commit_sha", pa.string()),
            ("pushed_at", pa.timestamp("us")),
            ("chain_position", pa.int64()),
        ]
    )
    wanted = sorted({rule[2] for rule in rule_rows})
    quoted = ", ".join("'" + name.replace("'", "''") + "'" for name in wanted)
    commits = dbt.ref("int_commits_unioned").filter(f"is_on_branch and repository in ({quoted})")
    graph = commits.select("repository, commit_sha, coalesce(parent_shas, [])[1:1]").order("repository")
    parents_by_repository: dict[str, dict[str, list[str]]] = {}
    names, shas, firsts = (column.to_pylist() for column in graph.to_arrow_table().columns)
    for repository, sha, first in zip(names, shas, firsts, strict=True):
        parents_by_repository.setdefault(repository, {})[sha] = first
    branches: list[tuple[str, str, str]] = (
        dbt.ref("int_branches_unioned")
        .filter(f"ref_kind = 'branch' and repository in ({quoted}) and commit_sha is not null")
        .select("repository, ref_name, commit_sha")
        .fetchall()
    )
    pushes = pushes_for_rules(parents_by_repository, branches, rule_rows)
    pushed = {(repository, sha) for _, _, repository, sha, _ in pushes}
    committed_at: dict[tuple[str, str], Any] = {}
    if pushed:
        for repository, sha, when in commits.select("repository, commit_sha, committed_at").fetchall():
            if (repository, sha) in pushed:
                committed_at[(repository, sha)] = when
    rows = [
        (service, environment, repository, sha, committed_at[(repository, sha)], position)
        for service, environment, repository, sha, position in pushes
    ]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in OUTPUT_COLUMNS]
    return pa.table(
        [pa.array(list(values), type=schema.field(i).type) for i, values in enumerate(columns)], schema=schema
    )
