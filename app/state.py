"""The shared sidebar filters, kept in `st.session_state` so every page reads the same selection.

The selection is also kept in the page's URL (`?from=2026-08-01&to=2026-10-31&team=api&team=web`), so a
view is a link to paste in a chat. Values read from a URL are untrusted: a date that does not parse or a
team the warehouse does not know is dropped (and the default used), never passed on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from app.queries import DataBounds

DATES_KEY = "filter_dates"
TEAMS_KEY = "filter_teams"
FROM_URL_KEY = "filters_read_from_url"

# Query parameter names in the URL.
URL_FROM, URL_TO, URL_TEAM = "from", "to", "team"

# The default window: twelve weeks ending on the last day with data, a quarter, long enough for medians.
DEFAULT_WINDOW = dt.timedelta(weeks=12)


@dataclass(frozen=True)
class Filters:
    """The period and teams every page renders; an empty team list means all teams."""

    start: dt.date
    end: dt.date
    teams: list[str]

    @property
    def previous(self) -> tuple[dt.date, dt.date]:
        """The period of equal length just before this one, for deltas."""
        length = self.end - self.start
        previous_end = self.start - dt.timedelta(days=1)
        return previous_end - length, previous_end


def default_dates(bounds: DataBounds | None, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Twelve weeks (inclusive) ending on the last day with data, or on today when there is none."""
    end = bounds.last_day if bounds else (today or dt.date.today())
    start = end - DEFAULT_WINDOW + dt.timedelta(days=1)
    if bounds and start < bounds.first_day:
        start = bounds.first_day
    return start, end


def _url_date(name: str) -> dt.date | None:
    value = st.query_params.get(name)
    if not value or len(value) > 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def dates_from_url() -> tuple[dt.date, dt.date] | None:
    """The period a link asks for, when both ends parse and are in order; None otherwise."""
    start, end = _url_date(URL_FROM), _url_date(URL_TO)
    if start is None or end is None or end < start:
        return None
    return start, end


def _read_url(bounds: DataBounds | None, teams: list[str]) -> None:
    """Seed the session from the URL once per session: later reruns follow the widgets."""
    if st.session_state.get(FROM_URL_KEY):
        return
    st.session_state[FROM_URL_KEY] = True
    dates = dates_from_url()
    if dates is not None:
        st.session_state[DATES_KEY] = dates
    known = set(teams)
    asked = [team for team in st.query_params.get_all(URL_TEAM) if team in known]
    if asked:
        st.session_state[TEAMS_KEY] = list(dict.fromkeys(asked))


def _write_url(filters: Filters) -> None:
    wanted = {
        URL_FROM: filters.start.isoformat(),
        URL_TO: filters.end.isoformat(),
        URL_TEAM: sorted(filters.teams),
    }
    current = {
        URL_FROM: st.query_params.get(URL_FROM),
        URL_TO: st.query_params.get(URL_TO),
        URL_TEAM: sorted(st.query_params.get_all(URL_TEAM)),
    }
    # Only the shared filters' keys: pages keep their own parameters (e.g. an open deployment card).
    for key, value in wanted.items():
        if value == current[key]:
            continue
        if value:
            st.query_params[key] = value
        elif key in st.query_params:
            del st.query_params[key]


def render_sidebar(bounds: DataBounds | None, teams: list[str]) -> Filters:
    """Draw the filters in the sidebar of the entry point and return the current selection."""
    _read_url(bounds, teams)
    if DATES_KEY not in st.session_state:
        st.session_state[DATES_KEY] = default_dates(bounds)
    # A refresh can drop a team; a stale selection would make the widget raise.
    st.session_state[TEAMS_KEY] = [team for team in st.session_state.get(TEAMS_KEY, []) if team in teams]

    with st.sidebar:
        st.header("Filters")
        st.date_input("Period", key=DATES_KEY, help="Deployments and changes count when they shipped.")
        st.multiselect("Teams", options=teams, key=TEAMS_KEY, placeholder="All teams")
        if bounds:
            st.caption(f"Data from {bounds.first_day:%Y-%m-%d} to {bounds.last_day:%Y-%m-%d}.")
        st.caption("The address bar holds this selection: copy it to share the view.")
    filters = current_filters()
    _write_url(filters)
    return filters


def current_filters() -> Filters:
    """The selection as pages see it; a half-picked range (one date) counts as that single day."""
    dates = st.session_state.get(DATES_KEY) or default_dates(None)
    if isinstance(dates, dt.date):
        dates = (dates,)
    dates = tuple(dates)
    start = dates[0]
    end = dates[1] if len(dates) > 1 else dates[0]
    return Filters(start=start, end=end, teams=list(st.session_state.get(TEAMS_KEY, [])))
