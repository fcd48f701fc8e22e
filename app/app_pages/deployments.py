"""Deployments: the rows of `marts.fct_deployments` behind the Overview's numbers, newest first, and a card
per deployment with the changes, commits and incidents behind it.

A card is a link too: `?deployment=<deployment_id>` opens it (the id is looked up as a parameter).
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters
from data_tests.statuses import CANONICAL_STATUSES

ROW_LIMIT = 1000

# The canonical vocabulary of fct_deployments.status (transform/seeds/deployment_statuses.csv).
STATUSES = list(CANONICAL_STATUSES)

CARD_KEY = "deployments_card"
URL_CARD = "deployment"
UTC_MINUTES = "YYYY-MM-DD HH:mm"


def _search(rows: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose service, commit, deployment id or source id contain the text (case-insensitive)."""
    text = text.strip().lower()
    if not text:
        return rows
    columns = ["service", "commit_sha", "deployment_id", "environment"]
    hit = pd.Series(False, index=rows.index)
    for column in columns:
        hit |= rows[column].fillna("").astype(str).str.lower().str.contains(text, regex=False)
    return rows[hit]


def _label(row: pd.Series) -> str:
    at = row["deployed_at"]
    when = pd.Timestamp(at).strftime("%Y-%m-%d %H:%M") if pd.notna(at) else "—"
    return f"{when} · {row['service']} → {row['environment']} · {row['status']} · {row['deployment_id']}"


def _signals(row: pd.Series) -> list[object]:
    """fct_deployments.failure_signals: [] when the deployment did not fail."""
    signals = row.get("failure_signals")
    return [] if signals is None or isinstance(signals, float) else list(signals)


def _recovery(row: pd.Series) -> str:
    return fmt.recovery_label(row.get("recovery_kind")) or "open"  # failed, no recovery yet


def _count(value: object) -> str:
    return fmt.MISSING if fmt.is_missing(value) else f"{int(value)}"


def _render_batch_and_deployer(row: pd.Series) -> None:
    """Batch size class and lines, pull requests and authors, who deployed, the pipeline's duration."""
    batch, people, deployer, pipeline = st.columns(4)
    lines = row.get("batch_lines_changed")
    size = row.get("batch_size_class")
    shown_size = fmt.MISSING if fmt.is_missing(size) else str(size)
    if not fmt.is_missing(lines):
        shown_size += f" · {int(lines)} lines"
    batch.metric(
        "Batch size", shown_size, help="Class by the lines changed of the pull requests it shipped first"
    )
    people.metric(
        "PRs / authors",
        f"{_count(row.get('batch_pr_count'))} / {_count(row.get('batch_author_count'))}",
        help="Pull requests it shipped first, and their distinct authors",
    )
    who = row.get("deployed_by")
    if fmt.is_missing(who):
        shown = fmt.MISSING
    else:
        shown = f"{who} (automation)" if bool(row.get("is_deployed_by_automation")) else f"{who} (person)"
    deployer.metric("Deployed by", shown, help="Who started it, as the source says")
    pipeline.metric(
        "Pipeline",
        fmt.format_duration(row.get("pipeline_duration_minutes")),
        help="From the start of the pipeline that deployed to the deployment; unknown for tags and pushes",
    )


def _file_stem(deployment_id: str) -> str:
    """A download's file name from a deployment id (`github:6`): letters, digits, dashes and underscores."""
    return "deployment_" + re.sub(r"[^A-Za-z0-9_-]+", "_", deployment_id)


