"""Every commit of the known graph, with the pull request whose merge brought it onto a branch, or none.

A pull request's commits are known from the host's API where there is one (GitHub, GitLab). A local clone
has no such list, and even with an API, commits pushed straight to a branch belong to no pull request.
This model reads the commit graph itself. A *landing* is the commit a merged pull request put on its target
branch: its merge commit (`Merge pull request #N ...`, or the API's merge commit SHA) or its squash commit
(`... (#N)`, or the API's squash commit SHA). Then:

- a merge landing brings the commits reachable from its second (and further) parents that its first parent
  does not reach: exactly `git rev-list M^1..M^2`, the branch that was merged;
- a squash landing brings itself; the branch it squashed is known only where the clone keeps the pull
  request's head (`refs/pull/N/head`), whose commits the main line never reaches;
- a commit on the main line that no landing brings is a direct push: its own change.

Pull request numbers count on lines of direct history only: a main line, or a branch merged into one
without a pull request (a maintenance branch merged forward keeps its own pull requests). Inside a pull
request's branch, a merge naming another number is most often a pull request of the contributor's fork,
whose number means nothing in this repository, and a squash title a cherry-pick: that work belongs to the
pull request that brought it (a stack of pull requests reaches the main line as one change).

The walk visits each commit once, depth first along first parents before second parents, so every merge's
first-parent side is fully claimed before its second-parent side is looked at: that is the set difference
above without computing it per merge. Tips are taken default branches first, then the other branch and
tag tips and graph heads, newest first; pull request heads last. The walk is the plain function
`trace_pull_requests`, importable without dbt (tests/test_change_tracing.py); `model` reads and writes
tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

OUTPUT_COLUMNS = (
    "repository",
    "commit_sha",
    "pr_number",
    "is_landing",
    "is_merge",
    "is_on_main_line",
    "authored_at",
    "committed_at",
    "author_name",
    "message",
)

# Branch names that are a repository's main line when present, best first.
DEFAULT_BRANCHES = ("main", "master", "trunk", "develop", "origin/main", "origin/master", "origin/trunk")


class Traced(NamedTuple):
    """One commit and the pull request that brought it (None: no pull request did)."""

    commit_sha: str
    pr_number: int | None
    is_landing: bool
    is_on_main_line: bool


def trace_pull_requests(
    parents: Mapping[str, Sequence[str]],
    tips: Sequence[tuple[str, bool]],
    landings: Mapping[str, int],
    pull_heads: Iterable[tuple[int, str]] = (),
) -> list[Traced]:
    """Trace one repository's graph.

    `parents` maps each known SHA to its parents (unknown parents, e.g. before the ingestion horizon, end
    the walk). `tips` are (sha, is_main_line) walked in the order given; commits first reached from a main
    line tip are flagged `is_on_main_line`. `landings` maps a merge or squash commit's SHA to its pull
    request number; `pull_heads` are (number, head SHA) of pull request heads, whose not yet reached commits
    belong to that pull request. O(commits + edges), explicit stack (no recursion limit).
    """
    seen: set[str] = set()
    out: list[Traced] = []
    # Stack entries: (sha, owner, from_main_line). The owner is the pull request of the branch being walked,
    # None on a line of direct history. Pushed in reverse so the first tip is walked first, and each tip's
    # whole history before the next tip's; pull request heads go at the bottom.
    stack: list[tuple[str, int | None, bool]] = [(sha, number, False) for number, sha in pull_heads][::-1]
    stack.extend((sha, None, main_line) for sha, main_line in reversed(tips))
    while stack:
        sha, owner, main_line = stack.pop()
        if sha in seen or sha not in parents:
            continue
        seen.add(sha)
        is_merge = len(parents[sha]) > 1
        landing = landings.get(sha)
        # Landings count on lines of direct history only. Inside a pull request's branch, a merge naming
        # another number is most often a fork's own pull request (its number means nothing here) and a
        # squash title a cherry-pick: that work is part of the pull request that brought it to the line.
        is_landing = landing is not None and owner is None
        out.append(Traced(sha, landing if is_landing else owner, is_landing, main_line))
        known_parents = [p for p in parents[sha] if p in parents]
        if not known_parents:
            continue
        first, *others = known_parents
        side_owner = landing if is_landing and is_merge else owner
        for other in reversed(others):
            stack.append((other, side_owner, main_line))
        stack.append((first, owner, main_line))
    return out


def order_tips(
    named: Iterable[tuple[str, str, Any]],
    heads: Iterable[tuple[str, Any]],
) -> list[tuple[str, bool]]:
    """Tips to walk, as (sha, is_main_line): default-named branches first, then every other named tip and
    graph head, newest first.

    `named` are (branch or tag name, sha, committed_at); `heads` are (sha, committed_at) of commits no other
    commit names as a parent. A tip reached from an earlier one adds nothing, so order matters only among
    histories that diverge: a default branch goes before the feature branches that fork from it. The main
    lines are the default-named branches where the repository has one, else every tip (a host's commit
    list holds the default branch only).
    """
    rank = {name: position for position, name in enumerate(DEFAULT_BRANCHES)}
    candidates: dict[str, tuple[int, float]] = {}

    def consider(sha: str, priority: int, when: Any) -> None:
        stamp = -when.timestamp() if when is not None else 0.0
        key = (priority, stamp)
        if sha not in candidates or key < candidates[sha]:
            candidates[sha] = key

    for name, sha, when in named:
        consider(sha, rank.get(name, len(rank)), when)
    for sha, when in heads:
        consider(sha, len(rank), when)
    has_default = any(priority < len(rank) for priority, _ in candidates.values())
    ordered = sorted(candidates, key=lambda sha: (candidates[sha], sha))
    return [(sha, not has_default or candidates[sha][0] < len(rank)) for sha in ordered]


def graph_heads(parents: Mapping[str, Sequence[str]]) -> set[str]:
    """Commits no known commit has as a parent."""
    referenced = {parent for commit_parents in parents.values() for parent in commit_parents}
    return {sha for sha in parents if sha not in referenced}


def model(dbt: Any, session: Any) -> Any:
    """dbt entry point: commit graphs, landings and tips in; one row per traced commit out."""
    import pyarrow as pa

    dbt.config(materialized="table")
    commit_columns = "commit_sha, parent_shas, authored_at, committed_at, message"
    commit_rows = [
        ("git", row)
        for row in dbt.ref("stg_git__commits")
        .select(f"repository, {commit_columns}, author_name, pr_number")
        .fetchall()
    ]
    commit_rows += [
        ("github", row + (None,))
        for row in dbt.ref("stg_github__commits")
        .select(f"repository, {commit_columns}, coalesce(author_login, author_email)")
        .fetchall()
    ]
    commit_rows += [
        ("gitlab", row + (None,))
        for row in dbt.ref("stg_gitlab__commits").select(f"project, {commit_columns}, author_name").fetchall()
    ]

    graphs: dict[str, dict[str, list[str]]] = {}
    details: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}
    landings: dict[str, dict[str, int]] = {}
    for _, (repository, sha, parent_shas, authored_at, committed_at, message, author, number) in commit_rows:
        known = graphs.setdefault(repository, {}).setdefault(sha, [])
        for parent in parent_shas or ():
            if parent not in known:
                known.append(parent)
        details.setdefault((repository, sha), (authored_at, committed_at, author, message))
        if number is not None:
            landings.setdefault(repository, {})[sha] = int(number)

    # The host's word on which commit landed a pull request wins over a message.
    host_landings = dbt.ref("stg_github__pull_requests").filter("is_merged and merge_commit_sha is not null")
    landing_rows = host_landings.select("repository, pr_number, merge_commit_sha").fetchall()
    merge_requests = dbt.ref("stg_gitlab__merge_requests").filter("is_merged")
    landing_rows += merge_requests.select("project, mr_iid, merge_commit_sha").fetchall()
    landing_rows += merge_requests.select("project, mr_iid, squash_commit_sha").fetchall()
    for repository, number, sha in landing_rows:
        if sha is not None:
            landings.setdefault(repository, {})[sha] = int(number)

    named: dict[str, list[tuple[str, str, Any]]] = {}
    for repository, name, sha, when in (
        dbt.ref("stg_git__branches").select("repository, branch, commit_sha, committed_at").fetchall()
    ):
        named.setdefault(repository, []).append((name, sha, when))
    for repository, name, sha, when in (
        dbt.ref("stg_git__tags").select("repository, tag, commit_sha, tagged_at").fetchall()
    ):
        named.setdefault(repository, []).append(("refs/tags/" + name, sha, when))
    pull_heads: dict[str, list[tuple[int, str]]] = {}
    for repository, number, sha in (
        dbt.ref("stg_git__pull_request_heads").select("repository, pr_number, head_sha").fetchall()
    ):
        pull_heads.setdefault(repository, []).append((int(number), sha))

    rows: list[tuple] = []
    for repository, parents in graphs.items():
        heads_here = {sha for _, sha in pull_heads.get(repository, [])}
        heads = [
            (sha, details[(repository, sha)][1]) for sha in graph_heads(parents) if sha not in heads_here
        ]
        tips = order_tips(named.get(repository, []), heads)
        traced = trace_pull_requests(
            parents, tips, landings.get(repository, {}), sorted(pull_heads.get(repository, []))
        )
        for item in traced:
            authored_at, committed_at, author, message = details[(repository, item.commit_sha)]
            rows.append(
                (
                    repository,
                    item.commit_sha,
                    item.pr_number,
                    item.is_landing,
                    len(parents[item.commit_sha]) > 1,
                    item.is_on_main_line,
                    authored_at,
                    committed_at,
                    author,
                    message,
                )
            )

    schema = pa.schema(
        [
            ("repository", pa.string()),
            ("commit_sha", pa.string()),
            ("pr_number", pa.int64()),
            ("is_landing", pa.bool_()),
            ("is_merge", pa.bool_()),
            ("is_on_main_line", pa.bool_()),
            ("authored_at", pa.timestamp("us")),
            ("committed_at", pa.timestamp("us")),
            ("author_name", pa.string()),
            ("message", pa.string()),
        ]
    )
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in OUTPUT_COLUMNS]
    return pa.table(
        [pa.array(list(values), type=schema.field(i).type) for i, values in enumerate(columns)], schema=schema
    )
