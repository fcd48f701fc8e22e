"""The Streamlit app, driven headless with AppTest against the fixture warehouse (see conftest_app.py).

Expected values are worked out by hand from the fixture rows, not read back from the app's queries.
The last test renders every page against the tiny simulated org's real published warehouse.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest_app import build_fixture_warehouse
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
TIMEOUT_SECONDS = 60


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def _run_app() -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=TIMEOUT_SECONDS)
    app_test.run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    return app_test


def _metrics(app_test: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in app_test.metric}


def _markdown(app_test: AppTest) -> list[str]:
    return [item.value for item in app_test.markdown]


def test_overview_shows_the_four_org_metrics_with_levels_and_deltas(warehouse: Path) -> None:
    app_test = _run_app()
    assert app_test.title[0].value == "Overview"
    assert _metrics(app_test) == {
        "Deploys / week": ("0.5", "+0.3"),
        "Lead time": ("4.0 h", "-6.0 h"),
        "Failure rate": ("33.3 %", "+33.3 pp"),
        # Nothing failed in the previous period, so there is nothing to compare with.
        "Time to restore": ("1.5 h", ""),
        # github:6 of the six production deployments shipped a hotfix; none in the previous period did.
        "Rework rate": ("16.7 %", "+16.7 pp"),
    }
    # Four badges: the 2023 bands have no level for the rework rate.
    badges = [text for text in _markdown(app_test) if "-badge[" in text]
    assert badges == [
        ":orange-badge[DORA 2023: Medium]",
        ":green-badge[DORA 2023: Elite]",
        ":red-badge[DORA 2023: Low]",
        ":blue-badge[DORA 2023: High]",
    ]


def test_default_period_is_the_last_twelve_weeks_of_data(warehouse: Path) -> None:
    app_test = _run_app()
    assert app_test.sidebar.date_input[0].value == (dt.date(2026, 3, 7), dt.date(2026, 5, 29))
    assert app_test.sidebar.multiselect[0].value == []
    assert app_test.sidebar.multiselect[0].options == ["payments", "platform", "search"]


def test_team_table_lists_each_team_and_follows_the_team_filter(warehouse: Path) -> None:
    app_test = _run_app()
    table = app_test.dataframe[0].value
    assert list(table["Team"]) == ["payments", "search"]
    assert list(table["Deployments"]) == [4, 2]
    assert list(table["Change failure rate (%)"]) == pytest.approx([25.0, 50.0])
    assert list(table["Lead time median (h)"]) == pytest.approx([3.0, 24.0])
    assert list(table["Time to restore median (h)"]) == pytest.approx([2.0, 1.0])
    assert list(table["Frequency level"]) == ["Medium", "Low"]

    app_test.sidebar.multiselect[0].set_value(["search"]).run()
    assert not app_test.exception
    table = app_test.dataframe[0].value
    assert list(table["Team"]) == ["search"]
    metrics = _metrics(app_test)
    assert metrics["Deploys / week"][0] == "0.2"
    assert metrics["Failure rate"][0] == "50.0 %"
    assert metrics["Lead time"][0] == "24.0 h"
    assert metrics["Time to restore"][0] == "1.0 h"
    assert app_test.subheader[-1].value == "Weekly trends by team"


def test_trend_charts_render_for_org_and_teams(warehouse: Path) -> None:
    app_test = _run_app()
    assert len(app_test.get("vega_lite_chart")) == 4
    assert "Weekly trends for the organisation" in [item.value for item in app_test.subheader]
    app_test.sidebar.multiselect[0].set_value(["payments", "search"]).run()
    assert not app_test.exception
    assert len(app_test.get("vega_lite_chart")) == 4


def test_period_without_deployments_shows_a_friendly_message(warehouse: Path) -> None:
    app_test = _run_app()
    app_test.sidebar.date_input[0].set_value((dt.date(2024, 1, 1), dt.date(2024, 3, 31))).run()
    assert not app_test.exception
    assert app_test.metric.len == 0
    messages = [item.value for item in app_test.info]
    assert any("No production deployments in this period" in text for text in messages)
    assert any("No weekly data" in text for text in messages)


def test_team_without_data_shows_a_friendly_message(warehouse: Path) -> None:
    app_test = _run_app()
    app_test.sidebar.multiselect[0].set_value(["platform"]).run()
    assert not app_test.exception
    assert any("No production deployments" in item.value for item in app_test.info)


def test_missing_warehouse_explains_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(missing))
    app_test = _run_app()
    assert str(missing) in app_test.warning[0].value
    help_text = " ".join(_markdown(app_test))
    assert "make demo" in help_text
    assert "deploylens refresh" in help_text
    assert app_test.metric.len == 0


def test_unreadable_warehouse_shows_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "warehouse.duckdb"
    broken.write_bytes(b"this is not a duckdb file" * 100)
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(broken))
    monkeypatch.setattr(queries, "OPEN_BACKOFF_SECONDS", 0.0)
    app_test = _run_app()
    assert "could not be read right now" in app_test.error[0].value


def test_deployments_page_lists_rows_and_filters(warehouse: Path) -> None:
    app_test = _run_app()
    app_test.switch_page("app_pages/deployments.py").run()
    assert not app_test.exception
    assert app_test.title[0].value == "Deployments"
    rows = app_test.dataframe[0].value
    # Every environment and status in the default period: ids 4-11.
    assert sorted(rows["deployment_id"]) == sorted(f"github:{number}" for number in range(4, 12))
    assert list(rows["deployed_at"]) == sorted(rows["deployed_at"], reverse=True)

    app_test.multiselect(key="deployments_environments").set_value(["staging"]).run()
    assert list(app_test.dataframe[0].value["deployment_id"]) == ["github:8"]

    app_test.multiselect(key="deployments_environments").set_value([]).run()
    app_test.multiselect(key="deployments_statuses").set_value(["failure"]).run()
    assert list(app_test.dataframe[0].value["deployment_id"]) == ["github:9"]

    app_test.sidebar.multiselect[0].set_value(["search"]).run()
    assert app_test.dataframe.len == 0
    assert any("No deployments match" in item.value for item in app_test.info)


def test_every_page_renders_against_a_real_warehouse(tiny_org, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny simulated org built through the whole stack (tests/conftest.py)."""
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_org.workdir.warehouse))
    app_test = _run_app()
    assert app_test.error.len == 0
    assert app_test.metric.len == 5  # the four keys and the rework rate
    app_test.switch_page("app_pages/deployments.py").run()
    assert not app_test.exception
    assert app_test.error.len == 0
    failed = app_test.dataframe[0].value.query("is_failure")
    app_test.selectbox(key="deployments_card").set_value(failed["deployment_id"].iloc[0]).run()
    assert not app_test.exception
    assert app_test.metric[0].label == "Status"
    app_test.switch_page("app_pages/data_health.py").run()
    assert not app_test.exception
    assert app_test.error.len == 0  # a healthy refresh: no stale source, no failed check
    assert app_test.metric[0].label == "Last publish (UTC)"


