"""Pieces every page draws the same way: the period caption, a table with its CSV download, drill-down links
and the "could not read" message."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries
from app.state import URL_FROM, URL_TEAM, URL_TO, Filters

if TYPE_CHECKING:
    # Only the pages that draw charts import Altair (a few hundred milliseconds on a page's first run).
    import altair as alt

UTC_MINUTES = "YYYY-MM-DD HH:mm"
# The page paths `st.navigation` gives the pages (their file names); links are relative so they keep working
# under a base URL path.
TEAMS_PAGE = "teams"
DEPLOYMENTS_PAGE = "deployments"


def caption(filters: Filters, compared: bool = False) -> None:
    """Say which period, comparison and slice the page shows."""
    parts = [f"{filters.start:%Y-%m-%d} – {filters.end:%Y-%m-%d}"]
    if compared:
        start, end = filters.compare
        parts.append(f"compared with {start:%Y-%m-%d} – {end:%Y-%m-%d}")
    parts.append(", ".join(filters.teams) if filters.teams else "all teams")
    if filters.services:
        parts.append("services " + ", ".join(filters.services))
    if filters.environments:
        parts.append("environments " + ", ".join(filters.environments))
    for name, values in (
        ("departments", filters.departments),
        ("languages", filters.languages),
        ("labels", filters.labels),
    ):
        if values:
            parts.append(f"{name} " + ", ".join(values))
    st.caption(" · ".join(parts))


def unavailable(error: Exception) -> None:
    st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")


def table(
    frame: pd.DataFrame,
    file_name: str,
    key: str,
    column_config: dict | None = None,
    column_order: list[str] | None = None,
) -> None:
    """A sortable table and a button downloading exactly its rows as CSV."""
    st.dataframe(
        frame, hide_index=True, key=key, column_config=column_config or {}, column_order=column_order
    )
    st.download_button(
        "Download as CSV",
        frame.to_csv(index=False),
        file_name,
        "text/csv",
        key=f"{key}_csv",
        icon=":material/download:",
    )


def team_link(team: str, filters: Filters) -> str:
    """The Teams page filtered on one team, same period."""
    query = {URL_FROM: filters.start.isoformat(), URL_TO: filters.end.isoformat(), URL_TEAM: team}
    return f"{TEAMS_PAGE}?{urlencode(query)}"


def deployment_link(deployment_id: object) -> str | None:
    """The deployment card of the Deployments page."""
    if deployment_id is None or pd.isna(deployment_id):
        return None
    return f"{DEPLOYMENTS_PAGE}?{urlencode({'deployment': str(deployment_id)})}"


def link_column(label: str, help_text: str, display_text: str | None = None):
    return st.column_config.LinkColumn(label, help=help_text, display_text=display_text)


def hours(label: str, help_text: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, help=help_text, format="%.1f h")


def percent(label: str, help_text: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, help=help_text, format="%.1f %%")


def when(label: str) -> st.column_config.DatetimeColumn:
    return st.column_config.DatetimeColumn(label, format=UTC_MINUTES)


# The batch, pipeline, review and rework columns of the Teams and Services tables, by their mart column.
DELIVERY_COLUMNS = {
    "rework_rate": "Rework rate (%)",
    "batch_size_median_lines": "Batch size median (lines)",
    "pipeline_duration_median_minutes": "Pipeline median (min)",
    "review_compliance_rate": "Review compliance (%)",
    "deployed_by_author_share": "Deployed by author (%)",
}
PERCENT_COLUMNS = ("rework_rate", "review_compliance_rate", "deployed_by_author_share")


def delivery_columns(keys: pd.Series, measures: pd.DataFrame) -> pd.DataFrame:
    """The measures of `queries.delivery_measures` for each key (team or service) in order, in table units."""
    indexed = measures.set_index("key").reindex(list(keys))
    return pd.DataFrame(
        {
            label: indexed[column].astype("float64").to_numpy() * (100 if column in PERCENT_COLUMNS else 1)
            for column, label in DELIVERY_COLUMNS.items()
        }
    )


def delivery_column_config() -> dict:
    number = st.column_config.NumberColumn
    return {
        "Rework rate (%)": percent(
            "Rework rate (%)",
            "Production deployments that are rework: a rollback, a revert or hotfix shipped",
        ),
        "Batch size median (lines)": number(
            help="Median lines changed per production deployment (size known)",
            format="%.0f",
        ),
        "Pipeline median (min)": number(
            help="Median minutes from pipeline start to deployment (with a pipeline)",
            format="%.0f",
        ),
        "Review compliance (%)": percent(
            "Review compliance (%)", "Changes reviewed by someone other than the author, among those known"
        ),
        "Deployed by author (%)": percent(
            "Deployed by author (%)", "Changes whose author deployed them to production, among those known"
        ),
    }


def sliced(path, filters: Filters) -> Filters | None:
    """The selection with the department, language and label filters turned into the teams and services
    they keep (as the Teams and Services pages apply them); None when nothing is left. Unsliced: as is."""
    if not filters.is_sliced:
        return filters
    services = queries.scoped_services(
        path, filters.teams, filters.services, filters.departments, filters.languages, filters.labels
    )
    teams = queries.scoped_teams(path, filters.teams, filters.departments, filters.languages, filters.labels)
    if not services or not teams:
        return None
    return replace(filters, teams=teams, services=services)


# The four keys as `queries.period_levels` and `dora_summary` name their levels.
LEVEL_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
# The year `dora_summary` bands with: the levels of a warehouse built before `dora_levels` existed.
SUMMARY_REPORT_YEAR = 2023


@dataclass(frozen=True)
class PeriodLevels:
    """The levels of the chosen period by the report year of the filter bar, per team (and `(org)`) or per
    service; `frame` is None for a warehouse without the bands, whose levels are dora_summary's 2023 ones."""

    report_year: int
    frame: pd.DataFrame | None

    def level(self, key: str, metric: str, summary_row: pd.Series | None = None) -> object:
        """The level of `metric` for a team, `(org)` or service; dora_summary's 2023 column as fallback."""
        if self.frame is None:
            return None if summary_row is None else summary_row[f"{metric}_level_{SUMMARY_REPORT_YEAR}"]
        if key not in self.frame.index:
            return None
        return self.frame.loc[key, f"{metric}_level"]

    def column(self, keys: pd.Series, metric: str, summary: pd.DataFrame | None = None) -> pd.Series:
        """`metric`'s level for each key in order, as labels for a table."""
        if self.frame is None:
            if summary is None:
                return pd.Series([None] * len(keys), index=keys.index, dtype="object").map(fmt.level_label)
            return summary[f"{metric}_level_{SUMMARY_REPORT_YEAR}"].map(fmt.level_label)
        levels = self.frame[f"{metric}_level"].reindex(list(keys))
        return pd.Series(levels.to_numpy(), index=keys.index).map(fmt.level_label)


