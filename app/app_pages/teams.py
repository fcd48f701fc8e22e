"""Teams: every team side by side on the four keys, with its level (by the report year chosen in the sidebar),
rank and percentile in the org,
deploy-weighted averages, and the change against the compare-to period.

Figures come from `marts.dora_summary` (per team); ranks, percentiles, deltas and weighted averages are
window functions and sums over its rows in `app/queries.py`. The rework rate, batch size and pipeline
medians, review compliance and deployed-by-author share are `queries.delivery_measures` (the rollups'
definitions on the chosen period).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import Filters, current_filters

CHARTS = [
    ("Per week", "Production deployments per week", "Deployments / week"),
    ("Lead time median (h)", "Lead time, median", "Hours"),
    ("Change failure rate (%)", "Change failure rate", "% of production deployments"),
    ("Time to restore median (h)", "Time to restore, median", "Hours"),
]


def _hours(values: pd.Series) -> pd.Series:
    return values.map(fmt.minutes_to_hours).astype("float64")


def team_table(
    rows: pd.DataFrame, filters: Filters, levels: widgets.PeriodLevels | None = None
) -> pd.DataFrame:
    """The page's table: units for people (hours, %), one column per figure, rank and delta beside it; levels
    by the chosen report year (dora_summary's 2023 ones without `levels`)."""
    rows = rows.reset_index(drop=True)
    levels = levels or widgets.PeriodLevels(widgets.SUMMARY_REPORT_YEAR, None)
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Open": [widgets.team_link(team, filters) for team in rows["team"]],
            "Deployments": rows["deployments"].astype("int64"),
            "Per week": rows["deployments_per_week"].astype("float64"),
            "Per week change": rows["deployments_per_week_change"].astype("float64"),
            "Frequency level": levels.column(rows["team"], "deployment_frequency", rows),
            "Frequency rank": rows["deployments_per_week_rank"],
            "Lead time median (h)": _hours(rows["lead_time_median_minutes"]),
            "Lead time change (h)": _hours(rows["lead_time_median_minutes_change"]),
            "Lead time level": levels.column(rows["team"], "lead_time", rows),
            "Lead time rank": rows["lead_time_median_minutes_rank"],
            "Change failure rate (%)": rows["change_failure_rate"].astype("float64") * 100,
            "Failure rate change (pp)": rows["change_failure_rate_change"].astype("float64") * 100,
            "Failure rate level": levels.column(rows["team"], "change_failure_rate", rows),
            "Failure rate rank": rows["change_failure_rate_rank"],
            "Time to restore median (h)": _hours(rows["time_to_restore_median_minutes"]),
            "Time to restore change (h)": _hours(rows["time_to_restore_median_minutes_change"]),
            "Restore level": levels.column(rows["team"], "time_to_restore", rows),
            "Restore rank": rows["time_to_restore_median_minutes_rank"],
            "Frequency percentile": rows["deployments_per_week_percentile"].astype("float64") * 100,
            "Lead time percentile": rows["lead_time_median_minutes_percentile"].astype("float64") * 100,
            "Failure rate percentile": rows["change_failure_rate_percentile"].astype("float64") * 100,
            "Restore percentile": rows["time_to_restore_median_minutes_percentile"].astype("float64") * 100,
        }
    ).reset_index(drop=True)


def _column_config() -> dict:
    rank_help = "1 = best among the teams shown; teams without a value are not ranked."
    percentile_help = "Share of the teams shown doing no better than this one (100 % = best)."
    change_help = "Against the compare-to period (sidebar)."
    config = {
        "Open": widgets.link_column("Drill down", "This team alone on the Teams page", "Open"),
        "Per week": st.column_config.NumberColumn(
            "Per week", help="Successful production deployments per week", format="%.1f"
        ),
        "Per week change": st.column_config.NumberColumn(help=change_help, format="%+.1f"),
        "Lead time median (h)": widgets.hours(
            "Lead time median (h)", "First commit to first production deployment, median"
        ),
        "Lead time change (h)": st.column_config.NumberColumn(help=change_help, format="%+.1f h"),
        "Change failure rate (%)": widgets.percent(
            "Change failure rate (%)", "Failed production deployments / production deployments"
        ),
        "Failure rate change (pp)": st.column_config.NumberColumn(help=change_help, format="%+.1f pp"),
        "Time to restore median (h)": widgets.hours(
            "Time to restore median (h)", "Failed deployment to recovery, median"
        ),
        "Time to restore change (h)": st.column_config.NumberColumn(help=change_help, format="%+.1f h"),
    }
    for column in ("Frequency rank", "Lead time rank", "Failure rate rank", "Restore rank"):
        config[column] = st.column_config.NumberColumn(help=rank_help, format="%d")
    for column in (
        "Frequency percentile",
        "Lead time percentile",
        "Failure rate percentile",
        "Restore percentile",
    ):
        config[column] = st.column_config.NumberColumn(help=percentile_help, format="%.0f %%")
    return config


