"""Overview: the four DORA metrics for the org, per team, and week by week.

Every number comes from the marts (`dora_summary`, `dora_org_weekly`, `dora_team_weekly`); the levels are
the chosen report year's bands over the period (`queries.period_levels`); this page only chooses units and
colours.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import Filters, current_filters

METRICS_DOC = "docs/metrics.md"
FOUR_KEYS = ("Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore")


def _org_row(summary: pd.DataFrame) -> pd.Series | None:
    rows = summary[summary["team"] == queries.ORG_TEAM]
    return None if rows.empty else rows.iloc[0]


def _comparable(previous: pd.Series | None) -> pd.Series | None:
    """A previous period before the data begins has nothing to compare with: no delta, not a 'rise'."""
    if previous is None or fmt.is_missing(previous["deployments"]) or int(previous["deployments"]) == 0:
        return None
    return previous


def _difference(current: pd.Series, previous: pd.Series | None, column: str) -> float | None:
    if previous is None or fmt.is_missing(current[column]) or fmt.is_missing(previous[column]):
        return None
    return float(current[column]) - float(previous[column])


def _with_rework(org: pd.Series, path, start, end, teams: list[str]) -> pd.Series:
    """The org row with the period's rework rate (fct_deployments.is_rework) beside the four keys."""
    rework = queries.rework_summary(path, start, end, teams).iloc[0]
    return pd.concat([org, pd.Series({"rework_rate": rework["rework_rate"]})])


def _render_headline(
    org: pd.Series, previous: pd.Series | None, filters: Filters, levels: widgets.PeriodLevels
) -> None:
    """Five cards in one row. Labels and values stay short (the unit in the label where it is a rate) so a
    card reads whole from 1280 px wide; the full names are in each card's help."""
    previous_start, previous_end = filters.compare
    compared = f"Change against {previous_start:%Y-%m-%d} – {previous_end:%Y-%m-%d}."
    year = levels.report_year
    cards = [
        (
            "Deploys / week",
            fmt.format_number(org["deployments_per_week"]),
            fmt.format_number_delta(_difference(org, previous, "deployments_per_week")),
            "normal",
            "deployment_frequency",
            "Deployment frequency: successful production deployments per week of loaded data. The level "
            "bands deploy days (or deployments, as the report year's bands count) over the period's loaded "
            f"days. {compared}",
        ),
        (
            "Lead time",
            fmt.format_duration(org["lead_time_median_minutes"]),
            fmt.format_duration_delta(_difference(org, previous, "lead_time_median_minutes")),
            "inverse",
            "lead_time",
            "Lead time for changes: the median time from a change's first commit to its first production "
            f"deployment. {compared}",
        ),
        (
            "Failure rate",
            fmt.format_rate(org["change_failure_rate"]),
            fmt.format_rate_delta(_difference(org, previous, "change_failure_rate")),
            "inverse",
            "change_failure_rate",
            "Change failure rate: the share of production deployments that caused a failure (incident or "
            f"rollback). {compared}",
        ),
        (
            "Time to restore",
            fmt.format_duration(org["time_to_restore_median_minutes"]),
            fmt.format_duration_delta(_difference(org, previous, "time_to_restore_median_minutes")),
            "inverse",
            "time_to_restore",
            f"Time to restore: the median time from a failed deployment to its recovery. {compared}",
        ),
        (
            "Rework rate",
            fmt.format_rate(org["rework_rate"]),
            fmt.format_rate_delta(_difference(org, previous, "rework_rate")),
            "inverse",
            None,
            "Share of production deployments that were unplanned fix work: a rollback, or shipping a revert "
            f"or a hotfix (DORA 2024's fifth metric; no report year's bands give it a level). {compared}",
        ),
    ]
    for column, (label, value, delta, delta_color, metric, help_text) in zip(
        st.columns(len(cards)), cards, strict=True
    ):
        with column:
            st.metric(label, value, delta=delta, delta_color=delta_color, help=help_text, border=True)
            if metric is not None:
                level = levels.level(queries.ORG_TEAM, metric, org)
                st.badge(f"DORA {year}: {fmt.level_label(level)}", color=fmt.level_color(level))