def test_no_delta_when_the_previous_period_has_no_deployments(warehouse: Path) -> None:
    """A period at the start of the data compares with nothing: no delta, not every deployment as a rise."""
    first_day = queries.data_bounds(warehouse).first_day
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=TIMEOUT_SECONDS)
    app_test.run()
    app_test.session_state["filter_dates"] = (first_day, first_day + dt.timedelta(days=13))
    app_test.run()
    assert not app_test.exception
    deployments = app_test.metric[0]
    assert deployments.label == "Deploys / week"
    assert deployments.value not in ("", "—", None)
    assert all(not metric.delta for metric in app_test.metric)


def test_a_warehouse_with_no_production_deployment_yet_explains_itself(warehouse: Path) -> None:
    """A new setup whose rules match staging only: not an error, and not 'widen the date range'."""
    import duckdb

    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute("update marts.fct_deployments set is_production = false")
    finally:
        connection.close()
    app_test = _run_app()
    assert app_test.metric.len == 0
    texts = [item.value for item in app_test.info]
    assert any("No successful production deployment has been loaded yet (11 deployments" in t for t in texts)
    assert not any("Widen the date range" in t for t in texts)
    for page in ("app_pages/deployments.py", "app_pages/data_health.py"):
        app_test.switch_page(page).run()
        assert not app_test.exception, page
