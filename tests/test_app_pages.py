"""The Teams, Services, Lead time, Failures & recovery and Where is my change pages, driven with AppTest
against the fixture warehouse (tests/conftest_app.py). Expected values are worked out by hand from the
fixture rows (default period 2026-03-07 .. 2026-05-29, twelve weeks; previous period 2025-12-13 ..
2026-03-06).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest_app import build_fixture_warehouse
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
PAGES = ["teams", "services", "lead_time", "failures", "where_is_my_change", "environments"]


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def _open(page: str, query: dict | None = None) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=60)
    app_test.query_params = dict(query or {})
    app_test.run()
    app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    return app_test


# AppTest does not expose a dataframe's key: each table is told apart by a column only it has (the open
# failures repeat the failed deployments' columns and come second).
TABLES = {
    "teams_table": ("Frequency rank", 0),
    "services_table": ("Team view", 0),
    "service_environments": ("source_environments", 0),
    "lead_time_table": ("p90 (h)", 0),
    "slowest_changes": ("Lead time (h)", 0),
    "failed_deployments": ("Failed by", 0),
    "failures_by_signal": ("Signal", 0),
    "open_failures": ("Failed by", 1),
    "open_incidents": ("urgency", 0),
    "change_reach": ("Matched by", 0),
    "waiting_changes": ("merged_at", 0),
    "drift_table": ("Oldest waiting (h)", 0),
    "promotions_table": ("Promoted deployment", 0),
    "waiting_commits": ("Reached upstream at (UTC)", 0),
    "waiting_promotion": ("Waits for", 0),
}


def _table(app_test: AppTest, name: str):
    column, position = TABLES[name]
    matches = [frame.value for frame in app_test.dataframe if column in frame.value.columns]
    assert len(matches) > position, f"no table {name} on the page"
    return matches[position]


def test_teams_side_by_side_with_ranks_percentiles_and_changes(warehouse: Path) -> None:
    app_test = _open("teams")
    assert app_test.title[0].value == "Teams"
    table = _table(app_test, "teams_table")
    assert list(table["Team"]) == ["payments", "search"]
    assert list(table["Deployments"]) == [4, 2]
    assert list(table["Per week"]) == pytest.approx([4 / 12, 2 / 12])
    assert list(table["Lead time median (h)"]) == pytest.approx([3.0, 24.0])
    assert list(table["Change failure rate (%)"]) == pytest.approx([25.0, 50.0])
    assert list(table["Time to restore median (h)"]) == pytest.approx([2.0, 1.0])
    assert list(table["Frequency rank"]) == [1, 2]
    assert list(table["Lead time rank"]) == [1, 2]
    assert list(table["Failure rate rank"]) == [1, 2]
    assert list(table["Restore rank"]) == [2, 1]  # search restored faster
    assert list(table["Frequency percentile"]) == pytest.approx([100.0, 50.0])
    # Batch, pipeline, review and rework: payments' github:6 is rework (1 of 4), search has none; PR 103 was
    # not reviewed by another person and PR 104 was deployed by its author (payments' 3 changes), search's
    # one change was reviewed and deployed by someone else; every deployment is 40 lines, 5 pipeline minutes.
    assert list(table["Rework rate (%)"]) == pytest.approx([25.0, 0.0])
    assert list(table["Review compliance (%)"]) == pytest.approx([200 / 3, 100.0])
    assert list(table["Deployed by author (%)"]) == pytest.approx([100 / 3, 0.0])
    assert list(table["Batch size median (lines)"]) == pytest.approx([40.0, 40.0])
    assert list(table["Pipeline median (min)"]) == pytest.approx([5.0, 5.0])
    assert list(table["Restore percentile"]) == pytest.approx([50.0, 100.0])
    # Against the previous twelve weeks: payments deployed twice (2 / 12 a week), one change of 10 h;
    # search did not deploy then, so it has no change to show.
    assert table["Per week change"].iloc[0] == pytest.approx(4 / 12 - 2 / 12)
    assert table["Lead time change (h)"].iloc[0] == pytest.approx(3.0 - 10.0)
    assert table["Per week change"].isna().iloc[1]
    # Drill-down: the Teams view on one team, same period.
    assert table["Open"].iloc[0] == "teams?from=2026-03-07&to=2026-05-29&team=payments"
    # Weighted by deployments (4 and 2): (4/12*4 + 2/12*2)/6, (180*4 + 1440*2)/6 min, (0.25*4 + 0.5*2)/6,
    # (120*4 + 60*2)/6 min.
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics == {
        "Deployment frequency": "0.3 / week",
        "Lead time": "10.0 h",
        "Change failure rate": "33.3 %",
        "Time to restore": "1.7 h",
    }
    assert len(app_test.get("vega_lite_chart")) == 4
    assert _downloads(app_test) == ["teams_table_csv"]


def test_a_team_link_opens_the_teams_view_on_that_team(warehouse: Path) -> None:
    app_test = _open("teams", {"from": "2026-03-07", "to": "2026-05-29", "team": "search"})
    assert list(_table(app_test, "teams_table")["Team"]) == ["search"]


def test_an_explicit_compare_to_period_drives_the_deltas(warehouse: Path) -> None:
    # 2026-02-01 .. 2026-02-07: one week with payments' deployment of 02-02, so one deployment a week.
    query = {"vs_from": "2026-02-01", "vs_to": "2026-02-07"}
    app_test = _open("teams", query)
    assert app_test.session_state["filter_compare_mode"] == "Another period"
    table = _table(app_test, "teams_table")
    assert table["Per week change"].iloc[0] == pytest.approx(4 / 12 - 1.0)
    assert "compared with 2026-02-01 – 2026-02-07" in app_test.caption[0].value
    assert app_test.query_params["vs_from"] == "2026-02-01"
    # The Overview's headline compares with the same period: org 6 / 12 a week against 1 a week.
    app_test.switch_page("app_pages/overview.py").run()
    assert not app_test.exception
    frequency = next(metric for metric in app_test.metric if metric.label == "Deploys / week")
    assert frequency.delta == "-0.5"


def test_choosing_another_compare_to_period_in_the_sidebar(warehouse: Path) -> None:
    app_test = _open("teams")
    app_test.sidebar.radio(key="filter_compare_mode").set_value("Another period").run()
    assert not app_test.exception
    # It starts as the previous period, then follows the date picker and the URL.
    picker = app_test.sidebar.date_input(key="filter_compare_dates")
    assert picker.value == (dt.date(2025, 12, 13), dt.date(2026, 3, 6))
    picker.set_value((dt.date(2026, 2, 1), dt.date(2026, 2, 7))).run()
    assert not app_test.exception
    assert _table(app_test, "teams_table")["Per week change"].iloc[0] == pytest.approx(4 / 12 - 1.0)
    assert app_test.query_params["vs_from"] in ("2026-02-01", ["2026-02-01"])
    assert app_test.query_params["vs_to"] in ("2026-02-07", ["2026-02-07"])
    app_test.sidebar.radio(key="filter_compare_mode").set_value("Previous period").run()
    assert "vs_from" not in app_test.query_params
    assert table_change(app_test) == pytest.approx(4 / 12 - 2 / 12)


def table_change(app_test: AppTest) -> float:
    return _table(app_test, "teams_table")["Per week change"].iloc[0]


def test_services_show_their_figures_environments_and_filters(warehouse: Path) -> None:
    app_test = _open("services")
    table = _table(app_test, "services_table")
    assert list(table["Service"]) == ["checkout-api", "search-api"]
    assert list(table["Deployments"]) == [4, 2]
    assert list(table["Failed"]) == [1, 1]
    assert list(table["Change failure rate (%)"]) == pytest.approx([25.0, 50.0])
    assert list(table["Time to restore median (h)"]) == pytest.approx([2.0, 1.0])
    assert list(table["Lead time median (h)"]) == pytest.approx([3.0, 24.0])
    assert list(table["Environments"]) == ["production, staging", "production"]
    assert list(table["Rework rate (%)"]) == pytest.approx([25.0, 0.0])  # github:6 of checkout-api's 4
    assert list(table["Review compliance (%)"]) == pytest.approx([200 / 3, 100.0])
    environments = _table(app_test, "service_environments")
    assert list(zip(environments["service"], environments["environment"], strict=True)) == [
        ("checkout-api", "staging"),
        ("checkout-api", "production"),
        ("search-api", "production"),
    ]
    app_test.sidebar.multiselect(key="filter_services").set_value(["search-api"]).run()
    assert list(_table(app_test, "services_table")["Service"]) == ["search-api"]
    assert (
        app_test.query_params["service"] == ["search-api"] or app_test.query_params["service"] == "search-api"
    )
    app_test.sidebar.multiselect(key="filter_services").set_value([]).run()
    app_test.sidebar.multiselect(key="filter_environments").set_value(["staging"]).run()
    assert list(_table(app_test, "service_environments")["environment"]) == ["staging"]


def test_lead_time_distribution_phases_and_slowest_changes(warehouse: Path) -> None:
    app_test = _open("lead_time")
    table = _table(app_test, "lead_time_table")
    assert list(table["Team"]) == ["payments", "search"]
    assert list(table["Changes"]) == [3, 1]
    # payments: 60, 180, 300 minutes -> median 180, p75 240, p90 276 (linear interpolation).
    assert list(table["Median (h)"]) == pytest.approx([3.0, 24.0])
    assert list(table["p75 (h)"]) == pytest.approx([4.0, 24.0])
    assert list(table["p90 (h)"]) == pytest.approx([4.6, 24.0])
    slowest = _table(app_test, "slowest_changes")
    assert list(slowest["Change"]) == [
        "acme/search-api#105",
        "acme/checkout-api#104",
        "acme/checkout-api#103",
        "acme/checkout-api#102",
    ]
    assert slowest["Deployment"].iloc[0] == "deployments?deployment=github%3A10"
    # The fixture's changes carry no phases: the weekly breakdown says why it is empty.
    assert any("all four phases" in item.value for item in app_test.info)


def test_failures_list_failed_deployments_with_their_incidents(warehouse: Path) -> None:
    app_test = _open("failures")
    failed = _table(app_test, "failed_deployments")
    assert list(failed["Deployment"]) == [
        "deployments?deployment=github%3A5",
        "deployments?deployment=github%3A11",
    ]
    assert list(failed["Incidents"]) == [1, 1]
    assert list(failed["Failed by"]) == ["incident", "incident"]
    assert failed["Incident titles"].iloc[0] == "pagerduty:Q1 checkout errors"
    assert list(failed["Time to restore (h)"]) == pytest.approx([2.0, 1.0])
    # Detected by their incidents, 30 and 20 minutes after deploying; recovered by their resolution.
    assert list(failed["Time to detect (h)"]) == pytest.approx([0.5, 20 / 60])
    assert list(failed["Recovery"]) == ["incident resolved", "incident resolved"]
    # By signal: both failures are incident failures, 2 of 6 production deployments.
    by_signal = _table(app_test, "failures_by_signal")
    assert list(by_signal["Signal"]) == ["incident", "rollback", "revert", "hotfix", "alert", "any signal"]
    assert list(by_signal["Failed deployments"]) == [2, 0, 0, 0, 0, 2]
    assert list(by_signal["Change failure rate (%)"]) == pytest.approx([100 / 3, 0, 0, 0, 0, 100 / 3])
    assert by_signal["Time to restore median (h)"].iloc[0] == pytest.approx(1.5)
    assert by_signal["Time to detect median (h)"].iloc[0] == pytest.approx(25 / 60)
    assert by_signal["Time to detect median (h)"].iloc[1:5].isna().all()
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics["Change failure rate"] == "33.3 %"
    assert metrics["Open failures"] == "0"
    assert metrics["Rework rate"] == "16.7 %"  # github:6 shipped a hotfix
    # Without the weekly rollup the rework and detection charts are left out.
    assert len(app_test.get("vega_lite_chart")) == 2
    assert any("Nothing open" in item.value for item in app_test.success)


def test_open_failures_show_what_has_not_recovered(warehouse: Path) -> None:
    import duckdb

    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute(
            "update marts.fct_incidents set resolved_at = null where incident_id = 'pagerduty:Q1'"
        )
        connection.execute(
            "update marts.fct_deployments set recovered_at = null, time_to_restore_minutes = null, "
            "recovery_kind = null, is_recovered = false where deployment_id = 'github:5'"
        )
    finally:
        connection.close()
    app_test = _open("failures")
    assert list(_table(app_test, "open_incidents")["incident_id"]) == ["pagerduty:Q1"]
    assert list(_table(app_test, "open_failures")["Deployment"]) == ["deployments?deployment=github%3A5"]
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics["Open failures"] == "1"


def test_where_is_my_change_finds_a_change_and_where_it_went(warehouse: Path) -> None:
    app_test = _open("where_is_my_change", {"q": "#105"})
    reach = _table(app_test, "change_reach")
    assert list(reach["Environment"]) == ["production"]
    assert str(reach["Reached at (UTC)"].iloc[0]) == "2026-04-01 10:00:00"
    assert reach["Deployment"].iloc[0] == "deployments?deployment=github%3A10"
    # By commit SHA prefix: the fixture's only commit belongs to #102, shipped to production by github:4.
    app_test.text_input(key="change_search").set_value("cccccccc").run()
    assert not app_test.exception
    assert app_test.selectbox(key="change_pick").value == "acme/checkout-api#102"
    # checkout-api also deploys to staging: github:8 (05-20) came after the change, which has no merge time
    # in the fixture, so staging is not matched.
    assert list(_table(app_test, "change_reach")["Environment"]) == ["staging", "production"]
    app_test.text_input(key="change_search").set_value("no such change").run()
    assert any("No change matches" in item.value for item in app_test.info)


def test_waiting_changes_are_listed(warehouse: Path) -> None:
    import duckdb

    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute(
            "update marts.fct_changes set deployment_id = null, deployed_at = null, "
            "lead_time_minutes = null, merged_at = timestamp '2026-05-28 09:00' where pr_number = 104"
        )
    finally:
        connection.close()
    app_test = _open("where_is_my_change", {"q": "104"})
    assert list(_table(app_test, "waiting_changes")["change_id"]) == ["acme/checkout-api#104"]
    reach = _table(app_test, "change_reach")
    # staging got github:8 (05-20) before the merge; production has not shipped it.
    assert reach["Matched by"].tolist() == ["not reached yet", "not reached yet"]
    assert any("waits to be promoted" in item.value for item in app_test.warning)


def test_environments_show_drift_promotions_and_the_waiting_commits(warehouse: Path) -> None:
    app_test = _open("environments")
    drift = _table(app_test, "drift_table")
    # search-api deploys to production only: no pair, no row.
    assert drift["Service"].tolist() == ["checkout-api"]
    assert drift["Commits waiting"].tolist() == [1]
    assert str(drift["Oldest waiting since (UTC)"].iloc[0]) == "2026-05-20 10:00:00"
    assert drift["Oldest waiting (h)"].tolist() == [230.0]
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics["Commits waiting"] == "1"
    assert metrics["Promotion lag median"] == "216.0 h"
    promoted = _table(app_test, "promotions_table")
    assert promoted["Promotion lag (h)"].tolist() == [216.0]
    assert promoted["Promoted deployment"].tolist() == ["deployments?deployment=github%3A8"]
    waiting = _table(app_test, "waiting_commits")
    assert waiting["Commit"].tolist() == ["d" * 12]
    assert waiting["Pull request"].tolist() == [104]
    assert app_test.query_params["drift_service"] == "checkout-api"
    # Earlier, at the end of 05-28, both commits waited.
    app_test = _open("environments", {"from": "2026-03-07", "to": "2026-05-28"})
    assert _table(app_test, "drift_table")["Commits waiting"].tolist() == [2]
    assert sorted(_table(app_test, "waiting_commits")["Commit"]) == ["d" * 12, "e" * 12]


def test_where_is_my_change_says_what_waits_to_be_promoted(warehouse: Path) -> None:
    app_test = _open("where_is_my_change", {"q": "#104"})
    waiting = _table(app_test, "waiting_promotion")
    assert waiting["Change"].tolist() == ["acme/checkout-api#104"]
    assert (waiting["Reached"].iloc[0], waiting["Waits for"].iloc[0]) == ("staging", "production")
    assert str(waiting["Waiting since (UTC)"].iloc[0]) == "2026-05-20 10:00:00"
    # #105 (search-api, production only) waits nowhere.
    app_test.text_input(key="change_search").set_value("#105").run()
    assert not any("Waits for" in frame.value.columns for frame in app_test.dataframe)
    assert any("None of the matching changes waits" in item.value for item in app_test.caption)


def _downloads(app_test: AppTest) -> list[str]:
    """The CSV buttons' keys, read from their element ids."""
    return [button.proto.id.rsplit("-", 1)[-1] for button in app_test.get("download_button")]


