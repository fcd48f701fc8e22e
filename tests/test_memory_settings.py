"""Bounded-memory settings: one set of variables for dlt, dbt's DuckDB and the refresh's own connections."""

from __future__ import annotations

import os
import pprint

import duckdb
import pytest

from ingestion.pipelines import MEMORY_DEFAULTS, connect_duckdb, duckdb_settings, make_pipeline
from orchestration.assets import profile_checksum
from orchestration.workdir import DBT_PROJECT_DIR


def _rendered_profile_credentials():
    """transform/profiles.yml as dbt renders it in this environment."""
    from argparse import Namespace

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    set_invocation_context(os.environ)
    return Profile.from_raw_profiles(
        read_profile(str(DBT_PROJECT_DIR)), "deploylens", ProfileRenderer({})
    ).credentials


@pytest.mark.parametrize(
    "overrides", [{}, {"DEPLOYLENS_DUCKDB_MEMORY_LIMIT": "700MB", "DEPLOYLENS_DUCKDB_THREADS": "1"}]
)
def test_dbt_profile_renders_the_same_settings(monkeypatch, tmp_path, overrides):
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    build_db = str(tmp_path / "build" / "deploylens.duckdb")
    monkeypatch.setenv("DEPLOYLENS_BUILD_DB", build_db)
    credentials = _rendered_profile_credentials()
    expected_limit = overrides.get(
        "DEPLOYLENS_DUCKDB_MEMORY_LIMIT", MEMORY_DEFAULTS["DEPLOYLENS_DUCKDB_MEMORY_LIMIT"]
    )
    assert credentials.settings["memory_limit"] == expected_limit
    assert credentials.settings == duckdb_settings()
    # The partial-parse seed is re-keyed with this checksum: it must be the one dbt computes for the profile.
    from dbt.contracts.files import FileHash

    dbt_hash = FileHash.from_contents(pprint.pformat(sorted(credentials.connection_info()))).checksum
    assert profile_checksum(build_db) == dbt_hash


def test_refresh_connections_have_the_limits(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYLENS_DUCKDB_MEMORY_LIMIT", "512MB")
    con = connect_duckdb(tmp_path / "x.duckdb")
    try:
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings()"
                " where name in ('memory_limit', 'threads', 'preserve_insertion_order', 'temp_directory')"
            ).fetchall()
        )
    finally:
        con.close()
    assert settings["memory_limit"] == "488.2 MiB"  # 512 MB
    assert settings["threads"] == "2"
    assert settings["preserve_insertion_order"] == "false"
    assert settings["temp_directory"] == str(tmp_path / "x.duckdb.tmp")  # spills stay in the workdir


def test_dlt_buffers_and_rotation_come_from_the_variables(monkeypatch, tmp_path):
    for name in ("DATA_WRITER__BUFFER_MAX_ITEMS", "DATA_WRITER__FILE_MAX_ITEMS", "NORMALIZE__WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEPLOYLENS_DLT_FILE_MAX_ITEMS", "1000")
    pipeline = make_pipeline("mem", tmp_path / "b.duckdb", tmp_path / "dlt")
    assert os.environ["DATA_WRITER__FILE_MAX_ITEMS"] == "1000"
    assert os.environ["DATA_WRITER__BUFFER_MAX_ITEMS"] == MEMORY_DEFAULTS["DEPLOYLENS_DLT_BUFFER_MAX_ITEMS"]
    pipeline.extract([{"n": n} for n in range(3500)], table_name="numbers")
    # 3,500 rows with files rotated every 1,000 items: at least four extracted files for the table
    files = [path for path in (tmp_path / "dlt").rglob("numbers.*") if path.is_file()]
    assert len(files) >= 4, files  # one file without rotation
    pipeline.normalize()
    pipeline.load()
    con = connect_duckdb(tmp_path / "b.duckdb", read_only=True)
    try:
        assert con.execute("select count(*) from raw_mem.numbers").fetchone()[0] == 3500
    finally:
        con.close()


@pytest.mark.parametrize("limit", [None, "700MB"])
def test_the_apps_database_has_the_memory_limit(monkeypatch, tmp_path, limit):
    from conftest_app import build_fixture_warehouse

    from app import queries

    if limit:
        monkeypatch.setenv("DEPLOYLENS_DUCKDB_MEMORY_LIMIT", limit)
    else:
        monkeypatch.delenv("DEPLOYLENS_DUCKDB_MEMORY_LIMIT", raising=False)
    assert queries.DEFAULT_MEMORY_LIMIT == MEMORY_DEFAULTS["DEPLOYLENS_DUCKDB_MEMORY_LIMIT"]
    warehouse = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    setting = "select current_setting('memory_limit') as limit_"
    reference = duckdb.connect(":memory:")
    try:
        reference.execute("set memory_limit = ?", [duckdb_settings()["memory_limit"]])
        expected = reference.execute(setting).fetchone()[0]
    finally:
        reference.close()
    assert queries.run_query(warehouse, setting).loc[0, "limit_"] == expected
    queries.close_all()


def test_rows_reach_duckdb_as_parquet_not_insert_statements(tmp_path):
    """A table handed to dlt as rows (nested objects, a list that becomes a child table, a JSON column,
    times as text) loads from Parquet files: DuckDB parses an INSERT statement at a few thousand wide rows
    a second and holds about 115 times its text (docs/architecture.md). The values are those of the rows."""
    import dlt

    @dlt.resource(
        name="runs",
        primary_key="id",
        write_disposition="merge",
        columns={"labels": {"data_type": "json"}, "created_at": {"data_type": "timestamp"}},
    )
    def runs():
        yield [
            {
                "id": n,
                "name": f"run {n}",
                "actor": {"login": f"dev{n % 7}"},
                "labels": ["ci", f"shard-{n % 3}"],
                "steps": [{"name": "build", "seconds": n}, {"name": "test", "seconds": 2 * n}],
                "created_at": f"2024-05-{1 + n % 28:02d}T10:00:00Z",
            }
            for n in range(2000)
        ]

    pipeline = make_pipeline("pq", tmp_path / "b.duckdb", tmp_path / "dlt")
    info = pipeline.run(runs())
    formats = {
        job.job_file_info.table_name: job.job_file_info.file_format
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.file_format != "sql"  # the merge's own statements
    }
    assert {"runs", "runs__steps"} <= set(formats)
    assert set(formats.values()) == {"parquet"}, formats
    con = connect_duckdb(tmp_path / "b.duckdb", read_only=True)
    try:
        loaded = con.execute(
            "select count(*), sum(id), count(distinct actor__login), min(created_at)::text,"
            " sum(json_array_length(labels)) from raw_pq.runs"
        ).fetchone()
        assert loaded == (2000, sum(range(2000)), 7, "2024-05-01 10:00:00+00", 4000)
        steps = con.execute("select count(*), sum(seconds) from raw_pq.runs__steps").fetchone()
        assert steps == (4000, 3 * sum(range(2000)))
    finally:
        con.close()