def _team_table(summary: pd.DataFrame, filters: Filters, levels: widgets.PeriodLevels) -> pd.DataFrame:
    teams = summary[summary["team"] != queries.ORG_TEAM].reset_index(drop=True)
    table = pd.DataFrame(
        {
            "Team": teams["team"],
            "Team view": [widgets.team_link(team, filters) for team in teams["team"]],
            "Deployments": teams["deployments"],
            "Per week": teams["deployments_per_week"],
            "Deploy days / week (median)": teams["deploy_days_per_week_median"],
            "Frequency level": levels.column(teams["team"], "deployment_frequency", teams),
            "Lead time median (h)": teams["lead_time_median_minutes"].map(fmt.minutes_to_hours),
            "Lead time p90 (h)": teams["lead_time_p90_minutes"].map(fmt.minutes_to_hours),
            "Lead time level": levels.column(teams["team"], "lead_time", teams),
            "Change failure rate (%)": teams["change_failure_rate"] * 100,
            "Failure rate level": levels.column(teams["team"], "change_failure_rate", teams),
            "Time to restore median (h)": teams["time_to_restore_median_minutes"].map(fmt.minutes_to_hours),
            "Restore level": levels.column(teams["team"], "time_to_restore", teams),
        }
    )
    return table.sort_values("Team").reset_index(drop=True)


def _render_team_table(summary: pd.DataFrame, filters: Filters, levels: widgets.PeriodLevels) -> None:
    st.subheader("By team")
    table = _team_table(summary, filters, levels)
    if table.empty:
        st.info("No team had production deployments or changes in this period.")
        return
    number = st.column_config.NumberColumn
    widgets.table(
        table,
        "overview_teams.csv",
        "overview_teams",
        column_config={
            "Team view": widgets.link_column("Team view", "The team on the Teams page", "Open"),
            "Per week": number(format="%.1f"),
            "Deploy days / week (median)": number(format="%.1f"),
            "Lead time median (h)": number(format="%.1f"),
            "Lead time p90 (h)": number(format="%.1f"),
            "Change failure rate (%)": number(format="%.1f"),
            "Time to restore median (h)": number(format="%.1f"),
        },
    )


MOVE_LABELS = {
    "deployments_per_week": "Deployments / week",
    "lead_time_median_minutes": "Lead time median (h)",
    "change_failure_rate": "Change failure rate (%)",
    "time_to_restore_median_minutes": "Time to restore median (h)",
}
MOVES_SHOWN = 10


