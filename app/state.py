"""The shared sidebar filters, kept in `st.session_state` so every page reads the same selection."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from app.queries import DataBounds

DATES_KEY = "filter_dates"
TEAMS_KEY = "filter_teams"

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


def render_sidebar(bounds: DataBounds | None, teams: list[str]) -> Filters:
    """Draw the filters in the sidebar of the entry point and return the current selection."""
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
    return current_filters()


def current_filters() -> Filters:
    """The selection as pages see it; a half-picked range (one date) counts as that single day."""
    dates = st.session_state.get(DATES_KEY) or default_dates(None)
    if isinstance(dates, dt.date):
        dates = (dates,)
    dates = tuple(dates)
    start = dates[0]
    end = dates[1] if len(dates) > 1 else dates[0]
    return Filters(start=start, end=end, teams=list(st.session_state.get(TEAMS_KEY, [])))
