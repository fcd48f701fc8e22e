"""Outliers & suggestions: changes and deployments beyond their team's or service's normal, weeks where a
team's figures moved sharply, and each team's phase on the path from weekly to daily deployments with its
next milestone and advice.

Every flag, baseline and suggestion comes from the marts (`fct_change_outliers`, `fct_deployment_outliers`,
`team_weekly_anomalies`, `team_suggestions`; docs/metrics.md, "Normal and outliers" and "The path from the
seed"); this page only selects, names and formats them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import Filters, current_filters

GROUPINGS = {"team": "Its team's normal", "service": "Its service's normal"}
GROUPING_KEY = "outliers_grouping"
CHANGE_PICK_KEY = "outliers_change_pick"

METRIC_LABELS = {
    "deployments_per_week": "Deployments / week",
    "lead_time_median_minutes": "Lead time median (h)",
    "change_failure_rate": "Change failure rate (%)",
    "time_to_restore_median_minutes": "Time to restore median (h)",
}
MEASURE_LABELS = {
    "commit_count": "Commits shipped",
    "pr_count": "Pull requests shipped",
    "time_to_restore_minutes": "Time to restore (h)",
}


def _unit_column(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Values in the unit their metric's label names: hours for minutes, % for rates."""
    values = frame[column].astype("float64")
    minutes = frame[key].str.endswith("_minutes")
    rate = frame[key] == "change_failure_rate"
    return values.where(~minutes, values / 60).where(~rate, values * 100)


def change_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Change": rows["change_id"],
            "Team": rows["team"],
            "Service": rows["service"],
            "Title": rows["title"],
            "Deployed at (UTC)": rows["deployed_at"],
            "Lead time (h)": rows["lead_time_minutes"].astype("float64") / 60,
            "Normal (h)": rows["baseline_median_minutes"].astype("float64") / 60,
            "Robust z": rows["robust_z"].astype("float64"),
            "Direction": rows["outlier_direction"],
            "Baseline": rows["baseline_method"],
            "Changes in baseline": rows["baseline_count"].astype("int64"),
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
        }
    ).reset_index(drop=True)


def deployment_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
            "Team": rows["team"],
            "Service": rows["service"],
            "Deployed at (UTC)": rows["deployed_at"],
            "Measure": rows["measure"].map(MEASURE_LABELS),
            "Value": _unit_column(rows, "measure", "value"),
            "Normal": _unit_column(rows, "measure", "baseline_median"),
            "Robust z": rows["robust_z"].astype("float64"),
            "Direction": rows["outlier_direction"],
            "Baseline": rows["baseline_method"],
            "Deployments in baseline": rows["baseline_count"].astype("int64"),
            "Failed": rows["is_failure"],
        }
    ).reset_index(drop=True)


def anomaly_table(rows: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Team view": [widgets.team_link(team, filters) for team in rows["team"]],
            "Week": rows["week_start"],
            "Metric": rows["metric"].map(METRIC_LABELS),
            "This week": _unit_column(rows, "metric", "value"),
            "Week before": _unit_column(rows, "metric", "previous_value"),
            "Normal": _unit_column(rows, "metric", "baseline_median"),
            "Robust z": rows["robust_z"].astype("float64"),
            "Worse": rows["is_worse"],
            "Weeks in baseline": rows["baseline_weeks"].astype("int64"),
        }
    ).reset_index(drop=True)


def normals_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Week": rows["week_start"],
            "Metric": rows["metric"].map(METRIC_LABELS),
            "This week": _unit_column(rows, "metric", "value"),
            "Normal": _unit_column(rows, "metric", "baseline_median"),
            "Robust z": rows["robust_z"].astype("float64"),
            "Anomaly": rows["is_anomaly"],
            "Weeks in baseline": rows["baseline_weeks"].astype("int64"),
        }
    ).reset_index(drop=True)


def _listed(values: object) -> str:
    if values is None or (not isinstance(values, list | tuple) and fmt.is_missing(values)):
        return ""
    return "; ".join(str(value) for value in list(values))


def suggestion_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Month": rows["period_start"],
            "Complete month": rows["is_complete_period"],
            "Phase": rows["phase"],
            "Next milestone": rows["next_milestone"],
            "Missing": [_listed(value) for value in rows["missed_criteria"]],
            "Not measured": [_listed(value) for value in rows["unmeasured_criteria"]],
            "Deploy days / week (median)": rows["deploy_days_per_week_median"].astype("float64"),
            "Lead time median (h)": rows["lead_time_median_minutes"].astype("float64") / 60,
            "Change failure rate (%)": rows["change_failure_rate"].astype("float64") * 100,
            "Time to restore median (h)": rows["time_to_restore_median_minutes"].astype("float64") / 60,
            "Pipeline ≤ 2 h": rows["pipeline_duration_criterion"],
            "Biggest lead-time phase": rows["biggest_lead_time_phase"],
            "Its share (%)": rows["biggest_lead_time_phase_share"].astype("float64") * 100,
            "Advice": rows["advice"],
        }
    ).reset_index(drop=True)


def _number(label: str, help_text: str, fmt_text: str = "%.1f") -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, help=help_text, format=fmt_text)


Z_HELP = "0.6745 · (value − median) / MAD of the baseline; beyond ±3 is an outlier (docs/metrics.md)."