def _render_weighted(path, filters: Filters, teams: list[str]) -> None:
    averages = queries.team_weighted_averages(path, filters.start, filters.end, teams)
    row = averages.iloc[0]
    st.subheader("Deploy-weighted averages")
    st.caption(
        "Each team's figure (for lead time and time to restore, its median) weighted by its production "
        "deployments in the period."
    )
    first, second, third, fourth = st.columns(4)
    first.metric("Deployment frequency", fmt.format_per_week(row["deployments_per_week"]), border=True)
    second.metric("Lead time", fmt.format_duration(row["lead_time_median_minutes"]), border=True)
    third.metric("Change failure rate", fmt.format_rate(row["change_failure_rate"]), border=True)
    fourth.metric(
        "Time to restore",
        fmt.format_duration(row["time_to_restore_median_minutes"]),
        border=True,
    )


def _render_charts(table: pd.DataFrame) -> None:
    st.subheader("Side by side")
    for pair in (CHARTS[:2], CHARTS[2:]):
        for column, (metric, title, axis_title) in zip(st.columns(2), pair, strict=True):
            # Plain field names: Vega-Lite reads dots, brackets and some punctuation in a field as a path.
            data = table[["Team", metric]].dropna().rename(columns={metric: "value"})
            chart = (
                alt.Chart(data)
                .mark_bar()
                .encode(
                    x=alt.X("value:Q", title=axis_title),
                    y=alt.Y("Team:N", sort="-x" if metric == "Per week" else "x", title=None),
                    tooltip=[alt.Tooltip("Team:N"), alt.Tooltip("value:Q", format=".1f", title=axis_title)],
                )
                .properties(title=title, height=alt.Step(28))
            )
            with column:
                widgets.chart(chart, "teams_trend", width="stretch")


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Teams")
    widgets.caption(filters, compared=True)
    if filters.services or filters.environments:
        st.caption(
            "Team figures cover all of a team's services; the service and environment filters apply to "
            "the Services, Lead time and Failures pages."
        )
    if filters.languages or filters.labels:
        st.caption(
            "Language and label filters keep the teams owning at least one such service; a team's figures "
            "still cover all of its services."
        )
    try:
        if widgets.explain_no_production(path):
            return
        teams = filters.teams
        if filters.is_sliced:
            teams = queries.scoped_teams(
                path, filters.teams, filters.departments, filters.languages, filters.labels
            )
            if not teams:
                st.info("No team matches the department, language and label filters in the sidebar.")
                return
        rows = queries.team_comparison(path, filters.start, filters.end, *filters.compare, teams)
        if (
            rows.empty
            or int(rows["deployments"].fillna(0).sum()) == 0
            and rows["changes"].fillna(0).sum() == 0
        ):
            st.info(
                "No team had production deployments or changes in this period. Widen the date range or "
                "choose other teams in the sidebar."
            )
            return
        levels = widgets.period_levels(path, filters, "team", teams)
        table = team_table(rows, filters, levels)
        measures = queries.delivery_measures(path, filters.start, filters.end, "team", teams, None)
        table = pd.concat([table, widgets.delivery_columns(table["Team"], measures)], axis=1)
        st.subheader("Every team")
        widgets.levels_note(levels)
        widgets.table(
            table,
            "teams.csv",
            "teams_table",
            column_config={**_column_config(), **widgets.delivery_column_config()},
        )
        _render_weighted(path, filters, teams)
        _render_charts(table)
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
