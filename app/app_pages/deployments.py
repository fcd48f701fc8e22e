"""Deployments: the rows of `marts.fct_deployments` behind the Overview's numbers, newest first."""

from __future__ import annotations

import streamlit as st

from app import queries
from app.state import current_filters
from data_tests.statuses import CANONICAL_STATUSES

ROW_LIMIT = 1000

# The canonical vocabulary of fct_deployments.status (transform/seeds/deployment_statuses.csv).
STATUSES = list(CANONICAL_STATUSES)


def render() -> None:
    """Draw the page for the current sidebar selection plus this page's own environment/status filters."""
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Deployments")
    who = ", ".join(filters.teams) if filters.teams else "all teams"
    st.caption(f"{filters.start:%Y-%m-%d} – {filters.end:%Y-%m-%d} · {who}")
    try:
        environments = queries.environment_names(path)
        left, right = st.columns(2)
        chosen_environments = left.multiselect(
            "Environments",
            options=environments,
            key="deployments_environments",
            placeholder="All environments",
        )
        chosen_statuses = right.multiselect(
            "Statuses", options=STATUSES, key="deployments_statuses", placeholder="All statuses"
        )
        rows = queries.deployments(
            path,
            filters.start,
            filters.end,
            filters.teams,
            environments=chosen_environments,
            statuses=chosen_statuses,
            limit=ROW_LIMIT,
        )
    except queries.WarehouseUnavailable as error:
        st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")
        return
    if rows.empty:
        st.info("No deployments match these filters. Widen the date range or clear some filters.")
        return
    shown = f"{len(rows)} deployments" + (f" (the newest {ROW_LIMIT})" if len(rows) == ROW_LIMIT else "")
    st.caption(shown)
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "deployed_at": st.column_config.DatetimeColumn("Deployed at (UTC)", format="YYYY-MM-DD HH:mm"),
            "commit_sha": st.column_config.TextColumn("Commit", max_chars=12),
            "time_to_restore_minutes": st.column_config.NumberColumn("Time to restore (min)", format="%.0f"),
        },
    )


render()
