"""The Outliers & suggestions page, the Overview's "teams that moved most" and the department, language and
label filters.

On the hand-written fixture warehouse (tests/conftest_app.py) the filters are checked against its rows and the
page explains that the outlier marts are missing. On the tiny simulated org's real warehouse every figure the
page shows is compared with the marts, read here with plain SQL, and the marts' trailing baselines are
recomputed from fct_changes in pandas and checked against marts.dora_summary.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pandas as pd
import pytest
from conftest_app import build_fixture_warehouse, tiny_warehouse  # noqa: F401 - module fixture
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def _open(page: str | None, query: dict | None = None) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.query_params = dict(query or {})
    app_test.run()
    if page:
        app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    return app_test


def _table(app_test: AppTest, column: str, position: int = 0) -> pd.DataFrame:
    matches = [frame.value for frame in app_test.dataframe if column in frame.value.columns]
    assert len(matches) > position, f"no table with column {column!r}"
    return matches[position]


def _sql(path: Path, sql: str, *params: object) -> pd.DataFrame:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql, list(params)).df()
    finally:
        connection.close()


# ------------------------------------------------------------------------------- the fixture warehouse


@pytest.fixture
def fixture_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = build_fixture_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(path))
    return path


def test_the_sidebar_offers_departments_languages_and_labels(fixture_warehouse: Path) -> None:
    app_test = _open(None)
    assert app_test.sidebar.multiselect(key="filter_departments").options == ["commerce", "discovery"]
    assert app_test.sidebar.multiselect(key="filter_languages").options == ["go", "python"]
    assert app_test.sidebar.multiselect(key="filter_labels").options == ["api", "critical"]


def test_a_department_link_narrows_the_teams_page(fixture_warehouse: Path) -> None:
    app_test = _open("teams", {"department": "discovery"})
    assert list(_table(app_test, "Frequency rank")["Team"]) == ["search"]
    assert app_test.query_params["department"] in ("discovery", ["discovery"])
    assert "departments discovery" in app_test.caption[0].value
    # Picking in the sidebar writes the URL and follows it.
    app_test.sidebar.multiselect(key="filter_departments").set_value(["commerce"]).run()
    assert list(_table(app_test, "Frequency rank")["Team"]) == ["payments"]
    assert app_test.query_params["department"] in ("commerce", ["commerce"])


def test_language_and_label_narrow_the_services_page(fixture_warehouse: Path) -> None:
    assert list(_table(_open("services", {"language": "go"}), "Team view")["Service"]) == ["search-api"]
    assert list(_table(_open("services", {"label": "critical"}), "Team view")["Service"]) == ["checkout-api"]
    # Both labels: services carrying either.
    both = _open("services", {"label": ["api", "critical"]})
    assert list(_table(both, "Team view")["Service"]) == ["checkout-api", "search-api"]
    # Filters combine: python services of the discovery department are none.
    nothing = _open("services", {"language": "python", "department": "discovery"})
    assert nothing.dataframe.len == 0
    assert any("No service matches" in item.value for item in nothing.info)
    # On the Teams page a language keeps the teams owning such a service.
    assert list(_table(_open("teams", {"language": "python"}), "Frequency rank")["Team"]) == ["payments"]


HOSTILE = {
    "department": ["' or 1=1 --", "commerce'; drop table marts.dim_teams; --"],
    "language": ["%", "python\x00"],
    "label": ["x" * 5000, "*"],
    "team": ["é" * 300],
}


@pytest.mark.parametrize("page", ["teams", "outliers"])
def test_hostile_dimension_links_are_harmless(fixture_warehouse: Path, page: str) -> None:
    app_test = _open(page, HOSTILE)
    for key in ("filter_departments", "filter_languages", "filter_labels", "filter_teams"):
        assert app_test.session_state[key] == [], key
    for name in ("department", "language", "label"):
        assert name not in app_test.query_params, name
    for table in ("dim_teams", "dim_services"):
        assert int(_sql(fixture_warehouse, f"select count(*) as n from marts.{table}")["n"].iloc[0]) > 0


def test_the_outliers_page_explains_a_warehouse_without_its_marts(fixture_warehouse: Path) -> None:
    app_test = _open("outliers")
    assert app_test.title[0].value == "Outliers & suggestions"
    assert any("no outlier or suggestion marts yet" in item.value for item in app_test.info)


# ----------------------------------------------------------------------------- the tiny org's warehouse


@pytest.fixture
def warehouse(tiny_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_warehouse))
    return tiny_warehouse


def _period(path: Path) -> tuple[dt.date, dt.date]:
    """The app's default period: twelve weeks ending on the last deployment day (or from the first)."""
    bounds = _sql(
        path,
        "select min(deployed_at)::date as first, max(deployed_at)::date as last from marts.fct_deployments",
    ).iloc[0]
    first, last = pd.Timestamp(bounds["first"]).date(), pd.Timestamp(bounds["last"]).date()
    return max(first, last - dt.timedelta(days=83)), last


