"""Which commits each successful deployment shipped, found by walking the commit graph.

A dbt Python model because the walk is a graph traversal: in SQL it becomes a recursive CTE that is
quadratic on long histories, while here it is one pass over commits and parent edges per
service+environment. The walk itself is the plain function `attribute_commits`, importable without dbt
so it is tested on hand-made graphs (tests/test_attribution.py); `model` only reads and writes tables.

Rules (docs/metrics.md, "Attribution"):
- Deployments of one service to one environment are taken in deployment order (deployed_at, then
  deployment id). Each ships the commits reachable from its SHA that no earlier deployment of the same
  service+environment shipped; the walk stops at shipped commits. Timestamps are never used to decide
  what a deployment contains (they lie under rebase and cherry-pick; Four Keys #456).
- The first deployment seen for a service+environment is the baseline: it ships the whole reachable
  history, so its commits are flagged and get no lead time (a gap in deployment history must not turn old
  commits into a fast "change"; DevLake #7193).
- A deployment whose SHA the graph does not know ships nothing and is counted, never fatal; if it is the
  baseline (typically a SHA older than the ingestion horizon), the next deployment's walk stops at the
  horizon too, so it ships only commits made since. Redeploying or rolling back to an already shipped SHA
  ships nothing as well.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

log = logging.getLogger("deploylens.attribution")

OUTPUT_COLUMNS = ("service", "environment", "commit_sha", "deployment_id", "deployed_at", "is_baseline")
# The table also keeps `input_fingerprint`: the fingerprint of the inputs each row was built from.


# Plain classes, not dataclasses: dbt-duckdb runs this file as a module missing from sys.modules, where
# dataclasses cannot resolve their own module.
class Shipment(NamedTuple):
    """One commit shipped by one deployment."""

    commit_sha: str
    deployment_id: str
    is_baseline: bool


class Attribution:
    """What a walk over one service+environment produced."""

    def __init__(self) -> None:
        self.shipments: list[Shipment] = []
        self.unknown_sha_deployments: list[str] = []
        self.baseline_deployment_id: str | None = None


def attribute_commits(
    parents: Mapping[str, Sequence[str]],
    deployments: Iterable[tuple[str, str]],
) -> Attribution:
    """Attribute commits to the deployments of one service to one environment.

    `parents` maps every commit SHA the repository's graph knows to its parent SHAs (parents that are not
    keys, e.g. history before the ingestion horizon, are ignored). `deployments` are
    (deployment_id, commit_sha) pairs of successful deployments, already in deployment order. Each commit
    is visited at most once and each edge looked at once: O(commits + edges). The traversal keeps an
    explicit stack so a 100k-commit linear history cannot overflow Python's recursion limit.
    """
    result = Attribution()
    shipped: set[str] = set()
    for position, (deployment_id, commit_sha) in enumerate(deployments):
        is_baseline = position == 0
        if is_baseline:
            result.baseline_deployment_id = deployment_id
        if commit_sha not in parents:
            result.unknown_sha_deployments.append(deployment_id)
            continue
        if commit_sha in shipped:
            continue
        shipped.add(commit_sha)
        stack = [commit_sha]
        while stack:
            sha = stack.pop()
            result.shipments.append(Shipment(sha, deployment_id, is_baseline))
            for parent in parents[sha]:
                if parent not in shipped and parent in parents:
                    shipped.add(parent)
                    stack.append(parent)
    return result


def build_parent_map(
    rows: Iterable[tuple[str, str, Sequence[str] | None]],
) -> dict[str, dict[str, list[str]]]:
    """Per repository, SHA → parent SHAs, from (repository, commit_sha, parent_shas) rows.

    A commit can arrive both from the commit list and from a pull request's commits; their parent lists
    are merged so either source alone is enough to place a commit in the graph.
    """
    graphs: dict[str, dict[str, list[str]]] = {}
    for repository, sha, parent_shas in rows:
        graph = graphs.setdefault(repository, {})
        known = graph.setdefault(sha, [])
        for parent in parent_shas or ():
            if parent not in known:
                known.append(parent)
    return graphs


def attribute_all(
    graphs: Mapping[str, Mapping[str, Sequence[str]]],
    deployments: Iterable[tuple[str, str, str, str, str, Any]],
) -> tuple[list[tuple[str, str, str, str, Any, bool]], list[str]]:
    """Run `attribute_commits` for every service+environment.

    `deployments` rows are (service, environment, repository, deployment_id, commit_sha, deployed_at) in
    deployment order within each service+environment. Several services may share a repository (a
    monorepo): each walks the same graph independently. Returns output rows (OUTPUT_COLUMNS order) and
    the ids of deployments whose SHA is unknown to their repository's graph.
    """
    groups: dict[tuple[str, str], list[tuple[str, str, str, Any]]] = {}
    for service, environment, repository, deployment_id, commit_sha, deployed_at in deployments:
        groups.setdefault((service, environment), []).append(
            (repository, deployment_id, commit_sha, deployed_at)
        )
    rows: list[tuple[str, str, str, str, Any, bool]] = []
    unknown: list[str] = []
    for (service, environment), items in groups.items():
        deployed_at_by_id = {deployment_id: deployed_at for _, deployment_id, _, deployed_at in items}
        # A service lives in one repository; should its deployments name several, each walks its own.
        by_repository: dict[str, list[tuple[str, str]]] = {}
        for repository, deployment_id, commit_sha, _ in items:
            by_repository.setdefault(repository, []).append((deployment_id, commit_sha))
        for repository, pairs in by_repository.items():
            result = attribute_commits(graphs.get(repository, {}), pairs)
            unknown.extend(result.unknown_sha_deployments)
            rows.extend(
                (
                    service,
                    environment,
                    s.commit_sha,
                    s.deployment_id,
                    deployed_at_by_id[s.deployment_id],
                    s.is_baseline,
                )
                for s in result.shipments
            )
    return rows, unknown


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def model(dbt: Any, session: Any) -> Any:
    """dbt entry point: read the graph and successful deployments, write one row per shipped commit.

    Incremental by service+environment: only those whose inputs changed since the last build are walked
    again, whole (docs/architecture.md, "Incremental models"). A walk's result depends on every deployment
    before it and on the whole graph, so a late-arriving deployment or commit redoes its service+environment
    from the baseline instead of appending to it. `int_commits_attributed_to_deployments_inputs` holds the
    fingerprint of each one's inputs; rows carry the fingerprint they were built from; the delete+insert
    replaces a redone service+environment, and the post-hook drops rows of any whose fingerprint is gone.
    """
    import pyarrow as pa

    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["service", "environment"],
        # A table built before rows kept their fingerprint gains the column (null: every walk is redone).
        on_schema_change="append_new_columns",
    )
    inputs = dbt.ref("int_commits_attributed_to_deployments_inputs")
    current = {(service, env): fingerprint for service, env, fingerprint in inputs.fetchall()}
    redo = set(current)
    if dbt.is_incremental and "input_fingerprint" in session.sql(f"select * from {dbt.this} limit 0").columns:
        built = set(
            session.sql(f"select distinct service, environment, input_fingerprint from {dbt.this}").fetchall()
        )
        redo = {key for key, fingerprint in current.items() if (*key, fingerprint) not in built}

    deployments = dbt.ref("int_deployments_mapped_to_environments")
    walked = deployments.filter("is_successful and service is not null and deployed_at is not null")
    deployment_rows = [
        row
        for row in walked.select(
            "service, environment, repository, deployment_id, commit_sha, deployed_at, deployment_order_key"
        )
        .order("service, environment, deployed_at, deployment_order_key, deployment_id")
        .fetchall()
        if (row[0], row[1]) in redo
    ]
    # Only the graphs the walks to redo need: a refresh that changed a few services reads a few graphs.
    repositories = sorted({row[2] for row in deployment_rows if row[2] is not None})
    edge_rows: list = []
    if repositories:
        wanted = _quoted(repositories)
        for relation, column in ((dbt.ref("int_commits_unioned"), "repository"),):
            in_scope = relation.filter(f"{column} in ({wanted})")
            edge_rows += in_scope.select(f"{column}, commit_sha, parent_shas").fetchall()
    graphs = build_parent_map(edge_rows)
    rows, unknown = attribute_all(graphs, (row[:6] for row in deployment_rows))
    if unknown:
        log.warning("%d deployments name a SHA unknown to the commit graph and ship nothing", len(unknown))

    schema = pa.schema(
        [
            ("service", pa.string()),
            ("environment", pa.string()),
            ("commit_sha", pa.string()),
            ("deployment_id", pa.string()),
            ("deployed_at", pa.timestamp("us")),
            ("is_baseline", pa.bool_()),
            ("input_fingerprint", pa.uint64()),
        ]
    )
    rows = [(*row, current[(row[0], row[1])]) for row in rows]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema.names]
    return pa.table(
        [pa.array(list(values), type=schema.field(i).type) for i, values in enumerate(columns)], schema=schema
    )
