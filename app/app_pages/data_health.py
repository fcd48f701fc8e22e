"""Data health: can the figures on the other pages be trusted today?

What the last refresh published and when, each source's last load (a failed source is stale: the warehouse
keeps its last good data), the checks that warned or failed, and the records set aside as bad. Everything
comes from the tables the refresh writes beside the marts (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import queries, widgets


def _age(at: object, now: dt.datetime) -> str:
    if at is None or pd.isna(at):
        return "never"
    seconds = max((now - pd.Timestamp(at).to_pydatetime()).total_seconds(), 0)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _render_publish(path, now: dt.datetime) -> None:
    publishes = queries.last_publishes(path)
    if publishes.empty:
        st.info("This warehouse records no publish time (it was published before data health existed).")
        return
    latest = publishes.iloc[0]
    st.metric("Last publish (UTC)", f"{pd.Timestamp(latest['published_at']):%Y-%m-%d %H:%M}")
    st.caption(f"{_age(latest['published_at'], now)} · run {latest['run_id'] or 'outside Dagster'}")


UTC_MINUTES = "YYYY-MM-DD HH:mm"


def _render_sources(path, now: dt.datetime) -> None:
    st.subheader("Sources")
    loads = queries.source_loads(path)
    if loads.empty:
        st.info("No source load is recorded in this warehouse.")
        return
    stale = loads[loads["status"] != "ok"]
    for row in stale.itertuples():
        st.error(
            f"**{row.source}** is stale: its last load failed ({row.error or 'no reason recorded'}). "
            f"The figures keep its data from the last good load ({_age(row.last_success_at, now)})."
        )
    shown = loads.assign(freshness=[_age(at, now) for at in loads["last_success_at"]])
    widgets.table(
        shown,
        "source_loads.csv",
        "source_loads",
        column_config={
            "source": "Source",
            "status": "Last load",
            "last_attempt_at": st.column_config.DatetimeColumn("Last attempt (UTC)", format=UTC_MINUTES),
            "last_success_at": st.column_config.DatetimeColumn("Last success (UTC)", format=UTC_MINUTES),
            "freshness": "Data as of",
            "rows_loaded": st.column_config.NumberColumn("Rows loaded", format="%d"),
            "error": "Error",
        },
    )


def _render_checks(path) -> None:
    st.subheader("Checks")
    checks = queries.check_results(path)
    if checks.empty:
        st.info("No check results are recorded in this warehouse.")
        return
    failed = checks[~checks["passed"].astype(bool)]
    blocking = failed[failed["severity"] == "error"]
    warned = failed[failed["severity"] != "error"]
    passed = len(checks) - len(failed)
    st.caption(f"{passed} passed · {len(warned)} warned · {len(blocking)} failed (of {len(checks)})")
    for row in blocking.itertuples():
        st.error(f"**{row.check_name}**: {row.details}")
    for row in warned.itertuples():
        st.warning(f"**{row.check_name}**: {row.details}")
    with st.expander("Every check of the published run"):
        widgets.table(checks, "checks.csv", "checks")


def _render_quarantine(path) -> None:
    st.subheader("Quarantined records")
    summary = queries.quarantine_summary(path)
    if summary.empty:
        st.success("No record was set aside as bad.")
        return
    st.caption("Records a source sent that would have made the figures wrong: kept out, counted here.")
    widgets.table(summary, "quarantined_records.csv", "quarantined_records")


def render() -> None:
    path = queries.warehouse_path()
    st.title("Data health")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        _render_publish(path, now)
        _render_sources(path, now)
        _render_checks(path)
        _render_quarantine(path)
    except queries.WarehouseUnavailable as error:
        st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")


render()
