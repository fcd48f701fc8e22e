"""The app keeps serving the last good warehouse while a refresh publishes a new one, then shows the new one.

The publish (orchestration/publish.py) copies the build beside the warehouse and renames it over the old
file. Here the app renders at the moment the copy is finished and the rename not done yet, and again after
the rename.

No connection to the warehouse may stay open in the test process: DuckDB shares one database instance per
path within a process, so a connection opened while another still holds the old file would read the old
file too (the app's connections live only as long as a query for this reason).
"""

from __future__ import annotations

import shutil
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