def _render_suggestions(path, filters: Filters, teams: list[str] | None) -> None:
    st.subheader("Each team on the path: weekly → daily → a hundred a day")
    rows = queries.team_suggestions(path, filters.end, teams)
    if rows.empty:
        st.info("No team has a month of figures on or before the end of the period.")
        return
    st.caption(
        "Each team's latest complete month ending by the end of the period (its latest month when none is "
        "complete). The deploy pipeline criterion (≤ 2 h) is not measured yet: it neither meets nor blocks."
    )
    widgets.table(
        suggestion_table(rows),
        "team_suggestions.csv",
        "team_suggestions",
        column_config={
            "Lead time median (h)": widgets.hours("Lead time median (h)", "Median over the month's changes"),
            "Change failure rate (%)": widgets.percent("Change failure rate (%)", "Over the month"),
            "Time to restore median (h)": widgets.hours("Time to restore median (h)", "Over the month"),
            "Its share (%)": widgets.percent("Its share (%)", "Share of the mean lead time"),
        },
    )
    for row in rows.itertuples():
        missing = _listed(row.missed_criteria) or "nothing"
        st.markdown(
            f"**{row.team}** · phase *{row.phase}* · next: *{row.next_milestone}* (missing: {missing})"
        )
        st.caption(str(row.advice))


def _render_change_outliers(path, filters: Filters, grouping: str, teams, services) -> None:
    st.subheader("Changes beyond their normal lead time")
    rows = queries.change_outliers(path, filters.start, filters.end, grouping, teams, services)
    if rows.empty:
        st.info("No change deployed in this period has a lead time beyond its normal.")
        return
    widgets.table(
        change_table(rows),
        "change_outliers.csv",
        "change_outliers",
        column_config={
            "Deployed at (UTC)": widgets.when("Deployed at (UTC)"),
            "Lead time (h)": widgets.hours("Lead time (h)", "First commit to first production deployment"),
            "Normal (h)": widgets.hours("Normal (h)", "Median lead time of the 90 days before"),
            "Robust z": _number("Robust z", Z_HELP, "%+.1f"),
            "Deployment": widgets.link_column("Deployment", "Its deployment card", "Open"),
        },
    )
    picked = st.selectbox(
        "Where did the time go?",
        options=list(rows["change_id"]),
        key=CHANGE_PICK_KEY,
        help="The phases of one flagged change.",
    )
    change = rows[rows["change_id"] == picked].iloc[0]
    columns = st.columns(5)
    for column, (label, key) in zip(
        columns,
        [
            ("Coding", "coding_minutes"),
            ("Pickup", "pickup_minutes"),
            ("Review", "review_minutes"),
            ("Deploy", "deploy_minutes"),
            ("Lead time", "lead_time_minutes"),
        ],
        strict=True,
    ):
        column.metric(label, fmt.format_duration(change[key]), border=True)


def _render_deployment_outliers(path, filters: Filters, grouping: str, teams, services) -> None:
    st.subheader("Deployments beyond their normal")
    rows = queries.deployment_outliers(path, filters.start, filters.end, grouping, teams, services)
    if rows.empty:
        st.info("No production deployment in this period shipped or restored beyond its normal.")
        return
    widgets.table(
        deployment_table(rows),
        "deployment_outliers.csv",
        "deployment_outliers",
        column_config={
            "Deployment": widgets.link_column("Deployment", "Its deployment card", "Open"),
            "Deployed at (UTC)": widgets.when("Deployed at (UTC)"),
            "Value": _number("Value", "Commits, pull requests, or hours to restore"),
            "Normal": _number("Normal", "Median of the 90 days before"),
            "Robust z": _number("Robust z", Z_HELP, "%+.1f"),
        },
    )


def _render_anomalies(path, filters: Filters, teams) -> None:
    st.subheader("Weeks that moved sharply")
    st.caption("A team's weekly figure against its 13 complete weeks before (at least 8 with a figure).")
    rows = queries.weekly_anomalies(path, filters.start, filters.end, teams)
    if rows.empty:
        st.info("No team week in this period moved beyond its normal.")
    else:
        widgets.table(
            anomaly_table(rows, filters),
            "weekly_anomalies.csv",
            "weekly_anomalies",
            column_config={
                "Team view": widgets.link_column("Team view", "The team on the Teams page", "Open"),
                "Robust z": _number("Robust z", Z_HELP, "%+.1f"),
            },
        )
    normals = queries.latest_weekly_normals(path, filters.end, teams)
    if not normals.empty:
        with st.expander("Every team's latest complete week against its normal"):
            widgets.table(
                normals_table(normals),
                "weekly_normals.csv",
                "weekly_normals",
                column_config={"Robust z": _number("Robust z", Z_HELP, "%+.1f")},
            )


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Outliers & suggestions")
    widgets.caption(filters)
    try:
        if not queries.has_marts(path, queries.OUTLIER_MARTS):
            st.info(
                "This warehouse has no outlier or suggestion marts yet: a refresh with this version of "
                "deploylens builds them."
            )
            return
        if widgets.explain_no_production(path):
            return
        teams = filters.teams or None
        services = filters.services or None
        if filters.is_sliced:
            teams = queries.scoped_teams(
                path, filters.teams, filters.departments, filters.languages, filters.labels
            )
            services = queries.scoped_services(
                path, filters.teams, filters.services, filters.departments, filters.languages, filters.labels
            )
            if not teams or not services:
                st.info("No team or service matches the department, language and label filters.")
                return
        _render_suggestions(path, filters, teams)
        grouping = st.radio(
            "Compare each change and deployment with",
            options=list(GROUPINGS),
            format_func=GROUPINGS.get,
            key=GROUPING_KEY,
            horizontal=True,
        )
        _render_change_outliers(path, filters, grouping, teams, services)
        _render_deployment_outliers(path, filters, grouping, teams, services)
        _render_anomalies(path, filters, teams)
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
