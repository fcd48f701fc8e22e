"""A view is a link: the shared filters are read from and written to the URL's query parameters.

Values in a URL are untrusted: whatever a link carries, the app renders without an exception and passes on
only dates that parse and teams the warehouse knows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest_app import build_fixture_warehouse
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def _open(query: dict) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=60)
    app_test.query_params = dict(query)
    app_test.run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    return app_test


def test_a_link_sets_the_period_and_teams(warehouse: Path) -> None:
    first_day = queries.data_bounds(warehouse).first_day
    start, end = first_day, first_day + dt.timedelta(days=20)
    app_test = _open({"from": start.isoformat(), "to": end.isoformat(), "team": ["search"]})
    assert app_test.session_state["filter_dates"] == (start, end)
    assert app_test.session_state["filter_teams"] == ["search"]
    assert list(app_test.dataframe[0].value["Team"]) == ["search"]


def test_the_selection_is_written_back_to_the_url(warehouse: Path) -> None:
    app_test = _open({})
    start, end = app_test.session_state["filter_dates"]
    assert app_test.query_params["from"] == start.isoformat()
    assert app_test.query_params["to"] == end.isoformat()
    assert "team" not in app_test.query_params  # all teams: no team parameter

    app_test.sidebar.multiselect[0].set_value(["search", "payments"]).run()
    assert sorted(app_test.query_params["team"]) == ["payments", "search"]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-13-45", "to": "yesterday"},
        {"from": "2026-10-01", "to": "2026-09-01"},  # reversed
        {"from": "x" * 5000, "team": ["' or 1=1 --", "payments'; drop table marts.fct_deployments; --"]},
        {"team": ["%", "*", "\x00", "é" * 300]},
    ],
)
def test_hostile_or_broken_links_are_harmless(warehouse: Path, query: dict) -> None:
    defaults = _open({}).session_state["filter_dates"]
    app_test = _open(query)
    assert app_test.session_state["filter_dates"] == defaults
    assert app_test.session_state["filter_teams"] == []
    assert list(app_test.dataframe[0].value["Team"]) == ["payments", "search"]
    # the warehouse is untouched: its table still answers
    assert not queries.run_query(warehouse, "select count(*) as n from marts.fct_deployments").empty
