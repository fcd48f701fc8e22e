"""Services: the four keys per service, its environments (as the deployments name them) and its deploy rules.

`dora_summary` is per team, so the per-service figures are the same definitions applied to the facts in
`app/queries.py` (`service_summary`): successful production deployments on their deploy day, their failures
and restores, the lead times of the changes they shipped first.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import Filters, current_filters


def service_table(
    rows: pd.DataFrame, filters: Filters, levels: widgets.PeriodLevels | None = None
) -> pd.DataFrame:
    """One row per service; with `levels` (a warehouse with the bands), a level column beside each key."""
    rows = rows.reset_index(drop=True)
    table = pd.DataFrame(
        {
            "Service": rows["service"],
            "Team": rows["team"],
            "Team view": [widgets.team_link(team, filters) for team in rows["team"]],
            "Repository": rows["repository"],
            "Environments": rows["environments"].fillna(""),
            "Deployments": rows["deployments"].astype("int64"),
            "Per week": rows["deployments_per_week"].astype("float64"),
            "Failed": rows["failed_deployments"].astype("int64"),
            "Change failure rate (%)": rows["change_failure_rate"].astype("float64") * 100,
            "Time to restore median (h)": rows["time_to_restore_median_minutes"].map(fmt.minutes_to_hours),
            "Changes": rows["changes"].astype("int64"),
            "Lead time median (h)": rows["lead_time_median_minutes"].map(fmt.minutes_to_hours),
            "Lead time p90 (h)": rows["lead_time_p90_minutes"].map(fmt.minutes_to_hours),
        }
    )
    if levels is None or levels.frame is None:
        return table
    for after, label, metric in SERVICE_LEVELS:
        position = table.columns.get_loc(after) + 1
        table.insert(position, label, levels.column(rows["service"], metric))
    return table


# Where each level column goes: after the figure it bands.
SERVICE_LEVELS = (
    ("Per week", "Frequency level", "deployment_frequency"),
    ("Change failure rate (%)", "Failure rate level", "change_failure_rate"),
    ("Time to restore median (h)", "Restore level", "time_to_restore"),
    ("Lead time median (h)", "Lead time level", "lead_time"),
)


def _render_chart(table: pd.DataFrame) -> None:
    data = table[["Service", "Team", "Per week", "Change failure rate (%)", "Lead time median (h)"]]
    chart = (
        alt.Chart(data)
        .mark_circle(size=120)
        .encode(
            x=alt.X("Per week:Q", title="Production deployments / week"),
            y=alt.Y("Lead time median (h):Q", title="Lead time median (hours)"),
            color=alt.Color("Team:N"),
            tooltip=[
                "Service:N",
                "Team:N",
                alt.Tooltip("Per week:Q", format=".1f", title="Deployments / week"),
                alt.Tooltip("Lead time median (h):Q", format=".1f", title="Lead time median (h)"),
                alt.Tooltip("Change failure rate (%):Q", format=".1f", title="Change failure rate (%)"),
            ],
        )
        .properties(title="Throughput against lead time, per service", height=320)
    )
    widgets.chart(chart, "services_chart", width="stretch")


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Services")
    widgets.caption(filters)
    try:
        # Without production deployments the figures are empty; the environments below show where they go.
        no_production = widgets.explain_no_production(path)
        services = filters.services
        if filters.is_sliced:
            services = queries.scoped_services(
                path, filters.teams, filters.services, filters.departments, filters.languages, filters.labels
            )
            if not services:
                st.info("No service matches the department, language and label filters in the sidebar.")
                return
        rows = queries.service_summary(path, filters.start, filters.end, filters.teams, services)
        if rows.empty:
            st.info("No service matches the teams and services chosen in the sidebar.")
            return
        levels = widgets.period_levels(path, filters, "service", filters.teams, services)
        table = service_table(rows, filters, levels)
        measures = queries.delivery_measures(
            path, filters.start, filters.end, "service", filters.teams, services
        )
        table = pd.concat([table, widgets.delivery_columns(table["Service"], measures)], axis=1)
        st.subheader("Every service")
        if levels.frame is not None:
            widgets.levels_note(levels)
        if int(table["Deployments"].sum()) == 0 and not no_production:
            st.info("No production deployment of these services in this period. Widen the date range.")
        widgets.table(
            table,
            "services.csv",
            "services_table",
            column_config={
                **widgets.delivery_column_config(),
                "Team view": widgets.link_column(
                    "Team view", "The owning team on the Teams page", "Open team"
                ),
                "Per week": st.column_config.NumberColumn(
                    help="Successful production deployments per week", format="%.1f"
                ),
                "Change failure rate (%)": widgets.percent(
                    "Change failure rate (%)", "Failed production deployments / production deployments"
                ),
                "Time to restore median (h)": widgets.hours(
                    "Time to restore median (h)", "Failed deployment to recovery"
                ),
                "Lead time median (h)": widgets.hours(
                    "Lead time median (h)", "First commit to first production deployment"
                ),
                "Lead time p90 (h)": widgets.hours("Lead time p90 (h)", "90th percentile of lead time"),
            },
        )
        if int(table["Deployments"].sum()) > 0:
            _render_chart(table)

        st.subheader("Environments")
        st.caption("Every environment the services deployed to (all time), as the deploy rules map them.")
        environments = queries.service_environments(path, filters.teams, services, filters.environments)
        if environments.empty:
            st.info("No deployments to the chosen environments.")
        else:
            widgets.table(
                environments,
                "service_environments.csv",
                "service_environments",
                column_config={
                    "last_deployed_at": widgets.when("Last deployment (UTC)"),
                    "source_environments": st.column_config.TextColumn(
                        "Named at the source", help="Environment names as the deployment source reports them"
                    ),
                },
            )
        rules = queries.deploy_rules(path)
        st.subheader("Deploy rules")
        if rules.empty:
            st.caption("This warehouse carries no deploy rules (they come from the configuration file).")
        else:
            if "service" in rules.columns and services:
                rules = rules[rules["service"].isin(services)]
            widgets.table(rules, "deploy_rules.csv", "deploy_rules")
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
