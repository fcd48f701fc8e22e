"""Benchmarks: each team's DORA level per period for a chosen report year (dora_levels), and its DORA Quick
Check score beside the industry and organisation-size means of the chosen edition (dora_quickcheck_scores).

The report year is the shared filter bar's (`year=` in the URL; `report_year=` is still read); the grain
(month, week, day) is the page's own choice, kept in the URL as `grain`. Figures are the marts' rows,
reshaped for reading, never recomputed.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters

URL_GRAIN = "grain"
GRAIN_KEY = "benchmarks_grain"

METRIC_LABELS = {
    "performance_average": "Performance average",
    "lead_time": "Lead time",
    "deployment_frequency": "Deployment frequency",
    "change_failure_rate": "Change failure rate",
    "time_to_restore": "Failed deployment recovery time",
    "rework_rate": "Rework rate",
}


def _from_url(name: str, allowed: list, key: str) -> None:
    """Seed a page control from the URL once (an unknown value is ignored: the default stands)."""
    if key in st.session_state:
        return
    asked = st.query_params.get(name)
    for value in allowed:
        if str(value) == asked:
            st.session_state[key] = value


def _controls(years: list[int], chosen: int | None) -> tuple[int, str]:
    """The report year is the shared filter bar's (`year=`); the grain is this page's own."""
    _from_url(URL_GRAIN, list(queries.BENCHMARK_GRAINS), GRAIN_KEY)
    with st.sidebar:
        st.radio("Benchmark periods", list(queries.BENCHMARK_GRAINS), key=GRAIN_KEY, horizontal=True)
    year = chosen if chosen in years else years[0]
    grain = str(st.session_state[GRAIN_KEY])
    st.query_params[URL_GRAIN] = grain
    return int(year), grain


def _hours(values: pd.Series) -> pd.Series:
    return values.map(fmt.minutes_to_hours).astype("float64")


def level_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per team and period: the measured value and the level of each metric."""
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Period": pd.to_datetime(rows["period_start"]).dt.date,
            "Frequency level": rows["deployment_frequency_level"].map(fmt.level_label),
            "Lead time median (h)": rows["lead_time_median_minutes"]
            .map(fmt.minutes_to_hours)
            .astype("float64"),
            "Lead time level": rows["lead_time_level"].map(fmt.level_label),
            "Change failure rate (%)": rows["change_failure_rate"].astype("float64") * 100,
            "Failure rate level": rows["change_failure_rate_level"].map(fmt.level_label),
            "Time to restore median (h)": _hours(rows["time_to_restore_median_minutes"]),
            "Restore level": rows["time_to_restore_level"].map(fmt.level_label),
        }
    ).reset_index(drop=True)


def quickcheck_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The latest period's Quick Check rows of each team: score beside the two means and distances."""
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Period": pd.to_datetime(rows["period_start"]).dt.date,
            "Metric": rows["metric"].map(METRIC_LABELS),
            "Answer": rows["answer"],
            "Score": rows["score"].astype("float64"),
            "Industry mean": rows["industry_mean"].astype("float64"),
            "Industry std": rows["industry_std"].astype("float64"),
            "vs industry (sd)": rows["industry_distance_sd"].astype("float64"),
            "Org-size mean": rows["organization_size_mean"].astype("float64"),
            "Org-size std": rows["organization_size_std"].astype("float64"),
            "vs org size (sd)": rows["organization_size_distance_sd"].astype("float64"),
        }
    ).reset_index(drop=True)


def _latest_periods(rows: pd.DataFrame) -> pd.DataFrame:
    latest = rows.groupby("team")["period_start"].transform("max")
    order = {metric: i for i, metric in enumerate(METRIC_LABELS)}
    picked = rows[rows["period_start"] == latest].copy()
    picked["_order"] = picked["metric"].map(order)
    return picked.sort_values(["team", "_order"]).drop(columns="_order")


def main() -> None:
    st.title("Benchmarks")
    filters = current_filters()
    widgets.caption(filters)
    path = queries.warehouse_path()
    try:
        years = queries.report_years(path)
        if not years:
            st.info("This warehouse has no benchmark levels yet: the next refresh builds them.")
            return
        if widgets.explain_no_production(path):
            return
        year, grain = _controls(years, filters.report_year)
        levels = queries.team_levels(path, filters.start, filters.end, filters.teams, grain, year)
        scores = queries.quickcheck_scores(path, filters.start, filters.end, filters.teams, grain)
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)
        return

    st.subheader(f"DORA levels, {year} report")
    st.caption(
        "Each metric measured per period and banded with the chosen report's table. 2022 has no elite level;"
        " periods that do not measure a metric say so."
    )
    if levels.empty:
        st.info("No team periods in this selection.")
    else:
        widgets.table(
            level_table(levels),
            f"dora-levels-{year}.csv",
            key="benchmark_levels",
            column_config={
                "Lead time median (h)": widgets.hours("Lead time median (h)", "Median lead time"),
                "Change failure rate (%)": widgets.percent(
                    "Change failure rate (%)", "Failed production deployments / production deployments"
                ),
                "Time to restore median (h)": widgets.hours(
                    "Time to restore median (h)", "Median time to restore of the period"
                ),
            },
        )

    st.subheader("DORA Quick Check")
    if scores.empty:
        st.info("No Quick Check scores in this selection.")
        return
    edition = int(scores["edition"].iloc[0])
    industry, size = scores["industry"].iloc[0], scores["organization_size"].iloc[0]
    st.caption(
        f"Scores 0-10 (10 best) as DORA's Quick Check computes them, for each team's latest {grain} in the"
        f" period, beside the {edition} edition's means for industry '{industry}' and organisation size"
        f" '{size}'. The distance is in standard deviations; positive is better."
    )
    if scores["industry_mean"].isna().all():
        st.warning(
            "DORA's published Quick Check files are not configured (org.yml"
            " `benchmarks: {quickcheck_dir: ...}`): the scores are shown without the industry and"
            " organisation-size means."
        )
    widgets.table(
        quickcheck_table(_latest_periods(scores)),
        f"quickcheck-{edition}.csv",
        key="benchmark_quickcheck",
        column_config={
            "Score": st.column_config.NumberColumn(format="%.1f"),
            "vs industry (sd)": st.column_config.NumberColumn(format="%+.2f"),
            "vs org size (sd)": st.column_config.NumberColumn(format="%+.2f"),
        },
    )


main()
