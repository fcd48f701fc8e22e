"""Failures & recovery: change failure rate, time to restore and time to detect by failure signal (incident,
rollback, revert, hotfix, alert), open failures and the rework rate; per team week by week; the failed
production deployments with the signals that failed them, how they recovered and the incidents blamed on them.

The period figures are `fct_deployments` (is_failure, failure_signals, time_to_detect_minutes, is_rework);
weekly figures are `marts.dora_team_weekly` and `marts.dora_rollup_weekly`; the lists are `fct_deployments`
and `fct_incidents`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters


def _weekly_chart(weekly: pd.DataFrame, column: str, title: str, axis: str, scale: float) -> alt.Chart:
    data = weekly[["team", "week_start", column, "deployments", "failed_deployments"]].copy()
    data["week_start"] = pd.to_datetime(data["week_start"])
    data["value"] = data[column].astype("float64") * scale
    return (
        alt.Chart(data.dropna(subset=["value"]))
        .mark_line(point=True)
        .encode(
            x=alt.X("week_start:T", title="Week"),
            y=alt.Y("value:Q", title=axis),
            color=alt.Color("team:N", title="Team"),
            tooltip=[
                alt.Tooltip("team:N", title="Team"),
                alt.Tooltip("week_start:T", title="Week"),
                alt.Tooltip("value:Q", format=".1f", title=axis),
                alt.Tooltip("failed_deployments:Q", title="Failed deployments"),
                alt.Tooltip("deployments:Q", title="Production deployments"),
            ],
        )
        .properties(title=title, height=240)
    )


def signal_list(signals: object) -> str:
    """A deployment's failure_signals as the page writes them: 'hotfix, incident'."""
    if signals is None or isinstance(signals, float):
        return ""
    return ", ".join(str(signal) for signal in signals)


def failures_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Deployed at (UTC)": rows["deployed_at"],
            "Team": rows["team"],
            "Service": rows["service"],
            "Failed by": rows["failure_signals"].map(signal_list),
            "Detected at (UTC)": rows["first_failure_signal_at"],
            "Time to detect (h)": rows["time_to_detect_minutes"].map(fmt.minutes_to_hours),
            "Recovery": rows["recovery_kind"].map(fmt.recovery_label),
            "Incidents": rows["incidents"].astype("int64"),
            "Incident titles": rows["incident_titles"],
            "Recovered at (UTC)": rows["recovered_at"],
            "Time to restore (h)": rows["time_to_restore_minutes"].map(fmt.minutes_to_hours),
            "Open": rows["is_open"].astype(bool),
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
        }
    ).reset_index(drop=True)


def signal_table(by_signal: pd.DataFrame) -> pd.DataFrame:
    """The period's failures per signal, in the page's units."""
    hours = fmt.minutes_to_hours
    return pd.DataFrame(
        {
            "Signal": by_signal["signal"],
            "Failed deployments": by_signal["failed_deployments"].astype("int64"),
            "Change failure rate (%)": by_signal["change_failure_rate"].astype("float64") * 100,
            "Time to restore median (h)": by_signal["time_to_restore_median_minutes"].map(hours),
            "Time to detect median (h)": by_signal["time_to_detect_median_minutes"].map(hours),
            "Open failures": by_signal["open_failures"].astype("int64"),
        }
    ).reset_index(drop=True)


def _render_by_signal(path, filters) -> None:
    st.subheader("In the period, by failure signal")
    period = (filters.start, filters.end, filters.teams, filters.services)
    summary = queries.rework_summary(path, *period).iloc[0]
    deployments = int(summary["deployments"])
    if deployments == 0:
        st.info("No production deployment in this period for this selection: no failure or rework rate.")
        return
    by_signal = queries.failures_by_signal(path, *period)
    overall = by_signal[by_signal["signal"] == "any signal"].iloc[0]
    cards = [
        (
            "Change failure rate",
            fmt.format_rate(overall["change_failure_rate"]),
            "Share of production deployments any signal failed.",
        ),
        (
            "Time to restore",
            fmt.format_duration(overall["time_to_restore_median_minutes"]),
            "Median time from a failed deployment to its recovery.",
        ),
        (
            "Time to detect",
            fmt.format_duration(overall["time_to_detect_median_minutes"]),
            "Median time from a failed deployment to its first failure signal.",
        ),
        (
            "Open failures",
            f"{int(summary['open_failures'])}",
            "Failed deployments of the period not recovered yet.",
        ),
        (
            "Rework rate",
            fmt.format_rate(summary["rework_rate"]),
            f"{int(summary['rework_deployments'])} of {deployments} production deployments were unplanned "
            "fix work: a rollback, or shipping a revert or a hotfix.",
        ),
    ]
    for column, (label, value, help_text) in zip(st.columns(len(cards)), cards, strict=True):
        with column:
            st.metric(label, value, help=help_text, border=True)
    widgets.table(
        signal_table(by_signal),
        "failures_by_signal.csv",
        "failures_by_signal",
        column_config={
            "Change failure rate (%)": widgets.percent(
                "Change failure rate (%)", "Production deployments this signal failed, of all of them"
            ),
            "Time to restore median (h)": widgets.hours(
                "Time to restore median (h)", "Of the deployments this signal failed"
            ),
            "Time to detect median (h)": widgets.hours(
                "Time to detect median (h)", "Deployment to its first failure signal (any signal)"
            ),
        },
    )
    st.caption(
        "A deployment failed by two signals counts under both; its time to detect runs to the first signal "
        "of any kind. 'any signal' is the change failure rate of the four keys."
    )


