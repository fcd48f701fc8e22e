"""The teams' baseline self-assessments: one JSON file per team and date in the assessments folder.

A file is what the app's "Baseline assessment" form writes (or a person, by hand):

    {"team": "payments", "assessed_on": "2026-11-01", "scores": {"source_control": 3, "safety": 2}}

Every refresh reads the whole folder (the folder is the truth; the table is replaced). Nothing is dropped
silently: a file that cannot be read as an assessment (not JSON, no team, no ISO date) is quarantined whole,
an answer naming an unknown item or a score other than 0-3 is quarantined alone, and a second file for the
same team and date is left out as a duplicate; all are rows of `raw_assessments.quarantine`, which the
data-health page counts (docs/sources.md, "Bad records").

The form's helpers (`assessment_items`, `write_assessment`) live here and import no dlt, so the app's
form page does not pay for dlt's import; the loader (`read_folder`, `assessments_source`) is
`ingestion/assessments/source.py`, importable from here too.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from .settings import ITEMS_SEED, SCORES

SOURCE = "assessments"
RESOURCE = "scores"


def assessment_items(seed: Path = ITEMS_SEED) -> list[dict[str, str]]:
    """The seed's rows (section, item_order, item, title), in form order."""
    with seed.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda row: int(row["item_order"]))


def file_name(team: str, assessed_on: date) -> str:
    """The file one team's assessment of one day is written to: readable, and safe for any team name."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in team).strip("_") or "team"
    return f"{safe}--{assessed_on.isoformat()}.json"


def write_assessment(folder: Path, team: str, assessed_on: date, scores: dict[str, int]) -> Path:
    """Write (or replace) a team's assessment of a day; validated as the loader would read it."""
    known = {row["item"] for row in assessment_items()}
    unknown = sorted(set(scores) - known)
    if unknown:
        raise ValueError(f"unknown assessment items: {', '.join(unknown)}")
    bad = {item: score for item, score in scores.items() if score not in SCORES}
    if bad:
        raise ValueError(f"scores must be 0-3: {bad}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(team, assessed_on)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps({"team": team, "assessed_on": assessed_on.isoformat(), "scores": scores}, indent=2) + "\n",
        encoding="utf-8",
    )
    tmp.replace(path)  # readers (a refresh) never see half a file
    return path


def __getattr__(name: str) -> Any:
    """`read_folder` and `assessments_source` from the loader module, imported on first use (dlt)."""
    if name in ("read_folder", "assessments_source"):
        from . import source

        return getattr(source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
