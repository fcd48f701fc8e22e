"""Which commits each successful deployment shipped, found by walking the commit graph.

A dbt Python model because the walk is a graph traversal: in SQL it becomes a recursive CTE that is
quadratic on long histories, while here it is one pass over commits and parent edges per
service+environment. The walk itself is the plain function `attribute_commits`, importable without dbt
so it is tested on hand-made graphs (tests/test_attribution.py). Incremental per service+environment:
`plan_walks` keeps, extends or redoes each one's walk, deciding in DuckDB over today's inputs and the rows
built so far (EXTENSION_CHECKS); `walk` runs what it planned, reading only the commits a walk needs;
`refresh_walks` is both on plain relation names (tests/test_attribution_extension.py); `model` only wires
them to dbt.

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
# The table also keeps the walk each row was written by: STATE_COLUMNS.


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
    shipped: Iterable[str] = (),
    first_is_baseline: bool = True,
) -> Attribution:
    """Attribute commits to the deployments of one service to one environment.

    `parents` maps every commit SHA the repository's graph knows to its parent SHAs (parents that are not
    keys, e.g. history before the ingestion horizon, are ignored). `deployments` are
    (deployment_id, commit_sha) pairs of successful deployments, already in deployment order. Each commit
    is visited at most once and each edge looked at once: O(commits + edges). The traversal keeps an
    explicit stack so a 100k-commit linear history cannot overflow Python's recursion limit.

    To extend an earlier walk, `shipped` holds the commits its deployments shipped and
    `first_is_baseline=False` says the first deployment here is not the baseline. The walk stops at
    shipped commits, so `parents` may then leave them out: a deployment of a shipped SHA ships nothing
    and is not counted as unknown.
    """
    result = Attribution()
    shipped = set(shipped)
    for position, (deployment_id, commit_sha) in enumerate(deployments):
        is_baseline = first_is_baseline and position == 0
        if is_baseline:
            result.baseline_deployment_id = deployment_id
        if commit_sha in shipped:
            continue
        if commit_sha not in parents:
            result.unknown_sha_deployments.append(deployment_id)
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


# What a row keeps about the walk that wrote it, so a later refresh can tell whether it may extend that walk.
STATE_COLUMNS = ("input_fingerprint", "walked_deployments", "walked_prefix_hash", "parents_hash")


class WalkPlan:
    """Per service+environment, what a refresh does with its walk (`plan_walks`)."""

    def __init__(self) -> None:
        self.unchanged: set[tuple[str, str]] = set()
        self.extended: set[tuple[str, str]] = set()
        self.redone: set[tuple[str, str]] = set()
        # Candidates for an extension that one of the checks sent back to a redo, by check.
        self.redo_reasons: dict[str, set[tuple[str, str]]] = {}


# The checks that let a walk be extended: each names the candidates (service, environment) that fail it.
# {shipped} holds the candidates' rows (their shipped commits S), {graph} their repositories' commits with
# the sorted distinct parent SHAs every source gave, {deployments} today's walked deployments in order.
EXTENSION_CHECKS = {
    # 1. The deployments walked last time are today's first n, in the same order, with the same values.
    "deployments_before_changed": """
        select plan.service, plan.environment
        from {plan} as plan
        where plan.action = 'candidate'
            and not exists (
                select 1 from {deployments} as d
                where d.service = plan.service
                    and d.environment = plan.environment
                    and d.position = plan.walked_deployments
                    and d.prefix_hash = plan.walked_prefix_hash
            )
    """,
    # 2a. Every shipped commit is still in the graph.
    "shipped_commit_gone": """
        select distinct shipped.service, shipped.environment
        from {shipped} as shipped
        where not exists (
            select 1 from {graph} as graph
            where graph.repository = shipped.repository and graph.commit_sha = shipped.commit_sha
        )
    """,
    # 2b. No shipped commit's parent list changed (lost or gained an entry, known or not).
    "shipped_parents_changed": """
        select distinct shipped.service, shipped.environment
        from {shipped} as shipped
        inner join {graph} as graph
            on graph.repository = shipped.repository and graph.commit_sha = shipped.commit_sha
        where hash(graph.parents) is distinct from shipped.parents_hash
    """,
    # 2c. Every parent of a shipped commit that the graph knows was shipped too (no dangling parent since
    # loaded).
    "shipped_parent_unshipped": """
        select distinct edges.service, edges.environment
        from (
            select
                shipped.service, shipped.environment, shipped.repository, unnest(graph.parents) as parent_sha,
            from {shipped} as shipped
            inner join {graph} as graph
                on graph.repository = shipped.repository and graph.commit_sha = shipped.commit_sha
        ) as edges
        inner join {graph} as known
            on known.repository = edges.repository and known.commit_sha = edges.parent_sha
        where not exists (
            select 1 from {shipped} as shipped
            where shipped.service = edges.service
                and shipped.environment = edges.environment
                and shipped.commit_sha = edges.parent_sha
        )
    """,
    # 3. Every deployment walked before whose SHA the graph knows shipped it or saw it shipped (a SHA that
    # was unknown then and is known now changes what it shipped).
    "deployed_sha_now_known": """
        select distinct plan.service, plan.environment
        from {plan} as plan
        inner join {deployments} as d
            on d.service = plan.service
            and d.environment = plan.environment
            and d.position <= plan.walked_deployments
        inner join {graph} as graph
            on graph.repository = plan.repository and graph.commit_sha = d.commit_sha
        where plan.action = 'candidate'
            and not exists (
                select 1 from {shipped} as shipped
                where shipped.service = plan.service
                    and shipped.environment = plan.environment
                    and shipped.commit_sha = d.commit_sha
            )
    """,
}

# What an extended walk reads: per service+environment with new deployments, its repository's commits not in
# S (no shipped commit) that one of its new deployments reaches through commits not in S. The walk visits
# exactly these (it starts at the new deployments' SHAs and stops at S and at SHAs the graph does not know),
# so it gives the rows it gives over every commit not in S. The repository's other commits not in S (above
# all a squash-merged branch's own commits, which nothing ships) stay in DuckDB: a large org has about half a
# million of them, and reading them all into Python each refresh cost seconds.
UNSHIPPED = """
    create or replace temp table {unshipped} as
    select plan.service, plan.environment, graph.commit_sha, graph.parents
    from {plan} as plan
    inner join {graph} as graph on graph.repository = plan.repository
    where plan.action = 'extend'
        and plan.deployment_count > plan.walked_deployments
        and not exists (
            select 1 from {shipped} as shipped
            where shipped.service = plan.service and shipped.environment = plan.environment
                and shipped.commit_sha = graph.commit_sha
        )
