"""Pull request files are read only in the repositories that use them (a service there owns `paths`).

The same world is loaded with every repository's files and with one repository's (or none): the files of
the named repository are exactly those of the full load, no other repository's are read, every other table
is unchanged, the table exists when no repository needs it, and the emulator counts fewer requests (REST)
and points (GraphQL). The org configuration's wiring (`path_repositories`) is checked on a configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.config import parse_config, path_repositories
from ingestion.github import github_source
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_files_test_token_31c9"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}
MOMENTS = [END - timedelta(days=3), END]  # a first load, then an incremental one
METADATA = ("_dlt_load_id", "_dlt_id")


@pytest.fixture(scope="module")
def world():
    # the mixed org serves pull request files
    return simulator.generate_org(scale="mixed", seed=5, end=END)


def _load(world, root: Path, api: str, file_repositories) -> tuple[Path, dict]:
    emu = simulator.Emulator(world, port=0, github_token=TOKEN).start()
    try:
        before = emu.usage()["github"]
        for moment in MOMENTS:
            emu.set_now(moment)
            source = github_source(
                base_url=f"{emu.url}/github",
                organization=world.org,
                token=TOKEN,
                start_date=(END - timedelta(days=120)).date().isoformat(),
                api=api,
                max_concurrency=2,
                file_repositories=file_repositories,
                **FAST_RETRIES,
            )
            make_pipeline("github", root / "build.duckdb", root / "dlt").run(source)
        after = emu.usage()["github"]
    finally:
        emu.stop()
    return root / "build.duckdb", {key: after[key] - before[key] for key in after}


def _tables(db: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'raw_github' and table_name not like '_dlt%' order by 1, 2"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        if column not in METADATA:
            out.setdefault(table, []).append(column)
    return out


def _rows(db: Path, table: str, columns: list[str], where: str = "true") -> list[tuple]:
    listed = ", ".join(f'cast("{c}" as varchar)' for c in columns)
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f'select {listed} from raw_github."{table}" where {where}').fetchall()
    return sorted(found, key=lambda row: tuple("" if v is None else v for v in row))


@pytest.fixture(scope="module", params=["graphql", "rest"])
def loads(request, world, tmp_path_factory):
    """The full load (every repository's files), the repository chosen, and the load of its files only."""
    api = request.param
    full = _load(world, tmp_path_factory.mktemp(f"all_{api}"), api, None)
    with duckdb.connect(str(full[0]), read_only=True) as con:
        counts = con.execute(
            "select repository, count(*) from raw_github.pull_request_files group by 1 order by 2 desc, 1"
        ).fetchall()
    assert len(counts) >= 2, "the world should have files in several repositories"
    # names as an org file may spell them: the source matches any case
    chosen = counts[0][0]
    one = _load(world, tmp_path_factory.mktemp(f"one_{api}"), api, [chosen.upper()])
    return api, full, chosen, one


def test_only_the_named_repository_has_files(loads) -> None:
    _, full, chosen, one = loads
    columns = _tables(full[0])["pull_request_files"]
    expected = _rows(full[0], "pull_request_files", columns, f"repository = '{chosen}'")
    assert expected
    assert _rows(one[0], "pull_request_files", columns) == expected


def test_every_other_table_is_unchanged(loads) -> None:
    _, full, _, one = loads
    tables = _tables(full[0])
    assert _tables(one[0]) == tables
    for table, columns in tables.items():
        if table in ("pull_request_files", "quarantine"):
            continue
        assert _rows(one[0], table, columns) == _rows(full[0], table, columns), table


def test_fewer_requests(loads) -> None:
    """REST reads files with a request per pull request. GraphQL's files cost a point per page of 100
    pull requests, which the mixed org's small pages round away (the query's cost: below)."""
    api, (_, full), _, (_, one) = loads
    assert one["requests"] <= full["requests"]
    assert one["graphql_points"] <= full["graphql_points"]
    if api == "rest":
        assert one["requests"] < full["requests"], (one, full)


def test_a_full_page_without_files_costs_a_point_less() -> None:
    """GitHub's cost rule as the emulator computes it: a page of 100 pull requests with their files costs
    5 points (1 + 5 x 100 requests), without them 4; a page of 25, 1 either way (126 or 101 requests)."""
    from ingestion.github import graphql
    from simulator.github_graphql import parse, query_cost

    def cost(document: str, first: int) -> int:
        _, selections = parse(document)
        return query_cost(selections, {"owner": "acme", "name": "api", "first": first, "after": None})

    assert cost(graphql.PULL_REQUESTS_QUERY, 100) == 5
    assert cost(graphql.PULL_REQUESTS_QUERY_WITHOUT_FILES, 100) == 4
    assert cost(graphql.PULL_REQUESTS_QUERY, 25) == cost(graphql.PULL_REQUESTS_QUERY_WITHOUT_FILES, 25) == 1


def test_no_repository_needs_files_the_table_is_there_empty(world, tmp_path) -> None:
    db, _ = _load(world, tmp_path, "graphql", [])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw_github.pull_request_files").fetchone() == (0,)
        assert con.execute("select count(*) from raw_github.pull_requests").fetchone()[0] > 0


def test_files_are_read_where_a_service_owns_paths() -> None:
    config = parse_config(
        """
org: acme
sources:
  github: {base_url: "https://api.github.com", organization: acme, token: t}
teams: [{name: core}]
services:
  - {name: pay, team: core, repository: acme/Mono, paths: ["services/pay/"]}
  - {name: shared, team: core, repository: acme/Mono}
  - {name: api, team: core, repository: acme/api}
environments: [{name: production, match: "^prod", production: true}]
"""
    )
    assert path_repositories(config) == ["acme/Mono"]