@pytest.mark.parametrize("page", PAGES)
def test_every_table_downloads_as_csv(warehouse: Path, page: str) -> None:
    app_test = _open(page, {"q": "105"})
    assert app_test.dataframe.len > 0
    assert len(_downloads(app_test)) == app_test.dataframe.len


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_selection_explains_itself(warehouse: Path, page: str) -> None:
    app_test = _open(page, {"from": "2024-01-01", "to": "2024-02-01", "team": "platform"})
    assert app_test.error.len == 0
    assert app_test.info.len + app_test.success.len > 0


HOSTILE = {
    "from": "2026-03-07'; drop table marts.fct_deployments; --",
    "vs_from": "1=1",
    "vs_to": "x" * 5000,
    "service": ["' or 1=1 --", "checkout-api\x00"],
    "env": ["%", "*"],
    "team": ["é" * 300],
    "q": "' or 1=1; drop table marts.fct_changes; --" + "y" * 5000,
    "department": ["' or 1=1 --"],
    "language": ["python'); drop table marts.dim_services; --"],
    "label": ["%"],
    "year": ["2023; drop table marts.dora_levels"],
}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_links_are_harmless_on_every_page(warehouse: Path, page: str) -> None:
    app_test = _open(page, HOSTILE)
    assert app_test.session_state["filter_services"] == []
    assert app_test.session_state["filter_environments"] == []
    assert app_test.session_state["filter_teams"] == []
    assert app_test.session_state["filter_compare_mode"] == "Previous period"
    for key in ("filter_departments", "filter_languages", "filter_labels"):
        assert app_test.session_state[key] == []
    assert app_test.error.len == 0
    for table in ("fct_deployments", "fct_changes", "dim_services"):
        assert not queries.run_query(warehouse, f"select count(*) as n from marts.{table}").empty


