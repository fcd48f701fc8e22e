"""The `optional_source` macro (transform/macros/optional_source.sql), and the staging layer built on it.

The macro alone runs in a throwaway dbt project over its own DuckDB file: a raw table present, one lacking
a declared column, one absent, and sources YAML it must refuse. The staging layer's columns and types are
compared with tests/contracts/staging_columns.json, taken before the layer read its optional sources
through the macro: in a warehouse where nothing was loaded, and in the tiny org (GitHub deployments and
PagerDuty only, so GitLab, Jenkins and git are stand-ins); the mixed org's is in test_deploy_rules_mixed.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest
from dbt_build import REPO_ROOT, dbt_build
from staging_schema import read_snapshot, staging_columns

MACRO = REPO_ROOT / "transform" / "macros" / "optional_source.sql"

SOURCES = """
version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: present
        columns:
          - {name: id, data_type: bigint}
          - {name: label, data_type: varchar}
      - name: partial
        columns:
          - {name: id, data_type: bigint}
          - {name: closed_at, data_type: timestamptz}
          - {name: tags, data_type: json}
      - name: absent
        columns:
          - {name: id, data_type: bigint}
          - {name: "timestamp", data_type: bigint}
          - {name: is_open, data_type: boolean}
          - {name: payload, data_type: json}
"""


def _project(root: Path, sources: str, models: dict[str, str]) -> Path:
    project = root / "project"
    (project / "macros").mkdir(parents=True)
    (project / "models").mkdir()
    shutil.copy(MACRO, project / "macros")
    (project / "dbt_project.yml").write_text(
        textwrap.dedent(
            """
            name: optional_source_check
            version: "1.0.0"
            config-version: 2
            profile: optional_source_check
            model-paths: ["models"]
            macro-paths: ["macros"]
            models:
              optional_source_check:
                +materialized: view
            flags:
              send_anonymous_usage_stats: false
            """
        )
    )
    (project / "profiles.yml").write_text(
        textwrap.dedent(
            f"""
            optional_source_check:
              target: check
              outputs:
                check:
                  type: duckdb
                  path: "{root / "check.duckdb"}"
                  threads: 1
            """
        )
    )
    (project / "models" / "_raw__sources.yml").write_text(sources)
    for name, sql in models.items():
        (project / "models" / f"{name}.sql").write_text(sql)
    return project


def _build(project: Path):
    from dbt.cli.main import dbtRunner

    args = ["build", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    args += ["--target-path", str(project / "target"), "--log-path", str(project / "logs")]
    return dbtRunner().invoke(args)


def _model(source_table: str) -> str:
    return f"select * from ({{{{ optional_source('raw', '{source_table}') }}}})\n"


def test_present_table_passes_through_missing_columns_are_typed_nulls_absent_table_is_empty(tmp_path):
    with duckdb.connect(str(tmp_path / "check.duckdb")) as con:
        con.execute("create schema raw")
        # an undeclared extra column is kept; the declared columns come as the raw table has them
        con.execute(
            "create table raw.present as "
            "select * from (values (1, 'a', 'x'), (2, 'b', 'y')) as v(id, label, extra)"
        )
        # dlt creates no column for a field that was always null: `closed_at` and `tags` are missing
        con.execute("create table raw.partial as select * from (values (7), (8), (9)) v(id)")
    models = {"m_present": _model("present"), "m_partial": _model("partial"), "m_absent": _model("absent")}
    result = _build(_project(tmp_path, SOURCES, models))
    assert result.success, result.exception or [r.message for r in result.result or []]

    with duckdb.connect(str(tmp_path / "check.duckdb")) as con:

        def columns(model: str) -> list[tuple[str, str]]:
            return con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [model],
            ).fetchall()

        assert columns("m_present") == [("id", "INTEGER"), ("label", "VARCHAR"), ("extra", "VARCHAR")]
        assert con.execute("select id, label, extra from m_present order by id").fetchall() == [
            (1, "a", "x"),
            (2, "b", "y"),
        ]
        assert columns("m_partial") == [
            ("id", "INTEGER"),
            ("closed_at", "TIMESTAMP WITH TIME ZONE"),
            ("tags", "JSON"),
        ]
        assert con.execute("select id, closed_at, tags from m_partial order by id").fetchall() == [
            (7, None, None),
            (8, None, None),
            (9, None, None),
        ]
        assert columns("m_absent") == [
            ("id", "BIGINT"),
            ("timestamp", "BIGINT"),
            ("is_open", "BOOLEAN"),
            ("payload", "JSON"),
        ]
        assert con.execute("select count(*) from m_absent").fetchone() == (0,)


@pytest.mark.parametrize(
    ("table_yaml", "message"),
    [
        ("      - name: absent\n", "raw.absent declares no columns"),
        (
            "      - name: absent\n        columns:\n          - {name: id}\n",
            "column id of raw.absent has no data_type",
        ),
    ],
    ids=["no columns", "no data_type"],
)
def test_a_table_without_declared_columns_or_types_is_a_compile_error(tmp_path, table_yaml, message):
    sources = "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n" + table_yaml
    result = _build(_project(tmp_path, sources, {"m_absent": _model("absent")}))
    assert not result.success
    errors = " ".join(str(r.message) for r in result.result or []) + str(result.exception or "")
    assert message in errors


# The staging models of sources that are not optional: they need their raw tables.
REQUIRED = {
    "stg_config__deploy_rules",
    "stg_config__environments",
    "stg_config__services",
    "stg_config__settings",
    "stg_config__teams",
    "stg_config__benchmarks",
}


def test_staging_of_an_empty_warehouse_keeps_every_column_and_type(tmp_path):
    """Nothing loaded at all: every optional staging model is a stand-in, with the snapshot's columns."""
    db = tmp_path / "empty.duckdb"
    optional = [
        f"path:../models/staging/{source}"
        for source in (
            "git",
            "github",
            "gitlab",
            "jenkins",
            "pagerduty",
            "alerts",
            "dora_quickcheck",
            "assessments",
        )
    ]
    dbt_build(
        db, tmp_path, " ".join([*optional, "stg_config__service_pagerduty", "stg_config__service_paths"])
    )
    built = staging_columns(db, read_only=False)
    expected = {model: cols for model, cols in read_snapshot()["tiny"].items() if model not in REQUIRED}
    assert set(built) == set(expected)
    assert {m: c for m, c in built.items() if c != expected[m]} == {}


def test_tiny_org_staging_keeps_every_column_and_type(tiny_org):
    """GitHub deployments and PagerDuty loaded, every other source a stand-in."""
    built = staging_columns(tiny_org.workdir.warehouse)
    expected = read_snapshot()["tiny"]
    assert set(built) == set(expected)
    assert {m: c for m, c in built.items() if c != expected[m]} == {}