def test_suggestions_and_flagged_changes_and_deployments_are_the_marts(warehouse: Path) -> None:
    start, end = _period(warehouse)
    app_test = _open("outliers")
    _assert_suggestions_are_the_marts(app_test, warehouse)
    _assert_weekly_normals_are_the_marts(app_test, warehouse, end)
    for grouping in ("team", "service"):
        if grouping == "service":
            app_test.radio(key="outliers_grouping").set_value("service").run()
            assert not app_test.exception
        shown = _table(app_test, "Changes in baseline").set_index("Change")
        expected = _sql(
            warehouse,
            """
            select change_id, robust_z, lead_time_minutes / 60 as hours from marts.fct_change_outliers
            where is_outlier and baseline_grouping = ? and deployed_at::date between ? and ?
            """,
            grouping,
            start,
            end,
        ).set_index("change_id")
        assert len(expected) > 0, "the tiny org has outlier changes"
        assert sorted(shown.index) == sorted(expected.index)
        assert shown["Robust z"].to_numpy() == pytest.approx(
            expected["robust_z"].reindex(shown.index).to_numpy(), nan_ok=True
        )
        assert shown["Lead time (h)"].to_numpy() == pytest.approx(
            expected["hours"].reindex(shown.index).to_numpy()
        )
        deployments = _table(app_test, "Deployments in baseline")
        ids = [parse_qs(urlsplit(link).query)["deployment"][0] for link in deployments["Deployment"]]
        expected_deployments = _sql(
            warehouse,
            """
            select deployment_id from marts.fct_deployment_outliers
            where is_outlier and baseline_grouping = ? and deployed_at::date between ? and ?
            """,
            grouping,
            start,
            end,
        )["deployment_id"]
        assert sorted(ids) == sorted(expected_deployments)
    # The drill-down shows the picked change's phases from fct_changes.
    picked = app_test.selectbox(key="outliers_change_pick").value
    lead = _sql(warehouse, "select lead_time_minutes from marts.fct_changes where change_id = ?", picked)
    shown_lead = next(metric.value for metric in app_test.metric if metric.label == "Lead time")
    minutes = float(lead["lead_time_minutes"].iloc[0])
    assert shown_lead in (f"{minutes / 60:.1f} h", f"{minutes / 1440:.1f} d", f"{minutes:.0f} min")


def _assert_suggestions_are_the_marts(app_test: AppTest, warehouse: Path) -> None:
    shown = _table(app_test, "Next milestone").set_index("Team")
    # The default period ends on the last loaded day: each team's latest month (none is complete in the tiny
    # org, whose data starts in the middle of a month).
    expected = _sql(
        warehouse,
        """
        select team, phase, next_milestone, array_to_string(missed_criteria, '; ') as missing, advice,
            pipeline_duration_criterion,
        from marts.team_suggestions where is_latest_period order by team
        """,
    ).set_index("team")
    assert shown.index.tolist() == expected.index.tolist()
    for column, mart_column in (
        ("Phase", "phase"),
        ("Next milestone", "next_milestone"),
        ("Missing", "missing"),
        ("Advice", "advice"),
    ):
        assert shown[column].tolist() == expected[mart_column].tolist(), column
    # Pipeline durations are measured (fct_deployments.pipeline_duration_minutes): the mart's verdict shows.
    assert shown["Pipeline ≤ 2 h"].tolist() == expected["pipeline_duration_criterion"].tolist()
    assert "not measured" not in set(shown["Pipeline ≤ 2 h"])


def test_suggestion_figures_agree_with_dora_summary(warehouse: Path) -> None:
    """team_suggestions reads the rollups; marts.dora_summary computes the same month from the facts."""
    rows = _sql(warehouse, "select * from marts.team_suggestions order by team, period_start")
    assert len(rows) > 0
    for row in rows.itertuples():
        summary = _sql(
            warehouse,
            "select * from marts.dora_summary(?::date, ?::date, [?])",
            row.period_start,
            row.period_end,
            row.team,
        ).set_index("team")
        team = summary.loc[row.team]
        for column in ("deploy_days_per_week_median", "lead_time_median_minutes", "change_failure_rate"):
            assert getattr(row, column) == pytest.approx(team[column], nan_ok=True), (row.team, column)