def test_department_language_and_label_slice_lead_time_and_failures(warehouse: Path) -> None:
    # discovery is search's department: only search-api's failed deployment (github:11) is left.
    app_test = _open("failures", {"department": "discovery"})
    failed = _table(app_test, "failed_deployments")
    assert list(failed["Deployment"]) == ["deployments?deployment=github%3A11"]
    by_signal = _table(app_test, "failures_by_signal").set_index("Signal")
    assert by_signal.loc["any signal", "Failed deployments"] == 1
    assert by_signal.loc["any signal", "Change failure rate (%)"] == pytest.approx(50.0)  # 1 of 2
    # python is checkout-api's language: payments' three changes only.
    app_test = _open("lead_time", {"language": "python"})
    table = _table(app_test, "lead_time_table")
    assert list(table["Team"]) == ["payments"]
    assert list(table["Changes"]) == [3]
    # critical labels checkout-api only; discovery has no python service: nothing left, said so.
    app_test = _open("failures", {"label": "critical"})
    assert list(_table(app_test, "failed_deployments")["Service"]) == ["checkout-api"]
    for page in ("failures", "lead_time"):
        app_test = _open(page, {"department": "discovery", "language": "python"})
        assert any("No service matches" in item.value for item in app_test.info)
        assert app_test.error.len == 0
