"""Lead time: where a change's time goes (coding, pickup, review, deploy) per team over time, the spread
(median, p75, p90) and the slowest changes, each linked to the deployment that shipped it.

Rows are `marts.fct_changes` whose first production deployment falls in the period; phases are the mart's
columns (docs/metrics.md).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters

PHASE_ORDER = ["coding", "pickup", "review", "deploy"]


def distribution_table(rows: pd.DataFrame) -> pd.DataFrame:
    hours = {
        "Median (h)": "lead_time_median_minutes",
        "p75 (h)": "lead_time_p75_minutes",
        "p90 (h)": "lead_time_p90_minutes",
        "Coding median (h)": "coding_median_minutes",
        "Pickup median (h)": "pickup_median_minutes",
        "Review median (h)": "review_median_minutes",
        "Deploy median (h)": "deploy_median_minutes",
    }
    table = pd.DataFrame({"Team": rows["team"], "Changes": rows["changes"].astype("int64")})
    for label, column in hours.items():
        table[label] = rows[column].map(fmt.minutes_to_hours).astype("float64")
    return table.reset_index(drop=True)


def _phase_chart(weekly: pd.DataFrame) -> alt.Chart:
    data = weekly.assign(
        week_start=pd.to_datetime(weekly["week_start"]), hours=weekly["mean_minutes"].astype("float64") / 60
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("week_start:T", title="Week"),
            y=alt.Y("hours:Q", title="Mean hours per change", stack=True),
            color=alt.Color("phase:N", sort=PHASE_ORDER, title="Phase"),
            order=alt.Order("phase_order:Q"),
            tooltip=[
                alt.Tooltip("team:N", title="Team"),
                alt.Tooltip("week_start:T", title="Week"),
                alt.Tooltip("phase:N", title="Phase"),
                alt.Tooltip("hours:Q", format=".1f", title="Hours (mean)"),
                alt.Tooltip("changes:Q", title="Changes"),
            ],
        )
        .transform_calculate(phase_order=f"indexof({PHASE_ORDER!r}, datum.phase)")
        .properties(height=180)
        .facet(row=alt.Row("team:N", title=None))
    )


def _distribution_chart(table: pd.DataFrame) -> alt.Chart:
    data = table.melt(id_vars=["Team"], value_vars=["Median (h)", "p75 (h)", "p90 (h)"], var_name="Statistic")
    return (
        alt.Chart(data.dropna())
        .mark_bar()
        .encode(
            y=alt.Y("Team:N"),
            x=alt.X("value:Q", title="Lead time (hours)"),
            yOffset=alt.YOffset("Statistic:N"),
            color=alt.Color("Statistic:N", sort=["Median (h)", "p75 (h)", "p90 (h)"]),
            tooltip=["Team:N", "Statistic:N", alt.Tooltip("value:Q", format=".1f", title="Hours")],
        )
        .properties(title="Lead time distribution per team", height=max(140, 60 * len(table)))
    )


def slowest_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Change": rows["change_id"],
            "Title": rows["title"],
            "Author": rows["author_login"],
            "Team": rows["team"],
            "Service": rows["service"],
            "Lead time (h)": rows["lead_time_minutes"].map(fmt.minutes_to_hours).astype("float64"),
            "Coding (h)": rows["coding_minutes"].map(fmt.minutes_to_hours),
            "Pickup (h)": rows["pickup_minutes"].map(fmt.minutes_to_hours),
            "Review (h)": rows["review_minutes"].map(fmt.minutes_to_hours),
            "Deploy (h)": rows["deploy_minutes"].map(fmt.minutes_to_hours),
            "Deployed at (UTC)": rows["deployed_at"],
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
        }
    ).reset_index(drop=True)


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Lead time")
    widgets.caption(filters)
    try:
        if widgets.explain_no_production(path):
            return
        filters = widgets.sliced(path, filters)
        if filters is None:
            st.info("No service matches the department, language and label filters in the sidebar.")
            return
        args = (path, filters.start, filters.end, filters.teams, filters.services)
        distribution = queries.lead_time_distribution(*args)
        if distribution.empty:
            st.info(
                "No change reached production in this period for this selection. Widen the date range or "
                "clear the team and service filters."
            )
            return
        table = distribution_table(distribution)
        st.subheader("Distribution per team")
        widgets.chart(_distribution_chart(table), "lead_time_distribution", width="stretch")
        widgets.table(
            table,
            "lead_time_per_team.csv",
            "lead_time_table",
            column_config={
                column: widgets.hours(column, "Hours; phases are medians of their own and need not add up")
                for column in table.columns
                if column.endswith("(h)")
            },
        )

        st.subheader("Where the time goes, week by week")
        st.caption(
            "Mean hours per phase over the changes with all four phases (means add up to the mean lead "
            "time). Changes read from git history have no coding, pickup or review phase."
        )
        weekly = queries.lead_time_phases_weekly(*args)
        if weekly.empty:
            st.info("No change in this selection has all four phases (for example, all were direct pushes).")
        else:
            widgets.chart(_phase_chart(weekly), "lead_time_phases", width="stretch")

        st.subheader("Slowest changes")
        slowest = slowest_table(queries.slowest_changes(*args))
        widgets.table(
            slowest,
            "slowest_changes.csv",
            "slowest_changes",
            column_config={
                "Deployment": widgets.link_column(
                    "Deployment", "The deployment card that shipped it", "Open card"
                ),
                "Deployed at (UTC)": widgets.when("Deployed at (UTC)"),
                "Lead time (h)": widgets.hours(
                    "Lead time (h)", "First commit to first production deployment"
                ),
            },
        )
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
