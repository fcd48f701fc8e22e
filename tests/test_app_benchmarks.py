"""The Benchmarks and Baseline assessment pages on the tiny simulated org's real published warehouse: the
figures shown equal the marts they come from (read here with plain SQL, not through app/queries.py), the
report year and grain follow the URL, and the assessment form writes the file the refresh reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from orgs import QUICKCHECK_DIR
from test_app_pages_real import _open, _period, _sql, _table

from app import queries
from ingestion.assessments import read_folder


@pytest.fixture
def warehouse(tiny_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_warehouse))
    return tiny_warehouse


def test_levels_shown_are_the_marts_for_the_report_year_in_the_url(warehouse):
    start, end = _period(warehouse)
    app_test = _open("benchmarks", {"report_year": "2022", "grain": "month"})
    assert any(item.value == "DORA levels, 2022 report" for item in app_test.subheader)
    shown = _table(app_test, "Frequency level")
    expected = _sql(
        warehouse,
        """
        select group_value as team, period_start::date as period_start, metric, level,
        from marts.dora_levels
        where grouping = 'team' and period_grain = 'month' and report_year = 2022
            and period_start between date_trunc('month', ?::date) and ?::date
        order by team, period_start
        """,
        start,
        end,
    )
    assert len(expected) > 0 and "elite" not in set(expected["level"])  # 2022 has no elite
    labels = {"high": "High", "medium": "Medium", "low": "Low"}
    for column, metric in (
        ("Frequency level", "deployment_frequency"),
        ("Lead time level", "lead_time"),
        ("Failure rate level", "change_failure_rate"),
        ("Restore level", "time_to_restore"),
    ):
        want = expected[expected["metric"] == metric]
        want_levels = [labels[level] if isinstance(level, str) else "No data" for level in want["level"]]
        assert list(zip(shown["Team"], shown["Period"], shown[column], strict=True)) == list(
            zip(
                want["team"],
                [d.date() for d in pd.to_datetime(want["period_start"])],
                want_levels,
                strict=True,
            )
        ), column


@pytest.mark.parametrize("asked", ["1999", "2023; drop table marts.dora_levels", "' or 1=1 --", "2O22"])
def test_an_unknown_report_year_falls_back_to_the_newest(warehouse, asked):
    app_test = _open("benchmarks", {"year": asked})
    assert any(item.value == "DORA levels, 2023 report" for item in app_test.subheader)
    assert app_test.query_params["year"] in ("2023", ["2023"])
    assert app_test.session_state["filter_report_year"] == 2023
    assert not _sql(warehouse, "select count(*) as n from marts.dora_levels").empty


def test_the_report_year_is_a_shared_filter_kept_in_the_url(warehouse):
    years = _sql(warehouse, "select distinct report_year from marts.dora_levels order by 1 desc")
    years = years["report_year"]
    assert list(years) == [2023, 2022, 2021]  # the bands seed's years, newest first
    app_test = _open("overview", {"year": "2021"})
    assert app_test.sidebar.selectbox(key="filter_report_year").options == ["2023", "2022", "2021"]
    assert app_test.session_state["filter_report_year"] == 2021
    # The Overview bands the period by the chosen year and says so.
    assert any("Levels by the 2021 report's bands" in item.value for item in app_test.caption)
    assert any("DORA 2021: " in item.value for item in app_test.markdown)
    # It follows the user to Benchmarks, and the sidebar choice goes back to the URL.
    app_test.switch_page("app_pages/benchmarks.py").run()
    assert any(item.value == "DORA levels, 2021 report" for item in app_test.subheader)
    app_test.sidebar.selectbox(key="filter_report_year").set_value(2022).run()
    assert any(item.value == "DORA levels, 2022 report" for item in app_test.subheader)
    assert app_test.query_params["year"] in ("2022", ["2022"])


def test_quickcheck_scores_shown_are_the_marts(warehouse):
    if not QUICKCHECK_DIR.is_dir():
        pytest.skip("shared data missing: ../shared/data/dora-quickcheck (see data README)")
    start, end = _period(warehouse)
    app_test = _open("benchmarks", {"grain": "month"})
    shown = _table(app_test, "vs industry (sd)")
    expected = _sql(
        warehouse,
        """
        with picked as (
            select * from marts.dora_quickcheck_scores
            where period_grain = 'month' and period_start between date_trunc('month', ?::date) and ?::date
        )
        select team, metric, score, industry_mean, industry_distance_sd, organization_size_mean,
        from picked
        where period_start = (select max(period_start) from picked as latest where latest.team = picked.team)
        order by team, metric
        """,
        start,
        end,
    )
    assert expected["industry_mean"].notna().any()  # DORA's files are configured for the tiny org
    names = {
        "Performance average": "performance_average",
        "Lead time": "lead_time",
        "Deployment frequency": "deployment_frequency",
        "Change failure rate": "change_failure_rate",
        "Failed deployment recovery time": "time_to_restore",
        "Rework rate": "rework_rate",
    }
    got = (
        shown.assign(metric=shown["Metric"].map(names)).sort_values(["Team", "metric"]).reset_index(drop=True)
    )
    assert list(got["Team"]) == list(expected["team"])
    assert list(got["metric"]) == list(expected["metric"])
    for shown_column, mart_column in (
        ("Score", "score"),
        ("Industry mean", "industry_mean"),
        ("vs industry (sd)", "industry_distance_sd"),
        ("Org-size mean", "organization_size_mean"),
    ):
        pd.testing.assert_series_equal(
            got[shown_column].astype("float64"),
            expected[mart_column].astype("float64"),
            check_names=False,
            rtol=1e-9,
        )


def test_assessment_sections_shown_are_the_marts(warehouse):
    app_test = _open("assessment")
    shown = _table(app_test, "Average (0-3)")
    expected = _sql(
        warehouse,
        "select team, assessed_on, section, average_score from marts.assessment_section_scores"
        " order by team, assessed_on, section",
    )
    # the fixture files (tests/fixtures/assessments): payments twice, storefront once
    assert sorted(set(expected["team"])) == ["payments", "storefront"] and len(expected) == 8
    payments_tooling = expected[
        (expected["team"] == "payments") & (expected["section"] == "technical_tooling")
    ]["average_score"]
    assert list(payments_tooling) == [2.0, 2.75]  # (3+2+2+1)/4, then (3+3+3+2)/4, worked out by hand
    assert list(shown["Average (0-3)"]) == list(expected["average_score"])
    assert list(shown["Team"]) == list(expected["team"])


def test_the_form_writes_the_file_the_refresh_reads(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYLENS_ASSESSMENTS_DIR", str(tmp_path))
    app_test = _open("assessment")
    app_test.selectbox(key="assessment_team").set_value("storefront")
    app_test.date_input(key="assessment_date").set_value(dt.date(2026, 11, 3))
    app_test.select_slider(key="assessment_item_observability").set_value(3)
    app_test.select_slider(key="assessment_item_safety").set_value(1)
    next(button for button in app_test.button if button.label == "Save assessment").click()
    app_test.run()
    assert not app_test.exception
    written = tmp_path / "storefront--2026-11-03.json"
    assert json.loads(written.read_text())["team"] == "storefront"
    rows, bad = read_folder(tmp_path)
    assert bad == []
    scores = {row["item"]: row["score"] for row in rows}
    assert len(scores) == 15 and scores["observability"] == 3 and scores["safety"] == 1
    assert sum(scores.values()) == 4  # every other item left at 0 = don't have


LEVEL_COLUMNS = {
    "Frequency level": "deployment_frequency",
    "Lead time level": "lead_time",
    "Failure rate level": "change_failure_rate",
    "Restore level": "time_to_restore",
}
LEVEL_WORDS = {"elite": "Elite", "high": "High", "medium": "Medium", "low": "Low"}
# The figures each page shows beside the levels: the same whatever the report year.
FIGURE_COLUMNS = ["Per week", "Change failure rate (%)", "Lead time median (h)", "Time to restore median (h)"]


def _whole_month(path: Path) -> tuple[dt.date, dt.date]:
    """The last calendar month wholly inside the loaded data (the month before the last deployment's)."""
    last = _sql(path, "select max(deployed_at)::date as last from marts.fct_deployments").iloc[0]["last"]
    month_end = pd.Timestamp(last).to_period("M").start_time.date() - dt.timedelta(days=1)
    return month_end.replace(day=1), month_end


def _mart_levels(path: Path, grouping: str, month: dt.date, year: int) -> dict[tuple[str, str], str]:
    frame = _sql(
        path,
        """
        select group_value, metric, level
        from marts.dora_levels
        where grouping = ? and period_grain = 'month' and period_start = ? and report_year = ?
        """,
        grouping,
        month,
        year,
    )
    return {
        (row.group_value, row.metric): LEVEL_WORDS[row.level] if isinstance(row.level, str) else "No data"
        for row in frame.itertuples()
    }


@pytest.mark.parametrize(
    ("page", "key", "grouping"), [("teams", "Team", "team"), ("services", "Service", "service")]
)
def test_period_levels_follow_the_report_year_and_equal_the_mart(warehouse, page, key, grouping):
    """Over a whole month the levels the page shows are that month's dora_levels rows, for each report year;
    the years band the same figures differently."""
    start, end = _whole_month(warehouse)
    shown_by_year = {}
    for year in (2021, 2022, 2023):
        app_test = _open(page, {"from": start.isoformat(), "to": end.isoformat(), "year": str(year)})
        assert any(f"Levels by the {year} report's bands" in item.value for item in app_test.caption)
        table = _table(app_test, "Frequency level")
        expected = _mart_levels(warehouse, grouping, start, year)
        assert len(expected) >= 4 * 3
        for column, metric in LEVEL_COLUMNS.items():
            want = [expected.get((name, metric), "No data") for name in table[key]]
            assert list(table[column]) == want, (year, column)
        shown_by_year[year] = table
    figures = [shown_by_year[year][FIGURE_COLUMNS].astype("float64") for year in (2021, 2022, 2023)]
    pd.testing.assert_frame_equal(figures[0], figures[1])
    pd.testing.assert_frame_equal(figures[0], figures[2])
    levels = {year: shown_by_year[year][list(LEVEL_COLUMNS)].to_numpy().tolist() for year in shown_by_year}
    assert levels[2021] != levels[2022] and levels[2022] != levels[2023] and levels[2021] != levels[2023]


def test_the_overview_levels_follow_the_report_year_and_equal_the_mart(warehouse):
    """The org badges and the per-team level columns of a whole month: dora_levels' org and team rows."""
    start, end = _whole_month(warehouse)
    badges_by_year = {}
    for year in (2021, 2022, 2023):
        app_test = _open("overview", {"from": start.isoformat(), "to": end.isoformat(), "year": str(year)})
        org = _mart_levels(warehouse, "org", start, year)
        metrics = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
        badges = [item.value for item in app_test.markdown if "-badge[" in item.value]
        words = [badge.split(f"DORA {year}: ", 1)[1].rstrip("]") for badge in badges]
        assert words == [org[("(org)", metric)] for metric in metrics], year
        badges_by_year[year] = words
        table = _table(app_test, "Frequency level")
        teams = _mart_levels(warehouse, "team", start, year)
        for column, metric in LEVEL_COLUMNS.items():
            assert list(table[column]) == [teams.get((team, metric), "No data") for team in table["Team"]]
    assert len({tuple(words) for words in badges_by_year.values()}) == 3
