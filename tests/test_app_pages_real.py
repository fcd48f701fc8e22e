"""The new pages on the tiny simulated org's real published warehouse: every figure shown equals the mart it
comes from, recomputed here with plain SQL on the marts (not through app/queries.py), and every page renders
for the filter combinations that matter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pandas as pd
import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from streamlit.testing.v1 import AppTest

from app import queries

ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
PAGES = [
    "overview",
    "teams",
    "services",
    "deployments",
    "lead_time",
    "failures",
    "where_is_my_change",
    "environments",
]


@pytest.fixture
def warehouse(tiny_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_warehouse))
    return tiny_warehouse


def _sql(path: Path, sql: str, *params: object) -> pd.DataFrame:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql, list(params)).df()
    finally:
        connection.close()


def _period(path: Path) -> tuple[dt.date, dt.date]:
    """The app's default period, worked out independently: twelve weeks ending on the last deployment day,
    or from the first deployment day when the data is younger."""
    bounds = _sql(
        path,
        "select min(deployed_at)::date as first, max(deployed_at)::date as last from marts.fct_deployments",
    ).iloc[0]
    first, last = pd.Timestamp(bounds["first"]).date(), pd.Timestamp(bounds["last"]).date()
    return max(first, last - dt.timedelta(days=83)), last


def _open(page: str, query: dict | None = None) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.query_params = dict(query or {})
    app_test.run()
    app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    return app_test


def _table(app_test: AppTest, column: str) -> pd.DataFrame:
    return next(frame.value for frame in app_test.dataframe if column in frame.value.columns)


def _deployment_figures(path: Path, group: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    return _sql(
        path,
        f"""
        select {group} as key, count(*) as deployments,
            count(*) filter (where is_failure) * 100.0 / count(*) as failure_rate,
            median(time_to_restore_minutes) / 60 as restore_hours,
        from marts.fct_deployments
        where status = 'success' and is_production and deployed_at::date between ? and ?
        group by {group}
        """,
        start,
        end,
    ).set_index("key")


def _lead_times(path: Path, group: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    return _sql(
        path,
        f"""
        select {group} as key, count(*) as changes,
            median(lead_time_minutes) / 60 as median_hours,
            quantile_cont(lead_time_minutes, 0.75) / 60 as p75_hours,
            quantile_cont(lead_time_minutes, 0.9) / 60 as p90_hours,
        from marts.fct_changes
        where lead_time_minutes is not null and deployed_at::date between ? and ?
        group by {group}
        """,
        start,
        end,
    ).set_index("key")


def _assert_matches(shown: pd.Series, expected: pd.Series) -> None:
    """Shown per key (NaN where the marts have nothing) equals the marts' figure."""
    expected = expected.reindex(shown.index)
    assert shown.astype("float64").to_numpy() == pytest.approx(
        expected.astype("float64").to_numpy(), nan_ok=True, rel=1e-9
    ), pd.DataFrame({"shown": shown, "marts": expected})


def test_teams_figures_equal_the_marts(warehouse: Path) -> None:
    start, end = _period(warehouse)
    table = _table(_open("teams"), "Frequency rank").set_index("Team")
    teams = _sql(warehouse, "select team from marts.dim_teams order by team")["team"].tolist()
    assert table.index.tolist() == teams
    deployments = _deployment_figures(warehouse, "team", start, end)
    assert (
        table["Deployments"].tolist()
        == deployments["deployments"].reindex(teams).fillna(0).astype(int).tolist()
    )
    assert int(table["Deployments"].sum()) > 0
    _assert_matches(table["Change failure rate (%)"], deployments["failure_rate"])
    _assert_matches(table["Time to restore median (h)"], deployments["restore_hours"])
    _assert_matches(table["Lead time median (h)"], _lead_times(warehouse, "team", start, end)["median_hours"])
    weeks = ((end - start).days + 1) / 7
    _assert_matches(table["Per week"], deployments["deployments"].reindex(teams).fillna(0) / weeks)