def moves_table(moves: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rollup's month against the month before, per team and metric, in the units of their labels."""
    scale = moves["metric"].map(
        {
            "deployments_per_week": 1.0,
            "lead_time_median_minutes": 1 / 60,
            "change_failure_rate": 100.0,
            "time_to_restore_median_minutes": 1 / 60,
        }
    )
    return pd.DataFrame(
        {
            "Team": moves["team"],
            "Team view": [widgets.team_link(team, filters) for team in moves["team"]],
            "Month": moves["period_start"],
            "Metric": moves["metric"].map(MOVE_LABELS),
            "This month": moves["value"].astype("float64") * scale,
            "Month before": moves["previous_value"].astype("float64") * scale,
            "Change (%)": moves["relative_change"].astype("float64") * 100,
            "Better": moves["is_better"],
        }
    ).reset_index(drop=True)


def _render_moves(path, filters: Filters) -> None:
    if not queries.has_marts(path, ("dora_rollup_monthly",)):
        return
    moves = queries.teams_that_moved(path, filters.end, filters.teams)
    st.subheader("Teams that moved most")
    if moves.empty:
        st.info("No team has two months of figures to compare yet.")
        return
    month = pd.Timestamp(moves["period_start"].iloc[0])
    complete = bool(moves["is_complete_period"].iloc[0])
    st.caption(
        f"{month:%B %Y}{'' if complete else ' (not complete yet)'} against the month before, from the "
        f"monthly rollup: the {MOVES_SHOWN} largest relative changes of a team's four keys."
    )
    widgets.table(
        moves_table(moves.head(MOVES_SHOWN), filters),
        "teams_that_moved.csv",
        "teams_that_moved",
        column_config={
            "Team view": widgets.link_column("Team view", "The team on the Teams page", "Open"),
            "This month": st.column_config.NumberColumn(format="%.1f"),
            "Month before": st.column_config.NumberColumn(format="%.1f"),
            "Change (%)": st.column_config.NumberColumn(format="%+.0f %%"),
        },
    )


def _trend_chart(weekly: pd.DataFrame, column: str, title: str, axis_title: str, by_team: bool) -> alt.Chart:
    data = weekly[["week_start", column] + (["team"] if by_team else [])].copy()
    data["week_start"] = pd.to_datetime(data["week_start"])
    if column.endswith("_minutes"):
        data[column] = data[column] / 60
    elif column == "change_failure_rate":
        data[column] = data[column] * 100
    mark = alt.Chart(data).mark_bar() if column == "deployments" else alt.Chart(data).mark_line(point=True)
    encoding: dict[str, object] = {
        "x": alt.X("week_start:T", title="Week"),
        "y": alt.Y(f"{column}:Q", title=axis_title),
        "tooltip": [alt.Tooltip("week_start:T", title="Week"), alt.Tooltip(f"{column}:Q", format=".1f")],
    }
    if by_team:
        encoding["color"] = alt.Color("team:N", title="Team")
        if column == "deployments":
            encoding["xOffset"] = alt.XOffset("team:N")
    return mark.encode(**encoding).properties(title=title, height=220)


def _render_trends(filters: Filters, path) -> None:
    by_team = bool(filters.teams)
    st.subheader("Weekly trends" + (" by team" if by_team else " for the organisation"))
    if by_team:
        weekly = queries.team_weekly(path, filters.start, filters.end, filters.teams)
    else:
        weekly = queries.org_weekly(path, filters.start, filters.end)
    if weekly.empty:
        st.info("No weekly data in this period.")
        return
    charts = [
        ("deployments", "Deployments per week", "Deployments"),
        ("lead_time_median_minutes", "Lead time, weekly median", "Hours"),
        ("change_failure_rate", "Change failure rate", "%"),
        ("time_to_restore_median_minutes", "Time to restore, weekly median", "Hours"),
    ]
    for row in range(2):
        pair = charts[row * 2 : row * 2 + 2]
        for column, (metric, title, axis_title) in zip(st.columns(2), pair, strict=True):
            with column:
                widgets.chart(
                    _trend_chart(weekly, metric, title, axis_title, by_team),
                    f"overview_trend:{by_team}",
                    width="stretch",
                )


def _render_explainer() -> None:
    with st.expander("What these mean"):
        st.markdown(
            "- **Deployment frequency**: successful production deployments per week. The level uses deploy "
            "days (days with at least one deployment) per week or month over the period's loaded days, as "
            "the 2021 and 2023 bands do; the 2022 bands count deployments per day or month.\n"
            "- **Lead time for changes**: from a change's first commit to the first production deployment "
            "that shipped it. Changes shipped by a team's first recorded deployment (a baseline) get none.\n"
            "- **Change failure rate**: failed production deployments divided by production deployments, "
            "counted in the period of the deployment. A deployment fails when an incident of its service "
            "starts soon after it, or a later rollback undoes it.\n"
            "- **Time to restore**: from a failed deployment to its recovery (incident resolved or "
            "rollback deployed).\n"
            "- **Rework rate**: production deployments that were unplanned fix work (a rollback, or shipping "
            "a revert or a hotfix) divided by production deployments.\n"
            "- **Levels** are the DORA bands of the report year chosen in the sidebar (elite, high, medium, "
            "low; the 2022 report has no elite).\n\n"
            f"Full definitions: [{METRICS_DOC}]({METRICS_DOC}) in the deploylens repository."
        )


def _explain_no_production(path) -> None:
    """An empty period, or a warehouse with no production deployment at all (a new setup): say which."""
    if widgets.explain_no_production(path):
        return
    st.info(
        "No production deployments in this period. Widen the date range or choose other teams in the sidebar."
    )


def render() -> None:
    """Draw the page for the current sidebar selection."""
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Overview")
    who = ", ".join(filters.teams) if filters.teams else "all teams"
    st.caption(f"{filters.start:%Y-%m-%d} – {filters.end:%Y-%m-%d} · {who}")
    try:
        summary = queries.dora_summary(path, filters.start, filters.end, filters.teams)
        previous_summary = queries.dora_summary(path, *filters.compare, filters.teams)
        org = _org_row(summary)
        if org is None or (fmt.is_missing(org["deployments"]) or int(org["deployments"]) == 0):
            _explain_no_production(path)
        else:
            previous = _comparable(_org_row(previous_summary))
            org = _with_rework(org, path, filters.start, filters.end, filters.teams)
            if previous is not None:
                previous = _with_rework(previous, path, *filters.compare, filters.teams)
            levels = widgets.period_levels(path, filters, "team", filters.teams)
            _render_headline(org, previous, filters, levels)
            widgets.levels_note(levels)
            _render_team_table(summary, filters, levels)
            _render_moves(path, filters)
        _render_trends(filters, path)
    except queries.WarehouseUnavailable as error:
        st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")
    _render_explainer()


render()
