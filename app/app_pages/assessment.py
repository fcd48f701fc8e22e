"""Baseline assessment: a team scores itself on the baseline's items (technical tooling, communication,
culture; 0 = don't have ... 3 = advanced), and sees its section averages over time beside the four keys
measured in the same months.

The form writes one JSON file per team and date into the assessments folder (ingestion/assessments); the
app never writes the warehouse: the next refresh loads the file into `fct_assessments` and
`assessment_section_scores`, which the charts read.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import queries, widgets
from app.state import current_filters
from ingestion.assessments import assessment_items, write_assessment
from ingestion.assessments.settings import SCORE_LABELS, SCORES

# Where the form writes: the folder the refresh reads (`deploylens serve` passes org.yml's
# `assessments_dir`), else the workdir's `assessments/`, else beside the warehouse.
ASSESSMENTS_ENV = "DEPLOYLENS_ASSESSMENTS_DIR"
SECTION_LABELS = {
    "technical_tooling": "Technical tooling",
    "communication": "Communication",
    "culture": "Culture",
}


def assessments_folder() -> Path:
    if os.environ.get(ASSESSMENTS_ENV):
        return Path(os.environ[ASSESSMENTS_ENV])
    if os.environ.get("DEPLOYLENS_WORKDIR"):
        return Path(os.environ["DEPLOYLENS_WORKDIR"]) / "assessments"
    return queries.warehouse_path().parent / "assessments"


def _form(teams: list[str]) -> None:
    items = assessment_items()
    with st.form("assessment_form"):
        team = st.selectbox("Team", teams, key="assessment_team")
        assessed_on = st.date_input("Assessed on", value=dt.date.today(), key="assessment_date")
        scores: dict[str, int] = {}
        for section, label in SECTION_LABELS.items():
            st.markdown(f"**{label}**")
            for item in (row for row in items if row["section"] == section):
                scores[item["item"]] = st.select_slider(
                    item["title"],
                    options=list(SCORES),
                    value=0,
                    format_func=lambda score: f"{score} · {SCORE_LABELS[score]}",
                    key=f"assessment_item_{item['item']}",
                )
        submitted = st.form_submit_button("Save assessment")
    if submitted and team:
        path = write_assessment(assessments_folder(), str(team), assessed_on, scores)
        st.success(f"Saved as `{path.name}`. The next refresh adds it to the charts below.")


def section_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Assessed on": pd.to_datetime(rows["assessed_on"]).dt.date,
            "Section": rows["section"].map(SECTION_LABELS),
            "Average (0-3)": rows["average_score"].astype("float64"),
            "Items scored": rows["items_scored"].astype("int64"),
            "Items": rows["section_items"].astype("int64"),
        }
    ).reset_index(drop=True)


def metrics_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Team": rows["team"],
            "Month": pd.to_datetime(rows["period_start"]).dt.date,
            "Deployments / week": rows["deployments_per_week"].astype("float64"),
            "Lead time median (h)": rows["lead_time_median_minutes"]
            .map(fmt.minutes_to_hours)
            .astype("float64"),
            "Change failure rate (%)": rows["change_failure_rate"].astype("float64") * 100,
            "Time to restore median (h)": rows["time_to_restore_median_minutes"]
            .map(fmt.minutes_to_hours)
            .astype("float64"),
        }
    ).reset_index(drop=True)


def main() -> None:
    st.title("Baseline assessment")
    filters = current_filters()
    widgets.caption(filters)
    path = queries.warehouse_path()
    try:
        teams = queries.team_names(path)
        sections = queries.assessment_sections(path, filters.teams)
        measured = queries.team_monthly_metrics(path, filters.start, filters.end, filters.teams)
    except queries.WarehouseUnavailable as error:
        widgets.unavailable(error)
        return

    with st.expander("Score a team", expanded=sections.empty):
        st.caption(
            "0 = don't have, 1 = novice, 2 = intermediate, 3 = advanced. One assessment per team and day;"
            " saving again the same day replaces it."
        )
        _form(teams)

    st.subheader("Section scores over time")
    if sections.empty:
        st.info("No assessment loaded yet: save one above; the next refresh loads it.")
    else:
        table = section_table(sections)
        chart = (
            alt.Chart(table)
            .mark_line(point=True)
            .encode(
                x=alt.X("Assessed on:T"),
                y=alt.Y("Average (0-3):Q", scale=alt.Scale(domain=[0, 3])),
                color="Section:N",
                strokeDash="Team:N",
                tooltip=list(table.columns),
            )
        )
        widgets.chart(chart, "assessment_sections", use_container_width=True)
        widgets.table(table, "assessment-sections.csv", key="assessment_sections")

    st.subheader("Measured in the same period")
    if measured.empty:
        st.info("No measured months in this selection.")
    else:
        widgets.table(metrics_table(measured), "assessment-measured.csv", key="assessment_measured")


main()