def test_services_figures_equal_the_marts(warehouse: Path) -> None:
    start, end = _period(warehouse)
    app_test = _open("services")
    table = _table(app_test, "Team view").set_index("Service")
    services = _sql(warehouse, "select service from marts.dim_services order by service")["service"].tolist()
    assert table.index.tolist() == services
    deployments = _deployment_figures(warehouse, "service", start, end)
    assert (
        table["Deployments"].tolist()
        == deployments["deployments"].reindex(services).fillna(0).astype(int).tolist()
    )
    _assert_matches(table["Change failure rate (%)"], deployments["failure_rate"])
    lead = _lead_times(warehouse, "service", start, end)
    _assert_matches(table["Lead time median (h)"], lead["median_hours"])
    _assert_matches(table["Lead time p90 (h)"], lead["p90_hours"])
    # The deploy rules the refresh loaded from the configuration, one row each.
    rules = _table(app_test, "rule_index")
    expected = _sql(warehouse, "select service, rule_index from raw_config.deploy_rules order by all")
    assert sorted(zip(rules["service"], rules["rule_index"], strict=True)) == list(
        zip(expected["service"], expected["rule_index"], strict=True)
    )
    assert not [column for column in rules.columns if column.startswith("_dlt")]


def test_lead_time_figures_equal_the_marts(warehouse: Path) -> None:
    start, end = _period(warehouse)
    app_test = _open("lead_time")
    table = _table(app_test, "p90 (h)").set_index("Team")
    lead = _lead_times(warehouse, "team", start, end)
    assert sorted(table.index) == sorted(lead.index)
    assert table["Changes"].tolist() == lead["changes"].reindex(table.index).tolist()
    for shown, column in (("Median (h)", "median_hours"), ("p75 (h)", "p75_hours"), ("p90 (h)", "p90_hours")):
        _assert_matches(table[shown], lead[column])
    slowest = _table(app_test, "Lead time (h)")
    top = _sql(
        warehouse,
        """
        select change_id, lead_time_minutes / 60 as hours from marts.fct_changes
        where lead_time_minutes is not null and deployed_at::date between ? and ?
        order by lead_time_minutes desc, change_id limit 1
        """,
        start,
        end,
    )
    assert slowest["Change"].iloc[0] == top["change_id"].iloc[0]
    assert slowest["Lead time (h)"].iloc[0] == pytest.approx(top["hours"].iloc[0])
    assert len(app_test.get("vega_lite_chart")) == 2  # distribution and the weekly phases


def test_failures_list_every_failed_deployment_of_the_period(warehouse: Path) -> None:
    start, end = _period(warehouse)
    failed = _table(_open("failures"), "Failed by")
    expected = _sql(
        warehouse,
        """
        select deployment_id from marts.fct_deployments
        where is_failure and deployed_at::date between ? and ?
        """,
        start,
        end,
    )["deployment_id"]
    assert len(expected) > 0
    ids = [parse_qs(urlsplit(link).query)["deployment"][0] for link in failed["Deployment"]]
    assert sorted(ids) == sorted(expected)


def test_where_is_my_change_shows_the_production_deployment_of_the_mart(warehouse: Path) -> None:
    change = _sql(
        warehouse,
        """
        select change_id, pr_number, deployment_id, deployed_at from marts.fct_changes
        where change_kind = 'pull_request' and deployment_id is not null
        order by change_id limit 1
        """,
    ).iloc[0]
    app_test = _open("where_is_my_change", {"q": change["change_id"]})
    # The exact id comes first among the changes that contain it.
    assert app_test.selectbox(key="change_pick").value == change["change_id"]
    reach = _table(app_test, "Matched by").set_index("Environment")
    assert reach.loc["production", "Matched by"] == "first production deployment"
    assert pd.Timestamp(reach.loc["production", "Reached at (UTC)"]) == pd.Timestamp(change["deployed_at"])
    link = urlsplit(reach.loc["production", "Deployment"])
    assert link.path == "deployments"
    assert parse_qs(link.query)["deployment"] == [change["deployment_id"]]
    assert "staging" in reach.index


