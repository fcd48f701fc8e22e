"""The GitHub source hands its large tables to dlt as Arrow tables (ingestion/arrow.py): the warehouse must
not tell. The same world loaded page by page as rows (the path every table was first built on) and as Arrow
gives the same tables, columns, types, nullability and rows, over a first load and incremental ones (merges
included); and the Arrow load really handed dlt Arrow tables (extracted as Parquet files), so the comparison
is not of rows with rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ingestion import arrow as arrow_pages
from ingestion.github import actions, columns, deployments, github_source, pulls, repos
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_arrow_test_token_77c2"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}
MOMENTS = [END - timedelta(days=12), END]  # a first load, then an incremental one with merges
# the tables handed over as Arrow; each must reach the warehouse through Parquet in the Arrow load
ARROW_TABLES = (
    "commits",
    "pull_requests",
    "pull_request_commits",
    "pull_request_reviews",
    "pull_request_review_comments",
    "pull_request_files",
    "deployments",
    "deployment_statuses",
    "workflow_jobs",
)
RANDOM_PER_ROW = ("_dlt_id", "_dlt_load_id")  # dlt's own ids: present on both paths, values differ


@pytest.fixture(scope="module")
def world():
    # the mixed org serves the optional endpoints (files, review comments) and Actions
    return simulator.generate_org(scale="mixed", seed=5, end=END)


def _load(world, root: Path, api: str) -> tuple[Path, set[str]]:
    """Load the org's GitHub at each moment; the database, and the tables handed to dlt as Arrow (extracted
    as Parquet files)."""
    emu = simulator.Emulator(world, port=0, github_token=TOKEN).start()
    parquet: set[str] = set()
    try:
        pipeline = make_pipeline("github", root / "build.duckdb", root / "dlt")
        for moment in MOMENTS:
            emu.set_now(moment)
            source = github_source(
                base_url=f"{emu.url}/github",
                organization=world.org,
                token=TOKEN,
                start_date=(END - timedelta(days=120)).date().isoformat(),
                api=api,
                max_concurrency=3,
                **FAST_RETRIES,
            )
            # every table reaches DuckDB as Parquet (ingestion/pipelines.py); a table handed over as Arrow
            # is Parquet already when extracted, one handed over as rows is written as Parquet later
            info = pipeline.extract(source)
            for package in info.load_packages:
                for job in package.jobs["new_jobs"]:
                    if job.job_file_info.file_format == "parquet":
                        parquet.add(job.job_file_info.table_name)
            pipeline.normalize()
            pipeline.load().raise_on_failed_jobs()
    finally:
        emu.stop()
    return root / "build.duckdb", parquet


def _as_rows(page: list[dict], _columns: dict, _nested: bool = False) -> list[dict]:
    return page


@pytest.fixture(scope="module", params=["graphql", "rest"])
def loads(request, world, tmp_path_factory):
    api = request.param
    arrow = _load(world, tmp_path_factory.mktemp(f"arrow_{api}"), api)
    with pytest.MonkeyPatch.context() as patch:
        # arrow_batches calls arrow_pages.arrow_page; the transformers import it by name
        for module in (arrow_pages, repos, pulls, deployments, actions):
            if hasattr(module, "arrow_page"):
                patch.setattr(module, "arrow_page", _as_rows)
        rows = _load(world, tmp_path_factory.mktemp(f"rows_{api}"), api)
    return rows, arrow


def _schema(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "select table_name, column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = 'raw_github' order by table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[tuple]] = {}
    for table, *column in found:
        out.setdefault(table, []).append(tuple(column))
    return out


def _rows(db: Path, table: str, names: list[str]) -> list[tuple]:
    listed = ", ".join(f'cast("{name}" as varchar)' for name in names)
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(
            con.execute(f'select {listed} from raw_github."{table}"').fetchall(),
            key=lambda row: tuple("" if v is None else v for v in row),
        )


def test_the_arrow_load_writes_parquet(loads) -> None:
    (_, by_rows), (_, by_arrow) = loads
    assert set(ARROW_TABLES) == columns.ARROW_RESOURCES
    assert not by_rows & set(ARROW_TABLES)
    missing = set(ARROW_TABLES) - by_arrow
    # a world without review comments or jobs on a path has nothing to write for them
    assert missing <= {"pull_request_review_comments", "workflow_jobs"}, missing
    assert {"commits", "pull_requests", "pull_request_commits", "deployment_statuses"} <= by_arrow


def test_same_tables_columns_types_and_nullability(loads) -> None:
    (rows_db, _), (arrow_db, _) = loads
    expected = _schema(rows_db)
    assert {"commits", "pull_requests", "deployment_statuses"} <= set(expected)
    assert _schema(arrow_db) == expected


@pytest.mark.parametrize("table", ARROW_TABLES)
def test_same_rows(loads, table) -> None:
    (rows_db, _), (arrow_db, _) = loads
    names = [column for column, *_ in _schema(rows_db).get(table, []) if column not in RANDOM_PER_ROW]
    if not names:
        pytest.skip(f"this world loads no {table}")
    expected = _rows(rows_db, table, names)
    assert expected, f"the row load has no {table}"
    assert _rows(arrow_db, table, names) == expected


def test_a_page_that_does_not_fit_the_hints_stays_rows() -> None:
    hints = {"id": {"data_type": "bigint"}, "at": {"data_type": "timestamp"}, "doc": {"data_type": "json"}}
    page = [{"id": 1, "at": "2026-01-02T03:04:05Z", "doc": {"a": [1]}}, {"id": 2}]
    fits = arrow_pages.arrow_page(page, hints)
    assert isinstance(fits, pa.Table)
    assert fits.column("at").type == pa.timestamp("us", tz="UTC")
    assert fits.to_pylist()[0]["at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert fits.column("doc").to_pylist() == ['{"a":[1]}', None]
    for odd in (
        [{"id": "1"}],  # another type: dlt would make a variant column
        [{"id": 1, "extra": 2}],  # a column without a hint
        [{"id": 1, "at": "2026-01-02T03:04:05"}],  # a time without its zone
    ):
        assert arrow_pages.arrow_page(odd, hints) == odd


def test_pages_are_gathered_into_tables_and_other_items_pass_on() -> None:
    hints = {"id": {"data_type": "bigint"}}
    marked = object()  # a quarantine item, marked for its own table
    items = [[{"id": 1}, {"id": 2}], marked, [{"id": 3}], [{"id": 4}, {"id": 5}], [{"id": 6}]]
    out = list(arrow_pages.arrow_batches(items, hints, size=3))
    assert out[0] is marked
    assert [item.column("id").to_pylist() for item in out[1:]] == [[1, 2, 3], [4, 5, 6]]
    assert list(arrow_pages.arrow_batches([[{"id": 1}]], hints, size=3))[0].num_rows == 1
    assert list(arrow_pages.arrow_batches([], hints)) == []


def test_nested_pages_are_flattened_in_dlts_order_with_inferred_types() -> None:
    hints = {"id": {"data_type": "bigint"}, "at": {"data_type": "timestamp"}, "tags": {"data_type": "json"}}
    rows = [
        {"id": 1, "user": {"id": 7, "name": "ann"}, "ok": True, "tags": ["a"], "diff": {"sha": "x"}},
        {"id": 2, "size": 1.5, "closed_by": {"name": "bo"}},
    ]
    table = arrow_pages.arrow_page(rows, hints, nested=True)
    assert isinstance(table, pa.Table)
    # hinted columns first, then as dlt's normaliser names them: a row's values, then its nested objects
    # (the last one first), then what later rows add
    assert table.column_names == ["id", "at", "tags", "ok", "diff__sha", "user__id", "user__name"] + [
        "size",
        "closed_by__name",
    ]
    inferred = ["bool", "string", "int64", "string", "double", "string"]
    assert [str(t) for t in table.schema.types[3:]] == inferred
    assert table.column("tags").to_pylist() == ['["a"]', None]
    assert table.column("user__id").to_pylist() == [7, None]
    for odd in (
        [{"id": 1, "list": [1]}],  # an unhinted list: dlt's child table
        [{"id": 1, "n": 1}, {"id": 2, "n": "1"}],  # two types in a column: dlt's variant column
        [{"id": 1, "when": "2026-01-02T03:04:05Z"}],  # an unhinted time: dlt detects a timestamp
        [{"id": 1, "Odd Name": 1}],  # a name dlt would rename
    ):
        assert arrow_pages.arrow_page(odd, hints, nested=True) == odd
    assert arrow_pages.arrow_page([{"id": 1, "extra": 2}], hints) == [{"id": 1, "extra": 2}]


def test_parent_keys_read_a_table_or_nested_rows_alike() -> None:
    rows = [{"id": 1, "author": {"username": "ann"}}, {"id": 2}]
    table = arrow_pages.arrow_page(rows, {"id": {"data_type": "bigint"}}, nested=True)
    expected = [{"id": 1, "author__username": "ann"}, {"id": 2, "author__username": None}]
    assert arrow_pages.parent_keys(table, ("id", "author__username")) == expected
    assert arrow_pages.parent_keys(rows, ("id", "author__username")) == expected
    assert arrow_pages.parent_keys(rows[0], ("id",)) == [{"id": 1}]