def period_levels(
    path, filters: Filters, group: str, teams: list[str] | None, services: list[str] | None = None
) -> PeriodLevels:
    """The period's levels by the chosen report year (`dora_levels`' banding over the chosen dates)."""
    if filters.report_year is None or not queries.has_period_levels(path):
        return PeriodLevels(SUMMARY_REPORT_YEAR, None)
    frame = queries.period_levels(
        path, filters.start, filters.end, group, teams, services, filters.report_year
    )
    return PeriodLevels(filters.report_year, frame.set_index("key"))


def levels_note(levels: PeriodLevels) -> None:
    """Which bands the level columns use, and where their definition is."""
    if levels.frame is None:
        st.caption(
            "Levels use the 2023 report's bands (`dora_summary`); this warehouse predates the other years' "
            "bands."
        )
        return
    st.caption(
        f"Levels by the {levels.report_year} report's bands (the DORA report year in the sidebar), banding "
        "the period as `dora_levels` bands a month: deployment frequency as deploy days (or deployments) "
        "over the period's loaded days. Month by month, week by week: the Benchmarks page."
    )


def explain_no_production(path) -> bool:
    """True (after saying why) when the warehouse holds no successful production deployment at all: a new
    setup whose environments or deploy rules match no production deployment. Widening the period would not
    help, so the pages that need one say this instead of "widen the date range"."""
    counts = queries.deployment_counts(path)
    if counts["production"] > 0:
        return False
    st.info(
        "No successful production deployment has been loaded yet"
        + (
            f" ({counts['deployments']} deployments to other environments or not successful)."
            if counts["deployments"]
            else "."
        )
        + " The four keys start with the first one. Check that an environment is marked"
        " `production: true` and that each service's deploy rules match how it ships"
        " (docs/configuration.md); Data health shows what the last refresh loaded and warned about."
    )
    return True


# Kinds of chart (one per chart builder and variant) checked against Vega-Lite's schema in this process.
_VALIDATED_CHARTS: set[str] = set()


def chart(figure: alt.TopLevelMixin, kind: str, **options: object) -> None:
    """`st.altair_chart`, checking the chart against Vega-Lite's JSON schema the first time a `kind` is drawn
    in the process (every test that opens the page does) and not on later reruns: a kind's shape is code and
    only its data changes, and the check costs tens of milliseconds a chart on every rerun."""
    if kind in _VALIDATED_CHARTS:
        # Streamlit calls `to_dict()`; the instance attribute makes that call skip the schema check.
        object.__setattr__(figure, "to_dict", functools.partial(figure.to_dict, validate=False))
    st.altair_chart(figure, **options)
    _VALIDATED_CHARTS.add(kind)