def test_environments_figures_equal_the_marts(warehouse: Path) -> None:
    # The day most commits waited overnight, and the service that had most of them.
    busiest = _sql(
        warehouse,
        """
        select day, service, commits_waiting from marts.drift_daily
        order by commits_waiting desc, day, service limit 1
        """,
    ).iloc[0]
    day = pd.Timestamp(busiest["day"]).date()
    assert busiest["commits_waiting"] > 0
    start = day - dt.timedelta(days=27)
    app_test = _open(
        "environments",
        {"from": start.isoformat(), "to": day.isoformat(), "drift_service": busiest["service"]},
    )
    expected = _sql(
        warehouse,
        """
        select service, commits_waiting, oldest_waiting_age_hours from marts.drift_daily
        where day = ? order by service
        """,
        day,
    )
    drift = _table(app_test, "Oldest waiting (h)").sort_values("Service").reset_index(drop=True)
    assert drift["Service"].tolist() == expected["service"].tolist()
    assert drift["Commits waiting"].tolist() == expected["commits_waiting"].tolist()
    assert drift["Oldest waiting (h)"].fillna(-1).tolist() == pytest.approx(
        expected["oldest_waiting_age_hours"].fillna(-1).tolist()
    )
    # The drill-down lists exactly the commits the day's figure counts.
    waiting = _table(app_test, "Reached upstream at (UTC)")
    assert len(waiting) == busiest["commits_waiting"]
    promotions = _sql(
        warehouse,
        """
        select deployment_id, promotion_lag_minutes from marts.fct_promotions
        where deployed_at::date between ? and ? order by deployment_id
        """,
        start,
        day,
    )
    shown = _table(app_test, "Promoted deployment")
    ids = [parse_qs(urlsplit(link).query)["deployment"][0] for link in shown["Deployment"]]
    assert sorted(ids) == promotions["deployment_id"].tolist()
    lags = dict(zip(ids, shown["Promotion lag (h)"], strict=True))
    for deployment_id, minutes in zip(
        promotions["deployment_id"], promotions["promotion_lag_minutes"], strict=True
    ):
        if pd.notna(minutes):
            assert lags[deployment_id] == pytest.approx(minutes / 60)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_the_filter_combinations(warehouse: Path, page: str) -> None:
    start, end = _period(warehouse)
    row = _sql(warehouse, "select team, service from marts.dim_services order by service limit 1").iloc[0]
    combinations = [
        {},
        {"team": row["team"]},
        {"service": row["service"], "env": "staging"},
        {
            "from": (end - dt.timedelta(days=27)).isoformat(),
            "to": end.isoformat(),
            "vs_from": start.isoformat(),
            "vs_to": (start + dt.timedelta(days=27)).isoformat(),
            "team": row["team"],
            "service": row["service"],
        },
        {"from": "1999-01-01", "to": "1999-02-01"},
    ]
    for query in combinations:
        app_test = _open(page, query)
        assert app_test.title[0].value, query


def _org_month(path: Path) -> pd.Series:
    """The org's row of the latest month in dora_rollup_monthly with failed deployments."""
    return _sql(
        path,
        """
        select * from marts.dora_rollup_monthly
        where grouping = 'org' and failed_deployments > 0
        order by period_start desc limit 1
        """,
    ).iloc[0]


def test_failures_by_signal_and_rework_equal_the_marts(warehouse: Path) -> None:
    month = _org_month(warehouse)
    start, end = pd.Timestamp(month["period_start"]).date(), pd.Timestamp(month["period_end"]).date()
    app_test = _open("failures", {"from": start.isoformat(), "to": end.isoformat()})
    by_signal = _table(app_test, "Signal").set_index("Signal")
    # 'any signal' over a calendar month is the org's row of the monthly rollup.
    overall = by_signal.loc["any signal"]
    assert overall["Failed deployments"] == month["failed_deployments"]
    assert overall["Change failure rate (%)"] == pytest.approx(month["change_failure_rate"] * 100)
    assert overall["Time to restore median (h)"] == pytest.approx(
        month["time_to_restore_median_minutes"] / 60
    )
    assert overall["Time to detect median (h)"] == pytest.approx(month["time_to_detect_median_minutes"] / 60)
    assert overall["Open failures"] == month["open_failures"]
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics["Rework rate"] == f"{month['rework_rate'] * 100:.1f} %"
    assert metrics["Open failures"] == str(int(month["open_failures"]))
    # Per signal: the month's production deployments that signal failed, from fct_deployments.
    expected = _sql(
        warehouse,
        """
        select signal, count(*) as failed, median(time_to_detect_minutes) / 60 as detect_hours,
            median(time_to_restore_minutes) / 60 as restore_hours,
        from (select unnest(failure_signals) as signal, * from marts.fct_deployments
              where status = 'success' and is_production and team is not null
                and deployed_at::date between ? and ?)
        group by signal
        """,
        start,
        end,
    ).set_index("signal")
    assert len(expected) >= 2  # the tiny org fails deployments by more than one signal
    shown = by_signal.drop(index="any signal")
    assert shown.index.tolist() == ["incident", "rollback", "revert", "hotfix", "alert"]
    assert shown["Failed deployments"].tolist() == expected["failed"].reindex(shown.index).fillna(0).tolist()
    _assert_matches(shown["Time to detect median (h)"], expected["detect_hours"])
    _assert_matches(shown["Time to restore median (h)"], expected["restore_hours"])
    # Each failed deployment lists its signals and how it recovered, as fct_deployments holds them.
    failed = _table(app_test, "Failed by")
    rows = _sql(
        warehouse,
        """
        select array_to_string(failure_signals, ', ') as signals, recovery_kind
        from marts.fct_deployments
        where is_failure and deployed_at::date between ? and ?
        order by deployed_at desc, deployment_id
        """,
        start,
        end,
    )
    assert failed["Failed by"].tolist() == rows["signals"].tolist()
    kinds = {
        "incident_resolved": "incident resolved",
        "rollback": "rolled back",
        "fix_deployment": "fix deployed",
    }
    assert failed["Recovery"].tolist() == [kinds.get(kind) for kind in rows["recovery_kind"]]
    # The weekly rework and detection charts come from dora_rollup_weekly.
    assert len(app_test.get("vega_lite_chart")) == 4


