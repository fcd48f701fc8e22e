"""The shared sidebar filters, kept in `st.session_state` so every page reads the same selection.

The selection is also kept in the page's URL (`?from=2026-08-01&to=2026-10-31&team=api&team=web`, plus
`service=`, `env=`, `department=`, `language=`, `label=`, `year=` for the benchmark report year, and
`vs_from=`/`vs_to=` for an explicit compare-to period), so a view is a link to paste in a chat. Values read
from a URL are untrusted: a date that does not parse, or a team, service, environment, department, language,
label or report year the warehouse does not know is dropped (and the default used), never passed on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st

from app.queries import DataBounds

DATES_KEY = "filter_dates"
TEAMS_KEY = "filter_teams"
SERVICES_KEY = "filter_services"
ENVIRONMENTS_KEY = "filter_environments"
DEPARTMENTS_KEY = "filter_departments"
LANGUAGES_KEY = "filter_languages"
LABELS_KEY = "filter_labels"
REPORT_YEAR_KEY = "filter_report_year"
COMPARE_MODE_KEY = "filter_compare_mode"
COMPARE_DATES_KEY = "filter_compare_dates"
FROM_URL_KEY = "filters_read_from_url"

# Query parameter names in the URL.
URL_FROM, URL_TO, URL_TEAM = "from", "to", "team"
URL_SERVICE, URL_ENVIRONMENT = "service", "env"
URL_COMPARE_FROM, URL_COMPARE_TO = "vs_from", "vs_to"
URL_DEPARTMENT, URL_LANGUAGE, URL_LABEL = "department", "language", "label"
# The benchmark report year; `report_year` is what the Benchmarks page's own control wrote before.
URL_REPORT_YEAR, URL_REPORT_YEAR_OLD = "year", "report_year"

COMPARE_PREVIOUS = "Previous period"
COMPARE_CUSTOM = "Another period"

# The default window: twelve weeks ending on the last day with data, a quarter, long enough for medians.
DEFAULT_WINDOW = dt.timedelta(weeks=12)


@dataclass(frozen=True)
class Filters:
    """The selection every page renders; an empty list means all (teams, services, environments)."""

    start: dt.date
    end: dt.date
    teams: list[str]
    services: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    # An explicit compare-to period; None means the previous period of equal length.
    compare_to: tuple[dt.date, dt.date] | None = None
    # Slices by the configuration's dimensions: teams of these departments, services in these languages or
    # carrying one of these labels (empty: no slicing).
    departments: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    # The DORA report year whose bands give levels on Benchmarks (None: the warehouse has no levels yet).
    report_year: int | None = None

    @property
    def is_sliced(self) -> bool:
        """A department, language or label narrows the teams or services."""
        return bool(self.departments or self.languages or self.labels)

    @property
    def previous(self) -> tuple[dt.date, dt.date]:
        """The period of equal length just before this one, for deltas."""
        length = self.end - self.start
        previous_end = self.start - dt.timedelta(days=1)
        return previous_end - length, previous_end

    @property
    def compare(self) -> tuple[dt.date, dt.date]:
        """The period deltas compare with: the explicit one when chosen, else the previous period."""
        return self.compare_to if self.compare_to is not None else self.previous


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


def dates_from_url(from_name: str = URL_FROM, to_name: str = URL_TO) -> tuple[dt.date, dt.date] | None:
    """The period a link asks for, when both ends parse and are in order; None otherwise."""
    start, end = _url_date(from_name), _url_date(to_name)
    if start is None or end is None or end < start:
        return None
    return start, end


def _known_from_url(name: str, known: list[str]) -> list[str]:
    """The values of a repeated parameter the warehouse knows, in order, without duplicates."""
    allowed = set(known)
    return list(dict.fromkeys(value for value in st.query_params.get_all(name) if value in allowed))


def _read_url(bounds: DataBounds | None, choices: Choices) -> None:
    """Seed the session from the URL once per session: later reruns follow the widgets."""
    if st.session_state.get(FROM_URL_KEY):
        return
    st.session_state[FROM_URL_KEY] = True
    dates = dates_from_url()
    if dates is not None:
        st.session_state[DATES_KEY] = dates
    compare = dates_from_url(URL_COMPARE_FROM, URL_COMPARE_TO)
    if compare is not None:
        st.session_state[COMPARE_MODE_KEY] = COMPARE_CUSTOM
        st.session_state[COMPARE_DATES_KEY] = compare
    for key, name, known in (
        (TEAMS_KEY, URL_TEAM, choices.teams),
        (SERVICES_KEY, URL_SERVICE, choices.services),
        (ENVIRONMENTS_KEY, URL_ENVIRONMENT, choices.environments),
        (DEPARTMENTS_KEY, URL_DEPARTMENT, choices.departments),
        (LANGUAGES_KEY, URL_LANGUAGE, choices.languages),
        (LABELS_KEY, URL_LABEL, choices.labels),
    ):
        asked = _known_from_url(name, known)
        if asked:
            st.session_state[key] = asked
    for name in (URL_REPORT_YEAR, URL_REPORT_YEAR_OLD):
        asked_year = st.query_params.get(name)
        known_years = {str(year): year for year in choices.report_years}
        if asked_year in known_years:
            st.session_state[REPORT_YEAR_KEY] = known_years[asked_year]
            break


def _write_url(filters: Filters) -> None:
    compare = filters.compare_to
    wanted = {
        URL_FROM: filters.start.isoformat(),
        URL_TO: filters.end.isoformat(),
        URL_TEAM: sorted(filters.teams),
        URL_SERVICE: sorted(filters.services),
        URL_ENVIRONMENT: sorted(filters.environments),
        URL_DEPARTMENT: sorted(filters.departments),
        URL_LANGUAGE: sorted(filters.languages),
        URL_LABEL: sorted(filters.labels),
        URL_COMPARE_FROM: compare[0].isoformat() if compare else None,
        URL_COMPARE_TO: compare[1].isoformat() if compare else None,
        URL_REPORT_YEAR: str(filters.report_year) if filters.report_year is not None else None,
    }
    lists = {URL_TEAM, URL_SERVICE, URL_ENVIRONMENT, URL_DEPARTMENT, URL_LANGUAGE, URL_LABEL}
    current = {
        key: sorted(st.query_params.get_all(key)) if key in lists else st.query_params.get(key)
        for key in wanted
    }
    # Only the shared filters' keys: pages keep their own parameters (e.g. an open deployment card).
    for key, value in wanted.items():
        if value == current[key]:
            continue
        if value:
            st.query_params[key] = value
        elif key in st.query_params:
            del st.query_params[key]


@dataclass(frozen=True)
class Choices:
    """What the warehouse knows, offered by the filters; a link may only pick among these."""

    teams: list[str]
    services: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    report_years: list[int] = field(default_factory=list)


def render_sidebar(bounds: DataBounds | None, choices: Choices) -> Filters:
    """Draw the filters in the sidebar of the entry point and return the current selection."""
    _read_url(bounds, choices)
    if DATES_KEY not in st.session_state:
        st.session_state[DATES_KEY] = default_dates(bounds)
    # A refresh can drop a team or service; a stale selection would make the widget raise.
    for key, known in (
        (TEAMS_KEY, choices.teams),
        (SERVICES_KEY, choices.services),
        (ENVIRONMENTS_KEY, choices.environments),
        (DEPARTMENTS_KEY, choices.departments),
        (LANGUAGES_KEY, choices.languages),
        (LABELS_KEY, choices.labels),
    ):
        st.session_state[key] = [value for value in st.session_state.get(key, []) if value in known]
    if choices.report_years and st.session_state.get(REPORT_YEAR_KEY) not in choices.report_years:
        st.session_state[REPORT_YEAR_KEY] = choices.report_years[0]  # the newest
    if not choices.report_years:
        st.session_state.pop(REPORT_YEAR_KEY, None)

    with st.sidebar:
        st.header("Filters")
        st.date_input("Period", key=DATES_KEY, help="Deployments and changes count when they shipped.")
        st.radio(
            "Compare to",
            options=[COMPARE_PREVIOUS, COMPARE_CUSTOM],
            key=COMPARE_MODE_KEY,
            horizontal=True,
            help="Changes (deltas) are measured against this period.",
        )
        if st.session_state.get(COMPARE_MODE_KEY) == COMPARE_CUSTOM:
            if COMPARE_DATES_KEY not in st.session_state:
                st.session_state[COMPARE_DATES_KEY] = current_filters().previous
            st.date_input("Compare-to period", key=COMPARE_DATES_KEY)
        st.multiselect("Teams", options=choices.teams, key=TEAMS_KEY, placeholder="All teams")
        st.multiselect("Services", options=choices.services, key=SERVICES_KEY, placeholder="All services")
        st.multiselect(
            "Environments",
            options=choices.environments,
            key=ENVIRONMENTS_KEY,
            placeholder="All environments",
            help="Applies to deployment lists and environment views; the four keys count production only.",
        )
        slice_help = (
            "Applies to the Teams, Services, Lead time, Failures & recovery and Outliers & suggestions pages."
        )
        if choices.departments:
            st.multiselect(
                "Departments",
                options=choices.departments,
                key=DEPARTMENTS_KEY,
                placeholder="All departments",
                help="The teams of these departments. " + slice_help,
            )
        if choices.languages:
            st.multiselect(
                "Languages",
                options=choices.languages,
                key=LANGUAGES_KEY,
                placeholder="All languages",
                help="Services written in these languages. " + slice_help,
            )
        if choices.labels:
            st.multiselect(
                "Labels",
                options=choices.labels,
                key=LABELS_KEY,
                placeholder="All labels",
                help="Services carrying any of these labels. " + slice_help,
            )
        if choices.report_years:
            st.selectbox(
                "DORA report year",
                choices.report_years,
                key=REPORT_YEAR_KEY,
                help="Whose bands give the levels on Benchmarks (docs/metrics.md, Benchmark levels).",
            )
        if bounds:
            st.caption(f"Data from {bounds.first_day:%Y-%m-%d} to {bounds.last_day:%Y-%m-%d}.")
        st.caption("The address bar holds this selection: copy it to share the view.")
    filters = current_filters()
    _write_url(filters)
    return filters


def _date_range(value: object) -> tuple[dt.date, dt.date] | None:
    """A date_input value as (start, end); a half-picked range (one date) counts as that single day."""
    if not value:
        return None
    if isinstance(value, dt.date):
        value = (value,)
    dates = tuple(value)
    return dates[0], dates[1] if len(dates) > 1 else dates[0]


def current_filters() -> Filters:
    """The selection as pages see it."""
    start, end = _date_range(st.session_state.get(DATES_KEY)) or default_dates(None)
    compare = None
    if st.session_state.get(COMPARE_MODE_KEY) == COMPARE_CUSTOM:
        compare = _date_range(st.session_state.get(COMPARE_DATES_KEY))
    return Filters(
        start=start,
        end=end,
        teams=list(st.session_state.get(TEAMS_KEY, [])),
        services=list(st.session_state.get(SERVICES_KEY, [])),
        environments=list(st.session_state.get(ENVIRONMENTS_KEY, [])),
        compare_to=compare,
        departments=list(st.session_state.get(DEPARTMENTS_KEY, [])),
        languages=list(st.session_state.get(LANGUAGES_KEY, [])),
        labels=list(st.session_state.get(LABELS_KEY, [])),
        report_year=st.session_state.get(REPORT_YEAR_KEY),
    )
