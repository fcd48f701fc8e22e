"""Where is my change: find a pull or merge request (number, title, author, change id) or a commit (SHA
prefix), see each environment of each service it touches it has reached and when, what waits to reach
production, and which of the matching changes an upstream environment (staging) has and the next one
(production) not yet.

A change counts for each service it touches (`fct_change_services`, docs/metrics.md "Services by path"):
the service filters keep the changes touching one of the chosen services, and production is each
service's first production deployment of the change. The marts keep no per-environment shipment for the
other environments; `queries.change_reach` says how each was matched.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import queries, widgets
from app.state import current_filters

SEARCH_KEY = "change_search"
PICK_KEY = "change_pick"
URL_SEARCH = "q"
MAX_SEARCH_CHARACTERS = 200


def _label(row: pd.Series) -> str:
    title = row["title"] if isinstance(row["title"], str) else ""
    return f"{row['change_id']} · {title[:60]} · {row['author_login'] or '—'}"


def reach_table(reach: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Service": reach["service"],
            "Environment": reach["environment"],
            "Production": reach["is_production"].astype(bool),
            "Reached at (UTC)": reach["reached_at"],
            "Matched by": reach["how"].fillna("not reached yet"),
            "Deployment": [widgets.deployment_link(value) for value in reach["deployment_id"]],
        }
    )


def _render_change(path, change: pd.Series) -> None:
    services = [str(service) for service in change["services"]]
    st.subheader(f"{change['change_id']}")
    st.caption(
        f"{change['title'] or ''} · {change['change_kind']} · by {change['author_login'] or '—'} · "
        f"team {change['team'] or '—'} · "
        + (f"services {', '.join(services)}" if len(services) > 1 else f"service {change['service']}")
    )
    if pd.isna(change["merged_at"]):
        st.info("Not merged yet.")
    reach = queries.change_reach(path, str(change["change_id"]))
    if reach.empty:
        st.info(f"Its {'services have' if len(services) > 1 else 'service has'} no deployment yet.")
        return
    widgets.table(
        reach_table(reach),
        "change_environments.csv",
        "change_reach",
        column_config={
            "Reached at (UTC)": widgets.when("Reached at (UTC)"),
            "Deployment": widgets.link_column("Deployment", "The deployment card", "Open card"),
            "Matched by": st.column_config.TextColumn(
                help="Production: the mart's first production deployment. Elsewhere: a deployment of one "
                "of its commits, else the first one after the merge (right when that environment deploys "
                "the branch head)."
            ),
        },
    )
    card = widgets.deployment_link(change["deployment_id"])
    if card:
        st.markdown(f"[Open the deployment card that shipped it to production]({card})")
    waiting = [str(service) for service in change["waiting_services"]]
    if waiting and pd.notna(change["merged_at"]):
        st.warning(f"Merged but not in production yet for {', '.join(waiting)}: it waits to be promoted.")


def promotion_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Change": rows["change_id"],
            "Service": rows["service"],
            "Reached": rows["upstream_environment"],
            "Waits for": rows["downstream_environment"],
            "Commits waiting": rows["commits_waiting"].astype("int64"),
            "Waiting since (UTC)": rows["waiting_since"],
            "Upstream deployment": [
                widgets.deployment_link(value) for value in rows["upstream_deployment_id"]
            ],
        }
    )


def _render_waiting_promotion(path, change_ids: list[str]) -> None:
    """Of every change the search matched (all of an author's, say): what an upstream environment has and the
    next one not yet (marts.fct_commit_promotions, status 'waiting')."""
    st.subheader("Waiting to be promoted")
    waiting = queries.changes_waiting_to_be_promoted(path, change_ids)
    if waiting.empty:
        st.caption(
            "None of the matching changes waits between environments: each commit an upstream environment "
            "(staging) has, the next one (production) has too."
        )
        return
    widgets.table(
        promotion_table(waiting),
        "waiting_promotion.csv",
        "waiting_promotion",
        column_config={
            "Waiting since (UTC)": widgets.when("Waiting since (UTC)"),
            "Upstream deployment": widgets.link_column(
                "Upstream deployment", "The deployment that shipped it upstream", "Open card"
            ),
        },
    )


def render() -> None:
    filters = current_filters()
    path = queries.warehouse_path()
    st.title("Where is my change")
    if SEARCH_KEY not in st.session_state:
        linked = st.query_params.get(URL_SEARCH) or ""
        st.session_state[SEARCH_KEY] = linked[:MAX_SEARCH_CHARACTERS]
    text = st.text_input(
        "Pull request, commit or author",
        key=SEARCH_KEY,
        max_chars=MAX_SEARCH_CHARACTERS,
        placeholder="#42, a title word, a commit SHA (6+ characters) or a login",
    )
    if text.strip():
        st.query_params[URL_SEARCH] = text.strip()
    elif URL_SEARCH in st.query_params:
        del st.query_params[URL_SEARCH]
    try:
        scoped = widgets.sliced(path, filters)
        if scoped is None:
            st.info("No service matches the department, language and label filters in the sidebar.")
            return
        if text.strip():
            found = queries.find_changes(path, text, scoped.services)
            if found.empty:
                st.info(
                    "No change matches. Try a pull request number, a word of its title, a commit SHA of at "
                    "least six characters, or the author's login."
                )
            else:
                labels = {row["change_id"]: _label(row) for _, row in found.iterrows()}
                more = " (the newest shown)" if len(found) == queries.SEARCH_LIMIT else ""
                st.caption(f"{len(found)} changes match{more}")
                chosen = st.selectbox(
                    "Change", options=list(labels), key=PICK_KEY, format_func=lambda value: labels[value]
                )
                _render_change(path, found[found["change_id"] == chosen].iloc[0])
                _render_waiting_promotion(path, [str(value) for value in found["change_id"]])
        st.subheader("Waiting to reach production")
        st.caption(
            "Merged changes no production deployment has shipped yet (teams and services from the sidebar)."
        )
        waiting = queries.waiting_changes(path, scoped.teams, scoped.services)
        if waiting.empty:
            st.success("Nothing waits: every merged change of this selection is in production.")
        else:
            widgets.table(
                waiting,
                "waiting_changes.csv",
                "waiting_changes",
                column_config={"merged_at": widgets.when("Merged at (UTC)")},
            )
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)


render()
