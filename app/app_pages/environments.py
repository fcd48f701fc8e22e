"""Environments & drift: per service, what the upstream environment (staging) has that the downstream one
(production) has not yet, since when; how long promotions take; the commits and pull requests waiting.

Figures are `marts.drift_daily` (as of the end of the chosen period), `marts.fct_promotions` (downstream
deployments in the period) and `marts.fct_commit_promotions` (the waiting commits behind a drift figure).
A service deploying to a single environment has no pair, so no row here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters

SERVICE_KEY = "drift_service"
URL_SERVICE = "drift_service"


def drift_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Service": rows["service"],
            "Team": rows["team"],
            "From": rows["upstream_environment"],
            "To": rows["downstream_environment"],
            "Commits waiting": rows["commits_waiting"].astype("int64"),
            "Oldest waiting since (UTC)": rows["oldest_waiting_commit_at"],
            "Oldest waiting (h)": rows["oldest_waiting_age_hours"].astype("float64"),
        }
    ).reset_index(drop=True)


def promotions_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Deployed at (UTC)": rows["deployed_at"],
            "Service": rows["service"],
            "Team": rows["team"],
            "From": rows["upstream_environment"],
            "To": rows["downstream_environment"],
            "Commits shipped": rows["commits_shipped"].astype("int64"),
            "Promoted": rows["commits_promoted"].astype("int64"),
            "Not from upstream": rows["commits_not_from_upstream"].astype("int64"),
            "Promotion lag (h)": rows["promotion_lag_minutes"].map(fmt.minutes_to_hours),
            "Longest commit wait (h)": rows["longest_commit_wait_minutes"].map(fmt.minutes_to_hours),
            "Same SHA": rows["is_same_sha"].astype(bool),
            "Deployment": [widgets.deployment_link(value) for value in rows["deployment_id"]],
            "Promoted deployment": [
                widgets.deployment_link(value) for value in rows["promoted_deployment_id"]
            ],
        }
    ).reset_index(drop=True)


def waiting_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "From": rows["upstream_environment"],
            "To": rows["downstream_environment"],
            "Commit": rows["commit_sha"].str[:12],
            "Pull request": rows["pr_number"].astype("Int64"),
            "Title": rows["title"],
            "Author": rows["author_login"],
            "Reached upstream at (UTC)": rows["reached_upstream_at"],
            "Reached downstream at (UTC)": rows["reached_downstream_at"],
            "Upstream deployment": [
                widgets.deployment_link(value) for value in rows["upstream_deployment_id"]
            ],
        }
    ).reset_index(drop=True)


def _drift_chart(rows: pd.DataFrame) -> alt.Chart:
    data = rows[["service", "day", "commits_waiting", "oldest_waiting_age_hours"]].copy()
    data["day"] = pd.to_datetime(data["day"])
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day (UTC, at its end)"),
            y=alt.Y("commits_waiting:Q", title="Commits waiting"),
            color=alt.Color("service:N", title="Service"),
            tooltip=[
                alt.Tooltip("service:N", title="Service"),
                alt.Tooltip("day:T", title="Day"),
                alt.Tooltip("commits_waiting:Q", title="Commits waiting"),
                alt.Tooltip("oldest_waiting_age_hours:Q", format=".1f", title="Oldest waiting (h)"),
            ],
        )
        .properties(title="Commits upstream and not yet downstream, at each day's end", height=260)
    )


def _lag_chart(rows: pd.DataFrame) -> alt.Chart:
    data = rows.dropna(subset=["promotion_lag_minutes"])[
        ["deployed_at", "service", "promotion_lag_minutes"]
    ].copy()
    data["lag_hours"] = data["promotion_lag_minutes"].astype("float64") / 60
    return (
        alt.Chart(data)
        .mark_circle(size=60)
        .encode(
            x=alt.X("deployed_at:T", title="Promoted at (UTC)"),
            y=alt.Y("lag_hours:Q", title="Promotion lag (hours)"),
            color=alt.Color("service:N", title="Service"),
            tooltip=[
                alt.Tooltip("service:N", title="Service"),
                alt.Tooltip("deployed_at:T", title="Promoted at", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("lag_hours:Q", format=".1f", title="Lag (h)"),
            ],
        )
        .properties(title="Promotion lag of each downstream deployment", height=260)
    )


def _pick_service(options: list[str]) -> str | None:
    """The drill-down's service; a link may name it (`?drift_service=`), an unknown name is ignored."""
    if not options:
        return None
    if SERVICE_KEY not in st.session_state:
        linked = st.query_params.get(URL_SERVICE)
        st.session_state[SERVICE_KEY] = linked if linked in options else options[0]
    elif st.session_state[SERVICE_KEY] not in options:
        st.session_state[SERVICE_KEY] = options[0]
    chosen = st.selectbox("Service", options=options, key=SERVICE_KEY)
    st.query_params[URL_SERVICE] = chosen
    return chosen


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Environments & drift")
    widgets.caption(filters)
    try:
        drift = queries.drift_as_of(path, filters.end, filters.teams, filters.services)
        if drift.empty:
            st.info(
                "No service of this selection deploys to two ranked environments (e.g. staging, then "
                "production) by the end of this period, so nothing is promoted or waits. Services deploying "
                "to a single environment have no drift."
            )
            return
        as_of = pd.Timestamp(drift["day"].iloc[0]).date()
        st.subheader(f"Waiting to be promoted at the end of {as_of:%Y-%m-%d}")
        left, middle, right = st.columns(3)
        left.metric("Commits waiting", int(drift["commits_waiting"].sum()))
        middle.metric("Services with drift", int((drift["commits_waiting"] > 0).sum()))
        oldest = drift["oldest_waiting_age_hours"].max()
        right.metric("Oldest waiting", "—" if pd.isna(oldest) else f"{oldest:.1f} h")
        widgets.table(
            drift_table(drift),
            "drift.csv",
            "drift_table",
            column_config={
                "Oldest waiting since (UTC)": widgets.when("Oldest waiting since (UTC)"),
                "Oldest waiting (h)": widgets.hours(
                    "Oldest waiting (h)",
                    "Hours from when the oldest waiting commit reached upstream to the day's end",
                ),
            },
        )

        over_time = queries.drift_over_time(path, filters.start, filters.end, filters.teams, filters.services)
        if not over_time.empty:
            widgets.chart(_drift_chart(over_time), "drift", width="stretch")

        st.subheader("Promotions")
        promoted = queries.promotions(path, filters.start, filters.end, filters.teams, filters.services)
        if promoted.empty:
            st.info("No downstream deployment shipped anything in this period.")
        else:
            lags = promoted["promotion_lag_minutes"].dropna()
            left, right = st.columns(2)
            left.metric("Promotions", int(promoted["commits_promoted"].gt(0).sum()))
            right.metric(
                "Promotion lag median", "—" if lags.empty else f"{fmt.minutes_to_hours(lags.median()):.1f} h"
            )
            widgets.chart(_lag_chart(promoted), "promotion_lag", width="stretch")
            widgets.table(
                promotions_table(promoted),
                "promotions.csv",
                "promotions_table",
                column_config={
                    "Deployed at (UTC)": widgets.when("Deployed at (UTC)"),
                    "Deployment": widgets.link_column(
                        "Deployment", "The downstream deployment's card", "Open card"
                    ),
                    "Promoted deployment": widgets.link_column(
                        "Promoted deployment", "The upstream deployment it promotes", "Open card"
                    ),
                },
            )

        st.subheader("What waits, commit by commit")
        service = _pick_service(sorted(drift["service"].unique()))
        if service is not None:
            waiting = queries.commits_waiting(path, as_of, service)
            if waiting.empty:
                st.success(f"Nothing of {service} waits at the end of {as_of:%Y-%m-%d}.")
            else:
                widgets.table(
                    waiting_table(waiting),
                    "waiting_commits.csv",
                    "waiting_commits",
                    column_config={
                        "Reached upstream at (UTC)": widgets.when("Reached upstream at (UTC)"),
                        "Reached downstream at (UTC)": widgets.when("Reached downstream at (UTC)"),
                        "Upstream deployment": widgets.link_column(
                            "Upstream deployment", "The deployment that shipped it upstream", "Open card"
                        ),
                    },
                )
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
