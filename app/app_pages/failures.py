"""Failures & recovery: change failure rate and time to restore per team week by week, the failed production
deployments with the signal that failed them and the incidents blamed on them, and what is still open.

Weekly figures are `marts.dora_team_weekly`; the lists are `fct_deployments` (is_failure) and `fct_incidents`.
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


def failures_table(rows: pd.DataFrame) -> pd.DataFrame:
    signals = [
        ", ".join(name for name, hit in (("incident", incident), ("rollback", rollback)) if hit)
        for incident, rollback in zip(rows["has_incident_failure"], rows["has_rollback_failure"], strict=True)
    ]
    return pd.DataFrame(
        {
            "Deployed at (UTC)": rows["deployed_at"],
            "Team": rows["team"],
            "Service": rows["service"],
            "Failed by": signals,
            "Incidents": rows["incidents"].astype("int64"),
            "Incident titles": rows["incident_titles"],
            "Recovered at (UTC)": rows["recovered_at"],
            "Time to restore (h)": rows["time_to_restore_minutes"].map(fmt.minutes_to_hours),
            "Open": rows["is_open"].astype(bool),
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
        }
    ).reset_index(drop=True)


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Failures & recovery")
    widgets.caption(filters)
    try:
        teams = filters.teams or queries.team_names(path)
        weekly = queries.team_weekly(path, filters.start, filters.end, teams)
        st.subheader("Week by week")
        if weekly.empty or int(weekly["deployments"].sum()) == 0:
            st.info("No production deployment in this period for these teams, so no failure rate to show.")
        else:
            left, right = st.columns(2)
            with left:
                st.altair_chart(
                    _weekly_chart(
                        weekly, "change_failure_rate", "Change failure rate", "% of deployments", 100
                    ),
                    width="stretch",
                )
            with right:
                st.altair_chart(
                    _weekly_chart(
                        weekly,
                        "time_to_restore_median_minutes",
                        "Time to restore, weekly median",
                        "Hours",
                        1 / 60,
                    ),
                    width="stretch",
                )
            if filters.services:
                st.caption(
                    "Weekly figures are per team (all its services); the lists below follow the service "
                    "filter."
                )

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