"""
REACHABLE_UNSHIPPED = """
    with recursive reached(service, environment, commit_sha) as (
        select d.service, d.environment, d.commit_sha
        from {deployments} as d
        inner join {plan} as plan on plan.service = d.service and plan.environment = d.environment
        where plan.action = 'extend' and d.position > plan.walked_deployments

        union

        select edges.service, edges.environment, edges.parent_sha
        from (
            select unshipped.service, unshipped.environment, unnest(unshipped.parents) as parent_sha
            from reached
            inner join {unshipped} as unshipped
                on unshipped.service = reached.service
                and unshipped.environment = reached.environment
                and unshipped.commit_sha = reached.commit_sha
        ) as edges
    )

    select unshipped.service, unshipped.environment, unshipped.commit_sha, unshipped.parents,
        hash(unshipped.parents),
    from {unshipped} as unshipped
    semi join reached
        on reached.service = unshipped.service
        and reached.environment = unshipped.environment
        and reached.commit_sha = unshipped.commit_sha
"""

_TEMP = {
    "deployments": "__attribution_deployments",
    "graph": "__attribution_graph",
    "plan": "__attribution_plan",
    "shipped": "__attribution_shipped",
    "unshipped": "__attribution_unshipped",
}


def _columns(session: Any, relation: str) -> list[str]:
    return list(session.sql(f"select * from {relation} limit 0").columns)


def plan_walks(session: Any, deployments: str, commits: str, inputs: str, this: str | None) -> WalkPlan:
    """Decide, per service+environment, whether its walk is unchanged, extended or redone.

    `deployments`, `commits` and `inputs` name the model's three inputs, `this` the table built so far
    (None on a build from scratch). Leaves temporary tables behind for `walk`: today's walked deployments
    with their position and the hash of every prefix, the plan, the candidates' shipped commits and the
    graphs of the repositories walked.
    """
    t = _TEMP
    session.execute(
        f"""
        create or replace temp table {t["deployments"]} as
        with walked as (
            select
                service, environment, repository, deployment_id, commit_sha, deployed_at,
                deployment_order_key,
                row_number() over (
                    partition by service, environment
                    order by deployed_at, deployment_order_key, deployment_id
                ) as position,
            from {deployments}
            where is_successful and service is not null and deployed_at is not null
        )
        select
            *,
            -- order-free sums of hashes that include the position: equal for equal prefixes in equal order
            hash(
                sum(
                    hash(
                        position, repository, deployment_id, commit_sha, deployed_at, deployment_order_key
                    )::hugeint
                ) over (partition by service, environment order by position rows unbounded preceding)
            ) as prefix_hash,
        from walked
        """
    )
    columns = _columns(session, this) if this is not None else []
    if "walked_deployments" in columns:
        built = f"""
            select
                service, environment,
                arg_max(input_fingerprint, coalesce(walked_deployments, -1)) as built_fingerprint,
                bool_and(walked_deployments is not null and walked_prefix_hash is not null
                    and parents_hash is not null) as has_state,
                max(walked_deployments) as walked_deployments,
                arg_max(walked_prefix_hash, walked_deployments) as walked_prefix_hash,
            from {this}
            group by service, environment
        """
    elif "input_fingerprint" in columns:
        # Built before rows kept their walk: unchanged inputs keep their rows, any other is redone.
        built = f"""
            select
                service, environment, any_value(input_fingerprint) as built_fingerprint, false as has_state,
                null::bigint as walked_deployments, null::ubigint as walked_prefix_hash,
            from {this}
            group by service, environment
        """
    else:
        built = """
            select null::varchar as service, null::varchar as environment, null::ubigint as built_fingerprint,
                false as has_state, null::bigint as walked_deployments, null::ubigint as walked_prefix_hash,
            where false
        """
    session.execute(
        f"""
        create or replace temp table {t["plan"]} as
        with today as (
            select
                service, environment,
                count(*) as deployment_count,
                arg_max(prefix_hash, position) as prefix_hash,
                -- the one repository all its deployments name, if they name one
                case when count(repository) = count(*) and min(repository) = max(repository)
                    then min(repository) end as repository,
            from {t["deployments"]}
            group by service, environment
        ),
        built as ({built})
        select
            inputs.service, inputs.environment, inputs.input_fingerprint,
            today.deployment_count, today.prefix_hash, today.repository,
            built.walked_deployments, built.walked_prefix_hash,
            case
                when built.built_fingerprint = inputs.input_fingerprint then 'unchanged'
                when built.has_state and today.repository is not null
                    and built.walked_deployments <= today.deployment_count then 'candidate'
                else 'redo'
            end as action,
        from {inputs} as inputs
        inner join today
            on today.service = inputs.service and today.environment = inputs.environment
        left join built
            on built.service = inputs.service and built.environment = inputs.environment
        """
    )
    # The graphs of every repository walked or checked: one row per commit (int_commits_unioned has one per
    # repository and commit, its parent lists already merged; its data test guards it), parents sorted and
    # distinct. Row by row: a grouped list aggregate over millions of commits would stay in memory whole.
    session.execute(
        f"""
        create or replace temp table {t["graph"]} as
        select
            repository, commit_sha,
            list_sort(list_distinct(coalesce(parent_shas, []::varchar[]))) as parents,
        from {commits}
        where repository in (
            select distinct d.repository
            from {t["deployments"]} as d
            inner join {t["plan"]} as plan
                on plan.service = d.service and plan.environment = d.environment
            where plan.action <> 'unchanged'
        )
        """
    )
    shipped = "select null::varchar as service, null::varchar as environment, null::varchar as repository, "
    shipped += "null::varchar as commit_sha, null::ubigint as parents_hash where false"
    if "walked_deployments" in columns:
        shipped = f"""
            select built.service, built.environment, plan.repository, built.commit_sha, built.parents_hash,
            from {this} as built
            inner join {t["plan"]} as plan
                on plan.service = built.service and plan.environment = built.environment
            where plan.action = 'candidate'
        """
    session.execute(f"create or replace temp table {t['shipped']} as {shipped}")

    plan = WalkPlan()
    for name, sql in EXTENSION_CHECKS.items():
        failing = set(session.sql(sql.format(**t)).fetchall())
        if failing:
            plan.redo_reasons[name] = failing
    failed = set().union(*plan.redo_reasons.values())
    for service, environment, action in session.sql(
        f"select service, environment, action from {t['plan']}"
    ).fetchall():
        key = (service, environment)
        if action == "unchanged":
            plan.unchanged.add(key)
        elif action == "candidate" and key not in failed:
            plan.extended.add(key)
        else:
            plan.redone.add(key)
    if failed:
        session.execute(
            f"update {t['plan']} set action = 'redo' where action = 'candidate' "
            f"and (service, environment) in (select * from (values {_values(failed)}) as failed(s, e))"
        )
    session.execute(f"update {t['plan']} set action = 'extend' where action = 'candidate'")
    return plan


def _values(keys: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"({_quoted([service])}, {_quoted([environment])})" for service, environment in keys)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


OUTPUT_SCHEMA_FIELDS = (
    ("service", "string"),
    ("environment", "string"),
    ("commit_sha", "string"),
    ("deployment_id", "string"),
    ("deployed_at", "timestamp"),
    ("is_baseline", "bool"),
    ("input_fingerprint", "uint64"),
    ("walked_deployments", "int64"),
    ("walked_prefix_hash", "uint64"),
    ("parents_hash", "uint64"),
)


def walk(session: Any) -> tuple[list[tuple], list[str]]:
    """Walk what `plan_walks` planned: redone service+environments whole, extended ones from their last
    deployment walked, reading only the commits their earlier deployments did not ship.

    Returns the new rows (OUTPUT_SCHEMA_FIELDS order) and the deployments whose SHA is unknown.
    """
    t = _TEMP
    rows: list[tuple] = []
    unknown: list[str] = []
    partitions = {
        (service, environment): (action, fingerprint, count, prefix_hash, walked)
        for service, environment, action, fingerprint, count, prefix_hash, walked in session.sql(
            f"""select service, environment, action, input_fingerprint, deployment_count, prefix_hash,
                    walked_deployments
                from {t["plan"]} where action in ('redo', 'extend')"""
        ).fetchall()
    }
    if not partitions:
        return rows, unknown

    def emit(key, shipments, deployed_at_by_id, hashes):
        _, fingerprint, count, prefix_hash, _ = partitions[key]
        rows.extend(
            (
                key[0],
                key[1],
                s.commit_sha,
                s.deployment_id,
                deployed_at_by_id[s.deployment_id],
                s.is_baseline,
                fingerprint,
                count,
                prefix_hash,
                hashes[s.commit_sha],
            )
            for s in shipments
        )

    # Redone: whole, from the baseline, over the whole graph of each repository named.
    redo_deployments = session.sql(
        f"""select d.service, d.environment, d.repository, d.deployment_id, d.commit_sha, d.deployed_at
            from {t["deployments"]} as d
            inner join {t["plan"]} as plan on plan.service = d.service and plan.environment = d.environment
            where plan.action = 'redo'
            order by d.service, d.environment, d.position"""
    ).fetchall()
    if redo_deployments:
        graphs: dict[str, dict[str, list[str]]] = {}
        hashes: dict[str, dict[str, int]] = {}
        for repository, sha, parents, parents_hash in session.sql(
            f"""select repository, commit_sha, parents, hash(parents) from {t["graph"]}
                where repository in (
                    select d.repository from {t["deployments"]} as d
                    inner join {t["plan"]} as plan
                        on plan.service = d.service and plan.environment = d.environment
                    where plan.action = 'redo'
                )"""
        ).fetchall():
            graphs.setdefault(repository, {})[sha] = parents
            hashes.setdefault(repository, {})[sha] = parents_hash
        groups: dict[tuple[str, str], dict[str, list[tuple[str, str]]]] = {}
        deployed_at_by_id: dict[str, Any] = {}
        for service, environment, repository, deployment_id, commit_sha, deployed_at in redo_deployments:
            # A service lives in one repository; should its deployments name several, each walks its own.
            groups.setdefault((service, environment), {}).setdefault(repository, []).append(
                (deployment_id, commit_sha)
            )
            deployed_at_by_id[deployment_id] = deployed_at
        for key, by_repository in groups.items():
            for repository, pairs in by_repository.items():
                result = attribute_commits(graphs.get(repository, {}), pairs)
                unknown.extend(result.unknown_sha_deployments)
                emit(key, result.shipments, deployed_at_by_id, hashes.get(repository, {}))

    # Extended: the deployments after the last one walked, over the commits not shipped yet.
    new_deployments = session.sql(
        f"""select d.service, d.environment, d.deployment_id, d.commit_sha, d.deployed_at,
                exists (
                    select 1 from {t["shipped"]} as shipped
                    where shipped.service = d.service and shipped.environment = d.environment
                        and shipped.commit_sha = d.commit_sha
                ) as was_shipped
            from {t["deployments"]} as d
            inner join {t["plan"]} as plan on plan.service = d.service and plan.environment = d.environment
            where plan.action = 'extend' and d.position > plan.walked_deployments
            order by d.service, d.environment, d.position"""
    ).fetchall()
    if new_deployments:
        unshipped: dict[tuple[str, str], tuple[dict[str, list[str]], dict[str, int]]] = {}
        session.execute(UNSHIPPED.format(**t))
        for service, environment, sha, parents, parents_hash in session.sql(
            REACHABLE_UNSHIPPED.format(**t)
        ).fetchall():
            graph, hashes = unshipped.setdefault((service, environment), ({}, {}))
            graph[sha] = parents
            hashes[sha] = parents_hash
        extend_groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        already: dict[tuple[str, str], set[str]] = {}
        deployed_at_by_id = {}
        for service, environment, deployment_id, commit_sha, deployed_at, was_shipped in new_deployments:
            extend_groups.setdefault((service, environment), []).append((deployment_id, commit_sha))
            if was_shipped:
                already.setdefault((service, environment), set()).add(commit_sha)
            deployed_at_by_id[deployment_id] = deployed_at
        for key, pairs in extend_groups.items():
            graph, hashes = unshipped.get(key, ({}, {}))
            result = attribute_commits(graph, pairs, shipped=already.get(key, ()), first_is_baseline=False)
            unknown.extend(result.unknown_sha_deployments)
            emit(key, result.shipments, deployed_at_by_id, hashes)
    return rows, unknown


def drop_stale_rows(session: Any, this: str) -> None:
    """Delete the built rows of every service+environment neither unchanged nor extended: those redone
    (their new rows replace them) and those that no longer ship (no successful deployment left)."""
    session.execute(
        f"""
        delete from {this} as built
        where not exists (
            select 1 from {_TEMP["plan"]} as plan
            where plan.service = built.service
                and plan.environment = built.environment
                and plan.action in ('unchanged', 'extend')
        )
        """
    )


def refresh_walks(session: Any, deployments: str, commits: str, inputs: str, this: str | None):
    """Plan, drop the rows to replace and walk: the model's work on plain relation names (tests call it on
    hand-made tables). Returns (plan, new rows as an Arrow table, unknown-SHA deployment ids)."""
    import pyarrow as pa

    plan = plan_walks(session, deployments, commits, inputs, this)
    rows, unknown = walk(session)
    if this is not None:
        drop_stale_rows(session, this)
    for name in _TEMP.values():
        session.execute(f"drop table if exists {name}")
    types = {
        "string": pa.string(),
        "timestamp": pa.timestamp("us"),
        "bool": pa.bool_(),
        "uint64": pa.uint64(),
        "int64": pa.int64(),
    }
    schema = pa.schema([(name, types[kind]) for name, kind in OUTPUT_SCHEMA_FIELDS])
    if not rows:  # every walk unchanged: no `pa.array`, which imports pandas (a second of a build)
        return plan, _empty_table(schema), unknown
    table = pa.table(
        [
            pa.array(list(values), type=schema.field(i).type)
            for i, values in enumerate(zip(*rows, strict=True))
        ],
        schema=schema,
    )
    return plan, table, unknown


def _empty_table(schema: Any) -> Any:
    """An Arrow table of `schema` with no rows, built from empty buffers (a string column's one offset)."""
    import pyarrow as pa

    def empty(field: Any) -> Any:
        if pa.types.is_string(field.type):
            return pa.Array.from_buffers(field.type, 0, [None, pa.py_buffer(bytes(4)), pa.py_buffer(b"")])
        return pa.Array.from_buffers(field.type, 0, [None, pa.py_buffer(b"")])

    return pa.Table.from_arrays([empty(field) for field in schema], schema=schema)


def model(dbt: Any, session: Any) -> Any:
    """dbt entry point: read the graph and successful deployments, write one row per shipped commit.

    Incremental (docs/architecture.md, "Incremental models"): per service+environment, a refresh keeps the
    rows when the inputs' fingerprint (`int_commits_attributed_to_deployments_inputs`) is unchanged,
    extends the last walk when only new deployments and commits no earlier deployment reached arrived
    (`EXTENSION_CHECKS`), and otherwise walks again whole from the baseline. The model itself deletes the
    rows of those walked again whole and of those gone; the delete+insert on (service, environment,
    commit_sha) then appends the new rows.
    """
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["service", "environment", "commit_sha"],
        # A table built before rows kept their walk gains the columns (null: no walk to extend).
        on_schema_change="append_new_columns",
    )
    # Literal refs: dbt finds a Python model's dependencies by reading its `dbt.ref` calls.
    inputs = {
        "__attribution_input_deployments": dbt.ref("int_deployments_mapped_to_environments"),
        "__attribution_input_commits": dbt.ref("int_commits_unioned"),
        "__attribution_input_fingerprints": dbt.ref("int_commits_attributed_to_deployments_inputs"),
    }
    for view, relation in inputs.items():
        relation.to_view(view, replace=True)
    this = str(dbt.this) if dbt.is_incremental else None
    plan, table, unknown = refresh_walks(
        session,
        *inputs,
        this,
    )
    for view in inputs:
        session.execute(f"drop view if exists {view}")
    log.info(
        "walks: %d unchanged, %d extended, %d redone (%s)",
        len(plan.unchanged),
        len(plan.extended),
        len(plan.redone),
        ", ".join(f"{name} {len(keys)}" for name, keys in plan.redo_reasons.items()) or "no check failed",
    )
    if unknown:
        log.warning("%d deployments name a SHA unknown to the commit graph and ship nothing", len(unknown))
    # A relation, not the Arrow table: dbt's materialization imports `pyarrow.dataset` (and pandas) for one.
    return session.from_arrow(table)
