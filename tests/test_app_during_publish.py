"""The app keeps serving the last good warehouse while a refresh publishes a new one, then shows the new one.

The publish (orchestration/publish.py) copies the build beside the warehouse and renames it over the old
file. Here the app renders at the moment the copy is finished and the rename not done yet, and again after
the rename.

The app keeps one database open on the published file between queries (app/queries.py). DuckDB shares one
database per path between the `duckdb.connect` calls of a process, so a second connection to the path while
the first still holds a replaced file would read the replaced file: the app's database is its own (an
in-memory database with the file attached), and here another reader holding the old file across a publish
must not change what the app sees. After a publish the app lets the old file go: at its next query, or
within `queries.RELEASE_CHECK_SECONDS` with no query.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from streamlit.testing.v1 import AppTest

from app import queries
from orchestration import publish as publish_module

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def _deployments_shown(app_test: AppTest) -> dict[str, int]:
    app_test.run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    table = next(frame.value for frame in app_test.dataframe if "Frequency rank" in frame.value.columns)
    return dict(zip(table["Team"], table["Deployments"], strict=True))


def test_the_app_serves_the_old_warehouse_during_a_publish_then_the_new_one(
    tiny_warehouse: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build = tmp_path / "build.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    shutil.copyfile(tiny_warehouse, build)
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(warehouse))

    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.run()
    app_test.switch_page("app_pages/teams.py")
    before = _deployments_shown(app_test)
    team = max(before, key=before.get)
    assert before[team] > 0

    # The next refresh finds that team's production deployments were not successful after all.
    connection = duckdb.connect(str(build))
    try:
        connection.execute("update marts.fct_deployments set status = 'failure' where team = ?", [team])
    finally:
        connection.close()

    seen_during: list[dict[str, int]] = []

    def during(name: str) -> None:
        if name == "publish_before_rename":
            assert publish_module.tmp_files(warehouse), "the new copy is written beside the warehouse"
            seen_during.append(_deployments_shown(app_test))

    monkeypatch.setattr(publish_module, "kill_point", during)
    publish_module.publish(build, warehouse, run_id="next")
    assert seen_during == [before]
    # The cache is keyed by the file's modification time: the next rerun reads the new publish.
    after = _deployments_shown(app_test)
    assert after[team] == 0
    assert {name: count for name, count in after.items() if name != team} == {
        name: count for name, count in before.items() if name != team
    }


def _open_files() -> set[tuple[int, int]]:
    """(device, inode) of every file this process has open, deleted ones included."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            stat = os.stat(fd)
        except OSError:
            continue
        held.add((stat.st_dev, stat.st_ino))
    return held


def _file(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


COUNT = "select count(*) as n from marts.fct_deployments"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads this process's open files in /proc")
def test_after_a_publish_the_next_query_reads_the_new_file_not_the_open_one(
    tiny_warehouse: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build = tmp_path / "build.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    shutil.copyfile(tiny_warehouse, build)
    before = int(queries.run_query(warehouse, COUNT).loc[0, "n"])
    old_file = _file(warehouse)
    assert old_file in _open_files(), "the app keeps the published file open between queries"

    connection = duckdb.connect(str(build))
    try:
        team, removed = connection.execute(
            "select team, count(*) from marts.fct_deployments group by team order by count(*) desc limit 1"
        ).fetchone()
        connection.execute("delete from marts.fct_deployments where team = ?", [team])
    finally:
        connection.close()
    assert removed > 0

    # A reader holding the old file across the publish: a second `duckdb.connect` of the path would be
    # handed this old database, so the app must not open the path that way.
    other_reader = duckdb.connect(str(warehouse), read_only=True)
    try:
        publish_module.publish(build, warehouse, run_id="next")
        after = int(queries.run_query(warehouse, COUNT).loc[0, "n"])
        assert int(other_reader.execute(COUNT).fetchone()[0]) == before
    finally:
        other_reader.close()
    assert after == before - removed
    assert old_file not in _open_files(), "the replaced file is let go"
    assert _file(warehouse) in _open_files()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads this process's open files in /proc")
def test_a_replaced_file_is_let_go_without_waiting_for_a_query(
    tiny_warehouse: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queries, "RELEASE_CHECK_SECONDS", 0.05)
    queries.close_all()  # wakes a watcher already waiting, which then waits the period above
    warehouse = tmp_path / "warehouse.duckdb"
    build = tmp_path / "build.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    shutil.copyfile(tiny_warehouse, build)
    queries.run_query(warehouse, COUNT)
    old_file = _file(warehouse)
    assert old_file in _open_files()
    publish_module.publish(build, warehouse, run_id="next")
    deadline = time.monotonic() + 5
    while old_file in _open_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert old_file not in _open_files(), "a replaced file is closed within the watcher's period"
