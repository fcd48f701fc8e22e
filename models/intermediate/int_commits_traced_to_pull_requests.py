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
above without computing it per merge. Tips are taken default branches first (the host's default branch,
else `main`, `master`, ...), then the other branch and tag tips and graph heads, newest first; pull
request heads last. Commits first reached from a default branch are on the main line (every tip counts as
one when no default is known). The walk is the plain function `trace_pull_requests`, importable without
dbt (tests/test_change_tracing.py); `model` reads and writes tables.
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
    "title",
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
    pop, push, visit, record = stack.pop, stack.append, seen.add, out.append
    while stack:
        sha, owner, main_line = pop()
        commit_parents = parents.get(sha)
        if commit_parents is None or sha in seen:
            continue
        visit(sha)
        landing = landings.get(sha)
        # Landings count on lines of direct history only. Inside a pull request's branch, a merge naming
        # another number is most often a fork's own pull request (its number means nothing here) and a
        # squash title a cherry-pick: that work is part of the pull request that brought it to the line.
        is_landing = landing is not None and owner is None
        record(Traced(sha, landing if is_landing else owner, is_landing, main_line))
        if len(commit_parents) == 1:  # most commits: no merge, nothing to order
            if commit_parents[0] in parents:
                push((commit_parents[0], owner, main_line))
            continue
        known_parents = [p for p in commit_parents if p in parents]
        if not known_parents:
            continue
        first, *others = known_parents
        side_owner = landing if is_landing and len(commit_parents) > 1 else owner
        for other in reversed(others):
            push((other, side_owner, main_line))
        push((first, owner, main_line))
    return out


def order_tips(
    named: Iterable[tuple[str, str, Any]],
    heads: Iterable[tuple[str, Any]],
    defaults: Sequence[str] = (),
) -> list[tuple[str, bool]]:
    """Tips to walk, as (sha, is_main_line): default-named branches first, then every other named tip and
    graph head, newest first.

    `named` are (branch or tag name, sha, epoch seconds); `heads` are (sha, epoch seconds) of commits no
    other commit names as a parent. A tip reached from an earlier one adds nothing, so order matters only
    among histories that diverge: a default branch goes before the feature branches that fork from it.
    The main lines are the default branches where the repository has one (`defaults`: the host's default
    branch, then the usual names), else every tip.
    """
    rank: dict[str, int] = {}
    for name in (*defaults, *DEFAULT_BRANCHES):
        rank.setdefault(name, len(rank))
    candidates: dict[str, tuple[int, float]] = {}

    def consider(sha: str, priority: int, when: Any) -> None:
        stamp = -float(when) if when is not None else 0.0
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
    """dbt entry point: commit graphs, landings and tips in; one row per traced commit out.

    Only what the walk needs crosses into Python (SHAs, parents, epoch seconds), one repository at a time:
    the graph is read as Arrow columns ordered by repository, each repository's slice becomes Python
    objects (`dict(zip(...))`, not a loop per commit) only while it is walked, and its result goes back to
    Arrow at once, so the model's memory is one repository's graph beside compact columns. Commit details
    (and whether a commit is a merge) are joined back in DuckDB.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dbt.config(materialized="table")
    traced_schema = pa.schema(
        [
            ("repository", pa.string()),
            ("commit_sha", pa.string()),
            ("pr_number", pa.int64()),
            ("is_landing", pa.bool_()),
            ("is_on_main_line", pa.bool_()),
        ]
    )
    # The branch history of every repository (a pull request's commit list alone places no commit on it);
    # a commit's landing_pr_number is the host's record of the pull request it landed, else its message's.
    commits = dbt.ref("int_commits_unioned").filter("is_on_branch")
    graph = (
        commits.select("repository, commit_sha, coalesce(parent_shas, []), epoch(committed_at)")
        .order("repository")
        .to_arrow_table()
    )
    landings: dict[str, dict[str, int]] = {}
    for repository, sha, number in (
        commits.filter("landing_pr_number is not null")
        .select("repository, commit_sha, landing_pr_number")
        .fetchall()
    ):
        landings.setdefault(repository, {})[sha] = int(number)

    named: dict[str, list[tuple[str, str, Any]]] = {}
    defaults: dict[str, list[str]] = {}
    pull_heads: dict[str, list[tuple[int, str]]] = {}
    refs = dbt.ref("int_branches_unioned").filter("commit_sha is not null")
    # A host lists its branches without their time: the tip's time is its commit's (read below).
    for repository, kind, name, sha, when, number, is_default in refs.select(
        "repository, ref_kind, ref_name, commit_sha, epoch(tip_at), pr_number, is_default_branch"
    ).fetchall():
        if kind == "pull_request_head":
            pull_heads.setdefault(repository, []).append((int(number), sha))
            continue
        tip_name = name if kind == "branch" else f"refs/tags/{name}"
        named.setdefault(repository, []).append((tip_name, sha, when))
        if is_default:
            defaults.setdefault(repository, []).append(name)

    # One repository's graph at a time as Python objects: the rest stays in Arrow's compact columns.
    traced_parts: list[pa.Table] = []
    runs = pc.run_end_encode(graph.column(0).combine_chunks())
    start = 0
    for repository, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        shas, commit_parents, committed_epochs = (
            column.to_pylist() for column in graph.slice(start, end - start).columns[1:]
        )
        start = end
        parents = dict(zip(shas, commit_parents, strict=True))
        committed = dict(zip(shas, committed_epochs, strict=True))
        heads_here = {sha for _, sha in pull_heads.get(repository, [])}
        heads = [(sha, committed[sha]) for sha in graph_heads(parents) if sha not in heads_here]
        tips_named = [
            (name, sha, committed.get(sha) if when is None else when)
            for name, sha, when in named.get(repository, [])
        ]
        tips = order_tips(tips_named, heads, defaults.get(repository, ()))
        traced = trace_pull_requests(
            parents, tips, landings.get(repository, {}), sorted(pull_heads.get(repository, []))
        )
        if not traced:
            continue
        traced_sha, traced_number, traced_landing, traced_main_line = zip(*traced, strict=True)
        traced_parts.append(
            pa.table(
                {
                    "repository": pa.array([repository] * len(traced), pa.string()),
                    "commit_sha": pa.array(traced_sha, pa.string()),
                    "pr_number": pa.array(traced_number, pa.int64()),
                    "is_landing": pa.array(traced_landing, pa.bool_()),
                    "is_on_main_line": pa.array(traced_main_line, pa.bool_()),
                },
                schema=traced_schema,
            )
        )
    traced_table = pa.concat_tables(traced_parts) if traced_parts else traced_schema.empty_table()

    # Details of each commit from the best source that has it (int_commits_unioned).
    details = commits.select(
        "repository, commit_sha, coalesce(len(parent_shas), 0) > 1 as is_merge, authored_at, committed_at, "
        "coalesce(author_name, author_login, author_email) as author_name, message, title"
    )
    return (
        session.from_arrow(traced_table)
        .join(details, "repository, commit_sha")
        .select(", ".join(OUTPUT_COLUMNS))
    )
