"""A refresh in which nothing the dbt build reads changed skips the build, the checks and the publish.

The fingerprint (orchestration/build_state.py) must change with every input of the build: a raw row added,
changed or removed, a configuration table's row, a seed, a model's SQL, the dbt command; and must not change
when a source merely loaded the same records again (new dlt load ids). Then, on a tiny org: a second refresh
with nothing new skips and says so, the warehouse file is the one published before; a change to the
configuration makes the next refresh build again, and the change reaches the marts. A full rebuild on an
unchanged upstream never skips: tests/reliability/test_kills_publish.py kills two of them after their
build and would fail if they skipped it.
"""

from __future__ import annotations

import logging
import os
import shutil
from types import SimpleNamespace

import duckdb
import pytest
import yaml

from orchestration.build_state import build_fingerprint, unchanged_since
from orchestration.workdir import DBT_PROJECT_DIR

COMMAND = ["build", "--exclude", "test_type:unit"]


@pytest.fixture
def project(tmp_path):
    """A copy of the dbt project (models/ and transform/) whose files a test may edit."""
    root = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR.parent / "models", root / "models")
    shutil.copytree(DBT_PROJECT_DIR, root / "transform", ignore=shutil.ignore_patterns("target", "logs"))
    return root


@pytest.fixture
def build_db(tmp_path):
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw_github")
        con.execute("create schema raw_config")
        con.execute(
            "create table raw_github.pull_requests as select * from (values "
            "(1, 'fix', timestamp '2026-06-01 10:00', 'l1', 'a'), (2, 'add', null, 'l1', 'b')) "
            "as rows(number, title, merged_at, _dlt_load_id, _dlt_id)"
        )
        con.execute("create table raw_github._dlt_loads as select 'l1' as load_id")
        con.execute(
            "create table raw_config.teams as select 'payments' as name, cast(null as varchar) as description"
        )
        con.execute("create schema marts")
        con.execute("create table marts.fct_changes as select 1 as change_id")
    return db


def _fingerprint(db, project, command=COMMAND):
    return build_fingerprint(db, command, [project / "models", project / "transform"])


@pytest.mark.parametrize(
    "change",
    [
        "insert into raw_github.pull_requests values (3, 'new', null, 'l2', 'c')",
        "update raw_github.pull_requests set title = 'fixed' where number = 1",
        "update raw_github.pull_requests set merged_at = timestamp '2026-06-02 10:00' where number = 2",
        "delete from raw_github.pull_requests where number = 2",
        "update raw_config.teams set description = 'the payments team'",
        "create table raw_github.releases as select 1 as id",
    ],
)
def test_a_raw_change_changes_the_fingerprint(build_db, project, change):
    before = _fingerprint(build_db, project)
    with duckdb.connect(str(build_db)) as con:
        con.execute(change)
    assert _fingerprint(build_db, project) != before


def test_the_same_records_loaded_again_leave_it_alone(build_db, project):
    """A merge of the same records writes new dlt ids and a load row: nothing a model reads."""
    before = _fingerprint(build_db, project)
    with duckdb.connect(str(build_db)) as con:
        con.execute("update raw_github.pull_requests set _dlt_load_id = 'l2', _dlt_id = _dlt_id || 'x'")
        con.execute("insert into raw_github._dlt_loads values ('l2')")
        # dlt's merge staging dataset: its scratch space, emptied and refilled by each merge
        con.execute("create schema raw_github_staging")
        con.execute("create table raw_github_staging.pull_requests as select 3 as number")
        con.execute("create schema meta")
        con.execute("create table meta.source_loads as select 'github' as source")
        con.execute("create or replace table marts.fct_changes as select 2 as change_id")  # dbt's output
    assert _fingerprint(build_db, project) == before


@pytest.mark.parametrize(
    "edit",
    [
        ("models/marts/fct_changes.sql", "\n-- a comment is a change too\n"),
        ("transform/seeds/deployment_statuses.csv", "\n"),
        ("transform/macros/dora_metrics.sql", " "),
        ("models/marts/_marts__models.yml", "\n"),
        ("transform/dbt_project.yml", "\n"),
    ],
)
def test_a_project_change_changes_the_fingerprint(build_db, project, edit):
    before = _fingerprint(build_db, project)
    path, text = edit
    with open(project / path, "a") as handle:
        handle.write(text)
    assert _fingerprint(build_db, project) != before


def test_the_command_is_part_of_it(build_db, project):
    assert _fingerprint(build_db, project, [*COMMAND, "--full-refresh"]) != _fingerprint(build_db, project)


def test_no_published_build_no_skip(build_db, tmp_path, project):
    assert unchanged_since(build_db, tmp_path / "warehouse.duckdb", _fingerprint(build_db, project)) is None


# ------------------------------------------------------------------------------------- a whole refresh
@pytest.fixture(scope="module")
def org(tmp_path_factory, tiny_org):
    """A copy of the session's tiny org workdir (its published warehouse, build database, raw data and dlt
    state) with its own `org.yml`, over the same emulator: the refreshes here change it, not the tiny org."""
    from orchestration.workdir import Workdir

    saved = {
        key: os.environ.get(key)
        for key in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB")
    }
    workdir = Workdir.at(tmp_path_factory.mktemp("skip") / "org")
    shutil.copytree(tiny_org.workdir.root, workdir.root, ignore=shutil.ignore_patterns("dagster_home"))
    assert workdir.config.read_text() == tiny_org.config_path.read_text()  # the copy's own org.yml
    yield SimpleNamespace(workdir=workdir, config_path=workdir.config, refresh=tiny_org.refresh)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _builds(workdir) -> list[tuple[str, str]]:
    with duckdb.connect(str(workdir.build_db), read_only=True) as con:
        return con.execute("select run_id, outcome from meta.builds order by recorded_at").fetchall()


def test_nothing_new_skips_then_a_change_builds(org, caplog):
    from orchestration.cli import run_refresh

    workdir = org.workdir
    first = org.refresh
    assert first["rebuilt"] and first["exit_code"] == 0
    assert _builds(workdir) == [(first["run_id"], "building"), (first["run_id"], "published")]
    published = workdir.warehouse.stat()

    with caplog.at_level(logging.INFO, logger="deploylens"):
        second = run_refresh(org.config_path, workdir)
    assert not second["rebuilt"] and second["exit_code"] == 0
    assert second["checks"] == {}  # none ran: the published build's stand
    assert _builds(workdir)[-1] == (second["run_id"], "skipped")
    said = caplog.text
    assert f"nothing changed since the build run {first['run_id']} published" in said
    assert "building models" not in said and "publishing the warehouse" not in said
    assert "emitted no result" not in said
    kept = workdir.warehouse.stat()
    assert (kept.st_ino, kept.st_mtime_ns) == (published.st_ino, published.st_mtime_ns)
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        assert con.execute("select run_id from meta.refreshes").fetchall() == [(first["run_id"],)]

    # a configuration change (a team's description) reaches raw_config: the next refresh builds
    config = yaml.safe_load(org.config_path.read_text())
    team = config["teams"][0]
    team["description"] = "described after the first refresh"
    org.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    third = run_refresh(org.config_path, workdir)
    assert third["rebuilt"] and third["checks"]
    assert _builds(workdir)[-2:] == [(third["run_id"], "building"), (third["run_id"], "published")]
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        assert con.execute("select run_id from meta.refreshes").fetchall() == [(third["run_id"],)]
        found = con.execute("select description from marts.dim_teams where team = ?", [team["name"]])
        assert found.fetchone() == ("described after the first refresh",)