def _render_card(path, deployment_id: str) -> None:
    found = queries.deployment(path, deployment_id)
    if found.empty:
        st.info(f"No deployment `{deployment_id}` in this warehouse.")
        return
    row = found.iloc[0]
    st.subheader(f"{row['service']} → {row['environment']}")
    st.caption(
        f"`{row['deployment_id']}` · {row['source_system']} · commit `{str(row['commit_sha'])[:12]}` · "
        f"team {row['team'] or '—'}"
    )
    first, second, third, fourth = st.columns(4)
    first.metric("Status", str(row["status"]))
    second.metric("Changes", int(row["pr_count"]) if pd.notna(row["pr_count"]) else 0)
    third.metric("Commits", int(row["commit_count"]) if pd.notna(row["commit_count"]) else 0)
    if bool(row["is_failure"]):
        fourth.metric("Time to restore", fmt.format_duration(row["time_to_restore_minutes"]))
    else:
        fourth.metric("Change failure", "no")
    _render_batch_and_deployer(row)
    signals = [str(signal) for signal in _signals(row)]
    if bool(row["is_failure"]):
        detected, recovery, _ = st.columns([1, 1, 2])
        detected.metric(
            "Time to detect",
            fmt.format_duration(row.get("time_to_detect_minutes")),
            help="From the deployment to its first failure signal",
        )
        recovery.metric("Recovery", _recovery(row), help="What recovered it first")
    notes = []
    if bool(row["is_baseline"]):
        notes.append("baseline deployment: the history before it gets no lead time")
    if bool(row["is_rollback"]):
        notes.append("this deployment is a rollback")
    if signals:
        notes.append("failed by: " + ", ".join(signals))
    if pd.notna(row.get("first_failure_signal_at")):
        detected_at = pd.Timestamp(row["first_failure_signal_at"])
        notes.append(f"first failure signal at {detected_at:%Y-%m-%d %H:%M} UTC")
    if pd.notna(row["recovered_at"]):
        notes.append(f"recovered at {pd.Timestamp(row['recovered_at']):%Y-%m-%d %H:%M} UTC")
    if bool(row.get("is_rework")):
        notes.append("rework: unplanned fix work (a rollback, or it ships a revert or a hotfix)")
    if notes:
        st.markdown("\n".join(f"- {note}" for note in notes))

    changes = queries.deployment_changes(path, deployment_id)
    st.markdown(f"**Changes shipped first here** ({len(changes)})")
    if changes.empty:
        st.caption("None: every commit it carries reached this environment's production line before.")
    else:
        widgets.table(
            changes,
            f"{_file_stem(deployment_id)}_changes.csv",
            "card_changes",
            column_config={
                "first_commit_at": st.column_config.DatetimeColumn("First commit (UTC)", format=UTC_MINUTES),
                "merged_at": st.column_config.DatetimeColumn("Merged (UTC)", format=UTC_MINUTES),
                **{
                    column: st.column_config.NumberColumn(column.replace("_", " "), format="%.0f")
                    for column in (
                        "coding_minutes",
                        "pickup_minutes",
                        "review_minutes",
                        "deploy_minutes",
                        "lead_time_minutes",
                    )
                },
            },
        )
    commits = queries.deployment_commits(path, deployment_id)
    with st.expander(f"Commits ({len(commits)})"):
        widgets.table(commits, f"{_file_stem(deployment_id)}_commits.csv", "card_commits")
    incidents = queries.deployment_incidents(path, deployment_id)
    st.markdown(f"**Incidents blamed on it** ({len(incidents)})")
    if incidents.empty:
        st.caption("None.")
    else:
        widgets.table(incidents, f"{_file_stem(deployment_id)}_incidents.csv", "card_incidents")


def render() -> None:
    """Draw the page for the current sidebar selection plus this page's own environment/status filters."""
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Deployments")
    who = ", ".join(filters.teams) if filters.teams else "all teams"
    st.caption(f"{filters.start:%Y-%m-%d} – {filters.end:%Y-%m-%d} · {who}")
    try:
        environments = queries.environment_names(path)
        left, middle, right = st.columns(3)
        chosen_environments = left.multiselect(
            "Environments",
            options=environments,
            key="deployments_environments",
            placeholder="All environments",
        )
        chosen_statuses = middle.multiselect(
            "Statuses", options=STATUSES, key="deployments_statuses", placeholder="All statuses"
        )
        search = right.text_input(
            "Search", key="deployments_search", placeholder="service, commit, deployment id"
        )
        rows = queries.deployments(
            path,
            filters.start,
            filters.end,
            filters.teams,
            # This page's own environment filter narrows the sidebar's; alone, either one applies.
            environments=chosen_environments or filters.environments,
            statuses=chosen_statuses,
            limit=ROW_LIMIT,
            services=filters.services,
        )
        linked = st.query_params.get(URL_CARD)
    except queries.WarehouseUnavailable as error:
        st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")
        return
    rows = _search(rows, search)
    if rows.empty and not linked:
        st.info("No deployments match these filters. Widen the date range or clear some filters.")
        return
    shown = f"{len(rows)} deployments" + (f" (the newest {ROW_LIMIT})" if len(rows) == ROW_LIMIT else "")
    st.caption(shown)
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "deployed_at": st.column_config.DatetimeColumn("Deployed at (UTC)", format=UTC_MINUTES),
            "commit_sha": st.column_config.TextColumn("Commit", max_chars=12),
            "time_to_restore_minutes": st.column_config.NumberColumn("Time to restore (min)", format="%.0f"),
        },
    )
    st.download_button(
        "Download as CSV", rows.to_csv(index=False), "deployments.csv", "text/csv", key="deployments_csv"
    )

    labels = {row["deployment_id"]: _label(row) for _, row in rows.iterrows()}
    options = list(labels)
    if linked and linked not in labels:
        options.insert(0, linked)
        labels[linked] = f"linked: {linked}"
    if CARD_KEY not in st.session_state and linked:
        st.session_state[CARD_KEY] = linked
    chosen = st.selectbox(
        "Deployment card",
        options=options,
        index=None,
        key=CARD_KEY,
        format_func=lambda deployment_id: labels.get(deployment_id, deployment_id),
        placeholder="Pick a deployment to see its changes, commits and incidents",
    )
    if chosen:
        if st.query_params.get(URL_CARD) != chosen:
            st.query_params[URL_CARD] = chosen
        try:
            _render_card(path, chosen)
        except queries.WarehouseUnavailable as error:
            st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")
    elif URL_CARD in st.query_params:
        del st.query_params[URL_CARD]


render()
