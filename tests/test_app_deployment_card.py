"""The Deployments page's search and card: the rows behind one deployment, written by hand in the fixture.

Fixture (conftest_app.py): github:5 is a failed production deployment of checkout-api (restored in 120 min)
that shipped PR 103 and is blamed for incident Q1; github:4 shipped PR 102 and commit ccc…; github:8 is a
staging deployment with nothing of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_app import build_fixture_warehouse
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
PAGE = "app_pages/deployments.py"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def _page(query: dict | None = None) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=60)
    app_test.query_params = dict(query or {})
    app_test.run()
    app_test.switch_page(PAGE).run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    return app_test


def _metrics(app_test: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app_test.metric}


def test_search_narrows_the_list(warehouse: Path) -> None:
    app_test = _page()
    app_test.text_input(key="deployments_search").set_value("STAGING").run()
    assert list(app_test.dataframe[0].value["deployment_id"]) == ["github:8"]
    app_test.text_input(key="deployments_search").set_value("no such thing").run()
    assert app_test.dataframe.len == 0
    assert any("No deployments match" in item.value for item in app_test.info)


def test_card_of_a_failed_deployment_shows_its_change_and_incident(warehouse: Path) -> None:
    app_test = _page()
    app_test.selectbox(key="deployments_card").set_value("github:5").run()
    assert not app_test.exception
    assert app_test.query_params["deployment"] == "github:5"
    assert _metrics(app_test) == {
        "Status": "success",
        "Changes": "1",
        "Commits": "2",
        "Time to restore": "2.0 h",
        # The fixture's batch and deployer columns: one PR of 40 lines by one author, shipped by a bot.
        "Batch size": "Small · 40 lines",
        "PRs / authors": "1 / 1",
        "Deployed by": "deploy-bot (automation)",
        "Pipeline": "5 min",
        # Detected by incident Q1 half an hour after deploying, recovered when it resolved.
        "Time to detect": "30 min",
        "Recovery": "incident resolved",
    }
    tables = [frame.value for frame in app_test.dataframe]
    changes, commits, incidents = tables[1], tables[2], tables[3]
    assert list(changes["pr_number"]) == [103]
    assert list(changes["lead_time_minutes"]) == [180]
    assert commits.empty  # the fixture has no commit rows for github:5
    assert list(incidents["incident_id"]) == ["pagerduty:Q1"]
    assert any("failed by: incident" in item.value for item in app_test.markdown)


def test_a_card_is_a_link(warehouse: Path) -> None:
    app_test = _page({"deployment": "github:4"})
    assert app_test.session_state["deployments_card"] == "github:4"
    metrics = _metrics(app_test)
    assert metrics["Change failure"] == "no"
    assert "Time to detect" not in metrics and "Recovery" not in metrics  # it did not fail
    commits = app_test.dataframe[2].value
    assert list(commits["commit_sha"]) == ["c" * 40]


@pytest.mark.parametrize("hostile", ["' or 1=1 --", "github:5'; drop table marts.fct_deployments; --", "%"])
def test_a_linked_card_that_does_not_exist_explains_itself(warehouse: Path, hostile: str) -> None:
    app_test = _page({"deployment": hostile})
    assert any("No deployment" in item.value for item in app_test.info)
    assert len(queries.run_query(warehouse, "select * from marts.fct_deployments")) == 11