def _render_rework_weeks(path, filters, teams: list[str]) -> None:
    weeks = queries.team_failure_weeks(path, filters.start, filters.end, teams)
    if weeks.empty:
        return
    weeks = weeks.assign(deployments=weeks["deployments"], failed_deployments=weeks["failed_deployments"])
    left, right = st.columns(2)
    with left:
        widgets.chart(
            _weekly_chart(weeks, "rework_rate", "Rework rate", "% of deployments", 100),
            "failures_weekly",
            width="stretch",
        )
    with right:
        widgets.chart(
            _weekly_chart(
                weeks, "time_to_detect_median_minutes", "Time to detect, weekly median", "Hours", 1 / 60
            ),
            "failures_weekly",
            width="stretch",
        )
    open_weeks = weeks[weeks["open_failures"] > 0]
    if not open_weeks.empty:
        still_open = int(open_weeks["open_failures"].sum())
        st.caption(f"{still_open} failed deployments of these weeks are not recovered yet.")


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Failures & recovery")
    widgets.caption(filters)
    try:
        if widgets.explain_no_production(path):
            return
        filters = widgets.sliced(path, filters)
        if filters is None:
            st.info("No service matches the department, language and label filters in the sidebar.")
            return
        teams = filters.teams or queries.team_names(path)
        _render_by_signal(path, filters)
        weekly = queries.team_weekly(path, filters.start, filters.end, teams)
        st.subheader("Week by week")
        if weekly.empty or int(weekly["deployments"].sum()) == 0:
            st.info("No production deployment in this period for these teams, so no failure rate to show.")
        else:
            left, right = st.columns(2)
            with left:
                widgets.chart(
                    _weekly_chart(
                        weekly, "change_failure_rate", "Change failure rate", "% of deployments", 100
                    ),
                    "failures_weekly",
                    width="stretch",
                )
            with right:
                widgets.chart(
                    _weekly_chart(
                        weekly,
                        "time_to_restore_median_minutes",
                        "Time to restore, weekly median",
                        "Hours",
                        1 / 60,
                    ),
                    "failures_weekly",
                    width="stretch",
                )
            if filters.services:
                st.caption(
                    "Weekly figures are per team (all its services); the lists below follow the service "
                    "filter."
                )
        _render_rework_weeks(path, filters, teams)

        st.subheader("Failed deployments")
        failed = queries.failed_deployments(path, filters.start, filters.end, filters.teams, filters.services)
        if failed.empty:
            st.info("No production deployment failed in this period for this selection.")
        else:
            widgets.table(
                failures_table(failed),
                "failed_deployments.csv",
                "failed_deployments",
                column_config={
                    "Deployed at (UTC)": widgets.when("Deployed at (UTC)"),
                    "Recovered at (UTC)": widgets.when("Recovered at (UTC)"),
                    "Time to restore (h)": widgets.hours(
                        "Time to restore (h)", "Failed deployment to recovery"
                    ),
                    "Detected at (UTC)": widgets.when("Detected at (UTC)"),
                    "Time to detect (h)": widgets.hours(
                        "Time to detect (h)", "Deployment to its first failure signal"
                    ),
                    "Recovery": st.column_config.TextColumn(
                        help="What recovered it first: incident resolved, rolled back or fix deployed"
                    ),
                    "Deployment": widgets.link_column("Deployment", "Its deployment card", "Open card"),
                    "Open": st.column_config.CheckboxColumn(help="Not recovered yet"),
                },
            )

        st.subheader("Open failures")
        open_failed = failed[failed["is_open"].astype(bool)] if not failed.empty else failed
        incidents = queries.open_incidents(path, filters.teams, filters.services)
        if open_failed.empty and incidents.empty:
            st.success(
                "Nothing open: every failed deployment in the period recovered and no incident is unresolved."
            )
        else:
            if not open_failed.empty:
                st.markdown(f"**{len(open_failed)} failed deployments in the period not recovered yet**")
                widgets.table(failures_table(open_failed), "open_failures.csv", "open_failures")
            if not incidents.empty:
                st.markdown(f"**{len(incidents)} unresolved incidents** (any period)")
                incidents = incidents.assign(
                    deployment=[widgets.deployment_link(value) for value in incidents["deployment_id"]]
                )
                widgets.table(
                    incidents,
                    "open_incidents.csv",
                    "open_incidents",
                    column_config={
                        "created_at": widgets.when("Started (UTC)"),
                        "acknowledged_at": widgets.when("Acknowledged (UTC)"),
                        "deployment": widgets.link_column(
                            "Blamed deployment", "Its deployment card", "Open card"
                        ),
                    },
                )
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