def test_overview_rework_rate_equals_the_monthly_rollup(warehouse: Path) -> None:
    month = _org_month(warehouse)
    start, end = pd.Timestamp(month["period_start"]).date(), pd.Timestamp(month["period_end"]).date()
    app_test = _open("overview", {"from": start.isoformat(), "to": end.isoformat()})
    rework = next(metric for metric in app_test.metric if metric.label == "Rework rate")
    assert rework.value == f"{month['rework_rate'] * 100:.1f} %"
    if month["previous_rework_rate"] is not None and not pd.isna(month["previous_rework_rate"]):
        # The previous period of equal length is not the previous calendar month: only the value is checked
        # against the rollup; the delta is signed in percentage points.
        assert rework.delta.endswith(" pp")


def test_deployment_card_shows_the_marts_batch_deployer_and_failure(warehouse: Path) -> None:
    """A failed production deployment with a known batch: its card's figures are its fct_deployments row."""
    row = _sql(
        warehouse,
        """
        select * from marts.fct_deployments
        where is_failure and batch_lines_changed is not null and deployed_by is not null
            and time_to_detect_minutes is not null
        order by deployed_at desc limit 1
        """,
    ).iloc[0]
    app_test = _open("deployments", {"deployment": row["deployment_id"]})
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert metrics["Batch size"] == f"{row['batch_size_class']} · {int(row['batch_lines_changed'])} lines"
    assert metrics["PRs / authors"] == f"{int(row['batch_pr_count'])} / {int(row['batch_author_count'])}"
    kind = "automation" if row["is_deployed_by_automation"] else "person"
    assert metrics["Deployed by"] == f"{row['deployed_by']} ({kind})"
    minutes = row["time_to_detect_minutes"]
    expected = f"{minutes:.0f} min" if minutes < 60 else None
    if expected is None:
        expected = f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} d"
    assert metrics["Time to detect"] == expected
    kinds = {
        "incident_resolved": "incident resolved",
        "rollback": "rolled back",
        "fix_deployment": "fix deployed",
    }
    assert metrics["Recovery"] == kinds.get(row["recovery_kind"], "open")
    assert any("failed by: " + ", ".join(row["failure_signals"]) in item.value for item in app_test.markdown)


ROLLUP_MEASURES = {
    "Rework rate (%)": ("rework_rate", 100),
    "Batch size median (lines)": ("batch_size_median_lines", 1),
    "Pipeline median (min)": ("pipeline_duration_median_minutes", 1),
    "Review compliance (%)": ("review_compliance_rate", 100),
    "Deployed by author (%)": ("deployed_by_author_share", 100),
}


@pytest.mark.parametrize(
    ("page", "grouping", "key"), [("teams", "team", "Team"), ("services", "service", "Service")]
)
def test_batch_pipeline_review_and_rework_columns_equal_the_monthly_rollup(
    warehouse: Path, page: str, grouping: str, key: str
) -> None:
    """Over a calendar month, each team's (service's) measures are its row of dora_rollup_monthly."""
    month = _org_month(warehouse)
    start = pd.Timestamp(month["period_start"]).date()
    end = pd.Timestamp(month["period_end"]).date()
    table = _table(_open(page, {"from": start.isoformat(), "to": end.isoformat()}), "Rework rate (%)")
    table = table.set_index(key)
    rollup = _sql(
        warehouse,
        "select * from marts.dora_rollup_monthly where grouping = ? and period_start = ?",
        grouping,
        start,
    ).set_index("group_value")
    measured = rollup[rollup["deployments"] > 0].index
    assert len(measured) >= 2
    for column, (mart_column, scale) in ROLLUP_MEASURES.items():
        _assert_matches(table.loc[measured, column], rollup.loc[measured, mart_column] * scale)
    assert table.loc[measured, "Rework rate (%)"].max() > 0