def test_trailing_baselines_recomputed_from_the_changes(warehouse: Path) -> None:
    """Each change's team baseline: the team's lead times deployed in the 90 days strictly before it."""
    changes = _sql(
        warehouse,
        "select change_id, team, deployed_at, lead_time_minutes from marts.fct_changes "
        "where lead_time_minutes is not null and team is not null",
    )
    marts = _sql(
        warehouse,
        "select * from marts.fct_change_outliers where baseline_grouping = 'team'",
    ).set_index("change_id")
    assert sorted(marts.index) == sorted(changes["change_id"])
    judged = 0
    for change in changes.itertuples():
        earlier = changes[
            (changes["team"] == change.team)
            & (changes["deployed_at"] < change.deployed_at)
            & (changes["deployed_at"] >= change.deployed_at - pd.Timedelta(days=90))
        ]["lead_time_minutes"]
        row = marts.loc[change.change_id]
        assert row["baseline_count"] == len(earlier), change.change_id
        if len(earlier) < 10:
            assert pd.isna(row["robust_z"]) and not row["is_outlier"]
            continue
        median = earlier.median()
        mad = (earlier - median).abs().median()
        assert row["baseline_median_minutes"] == pytest.approx(median)
        assert row["baseline_mad_minutes"] == pytest.approx(mad)
        if mad > 0:
            z = 0.6745 * (change.lead_time_minutes - median) / mad
            assert row["robust_z"] == pytest.approx(z)
            assert bool(row["is_outlier"]) == (abs(z) > 3)
            judged += 1
    assert judged > 20, "enough changes had a baseline to check"


def test_teams_that_moved_are_the_monthly_rollup(warehouse: Path) -> None:
    app_test = _open(None)
    shown = _table(app_test, "Month before")
    latest = _sql(
        warehouse, "select max(period_start) as month from marts.dora_rollup_monthly where grouping = 'team'"
    )["month"].iloc[0]
    expected = _sql(
        warehouse,
        """
        select group_value as team, deployments_per_week as value, previous_deployments_per_week as previous
        from marts.dora_rollup_monthly
        where grouping = 'team' and period_start = ? and previous_deployments_per_week is not null
        """,
        latest,
    ).set_index("team")
    frequency = shown[shown["Metric"] == "Deployments / week"].set_index("Team")
    assert len(frequency) > 0
    for team, row in frequency.iterrows():
        assert row["This month"] == pytest.approx(expected.loc[team, "value"])
        assert row["Month before"] == pytest.approx(expected.loc[team, "previous"])
    # Biggest relative moves first.
    changes = shown["Change (%)"].abs().dropna().tolist()
    assert changes == sorted(changes, reverse=True)


def test_dimension_filters_on_the_real_warehouse(warehouse: Path) -> None:
    department = _sql(
        warehouse, "select min(department) as d from marts.dim_teams where department is not null"
    )["d"].iloc[0]
    teams = _sql(warehouse, "select team from marts.dim_teams where department = ? order by team", department)
    shown = _table(_open("teams", {"department": department}), "Frequency rank")
    assert shown["Team"].tolist() == teams["team"].tolist()
    services = _sql(
        warehouse,
        "select service from marts.dim_services where list_contains(labels, 'critical') order by service",
    )
    shown = _table(_open("services", {"label": "critical"}), "Team view")
    assert shown["Service"].tolist() == services["service"].tolist()
    go = _sql(warehouse, "select service from marts.dim_services where language = 'go'")["service"]
    outliers = _open("outliers", {"language": "go"})
    flagged = _table(outliers, "Changes in baseline")
    assert set(flagged["Service"]) <= set(go)


def _assert_weekly_normals_are_the_marts(app_test: AppTest, warehouse: Path, end: dt.date) -> None:
    """Each team's latest complete week against its normal, as team_weekly_anomalies holds it."""
    shown = _table(app_test, "Anomaly")
    expected = _sql(
        warehouse,
        """
        select team, week_start, metric, value, baseline_median, is_anomaly
        from marts.team_weekly_anomalies
        where is_complete_period and week_start <= ?
        qualify week_start = max(week_start) over (partition by team)
        order by team, metric
        """,
        end,
    )
    assert len(expected) > 0
    assert shown["Team"].tolist() == expected["team"].tolist()
    assert shown["Anomaly"].tolist() == expected["is_anomaly"].tolist()
    frequency = shown["Metric"] == "Deployments / week"
    assert shown.loc[frequency, "This week"].tolist() == pytest.approx(
        expected.loc[expected["metric"] == "deployments_per_week", "value"].tolist()
    )
    lead = expected["metric"] == "lead_time_median_minutes"
    assert shown.loc[shown["Metric"] == "Lead time median (h)", "Normal"].to_numpy() == pytest.approx(
        (expected.loc[lead, "baseline_median"].astype("float64") / 60).to_numpy(), nan_ok=True
    )
