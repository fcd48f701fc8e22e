"""The teams' baseline self-assessments: one JSON file per team and date in the assessments folder.

A file is what the app's "Baseline assessment" form writes (or a person, by hand):

    {"team": "payments", "assessed_on": "2026-11-01", "scores": {"source_control": 3, "safety": 2}}

Every refresh reads the whole folder (the folder is the truth; the table is replaced). Nothing is dropped
silently: a file that cannot be read as an assessment (not JSON, no team, no ISO date) is quarantined whole,
an answer naming an unknown item or a score other than 0-3 is quarantined alone, and a second file for the
same team and date is left out as a duplicate; all are rows of `raw_assessments.quarantine`, which the
data-health page counts (docs/sources.md, "Bad records").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.quarantine import (
    COLUMNS,
    DEDUPLICATED,
    DUPLICATE_KEY,
    MAX_VALUE_CHARS,
    MISSING_TIMESTAMP,
    NULL_KEY,
    QUARANTINED,
    UNKNOWN_ENUM,
    UNPARSABLE_TIMESTAMP,
    WRONG_TYPE,
)

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


def _note(path: Path, reason: str, field: str | None = None, value: Any = None) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "resource": RESOURCE,
        "scope": path.name,
        "record_key": path.name if field is None else f"{path.name}#{field}",
        "reason": reason,
        "action": DEDUPLICATED if reason == DUPLICATE_KEY else QUARANTINED,
        "field": field,
        "value": None if value is None else str(value)[:MAX_VALUE_CHARS],
        "quarantined_at": datetime.now(UTC),
    }


def read_folder(folder: Path, items: set[str] | None = None) -> tuple[list[dict], list[dict]]:
    """(score rows, quarantine rows) of every `*.json` in `folder` (none when it does not exist)."""
    items = items if items is not None else {row["item"] for row in assessment_items()}
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], str] = {}
    paths = sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            bad.append(_note(path, WRONG_TYPE, None, f"not JSON: {error}"))
            continue
        if not isinstance(data, dict):
            bad.append(_note(path, WRONG_TYPE, None, "not a JSON object"))
            continue
        team = data.get("team")
        if not isinstance(team, str) or not team.strip():
            bad.append(_note(path, NULL_KEY, "team", team))
            continue
        when = data.get("assessed_on")
        if when is None:
            bad.append(_note(path, MISSING_TIMESTAMP, "assessed_on"))
            continue
        try:
            assessed_on = date.fromisoformat(str(when))
        except ValueError:
            bad.append(_note(path, UNPARSABLE_TIMESTAMP, "assessed_on", when))
            continue
        scores = data.get("scores")
        if not isinstance(scores, dict):
            bad.append(_note(path, WRONG_TYPE, "scores", scores))
            continue
        key = (team, assessed_on.isoformat())
        if key in seen:
            # the first file in name order wins; the repeat is counted, not loaded
            bad.append(_note(path, DUPLICATE_KEY, None, f"{team} {assessed_on} is also in {seen[key]}"))
            continue
        seen[key] = path.name
        for item, score in scores.items():
            if item not in items:
                bad.append(_note(path, UNKNOWN_ENUM, str(item), score))
            elif isinstance(score, bool) or score not in SCORES:
                bad.append(_note(path, WRONG_TYPE, str(item), score))
            else:
                rows.append(
                    {
                        "file_name": path.name,
                        "team": team,
                        "assessed_on": assessed_on,
                        "item": item,
                        "score": int(score),
                    }
                )
    return rows, bad


@dlt.source(name="assessments")
def assessments_source(folder: str | Path) -> Sequence[DltResource]:
    """The folder's answers (`scores`, replaced) and what was set aside (`quarantine`, appended). Each
    resource reads the folder when it runs (a few small files), not when the source is defined."""

    @dlt.resource(
        name=RESOURCE,
        write_disposition="replace",
        columns={
            "file_name": {"data_type": "text"},
            "team": {"data_type": "text"},
            "assessed_on": {"data_type": "date"},
            "item": {"data_type": "text"},
            "score": {"data_type": "bigint"},
        },
    )
    def scores() -> Iterator[list[dict[str, Any]]]:
        yield read_folder(Path(folder))[0]

    @dlt.resource(name="quarantine", write_disposition="append", columns=COLUMNS)
    def quarantine() -> Iterator[list[dict[str, Any]]]:
        bad = read_folder(Path(folder))[1]
        if bad:
            yield bad

    return [scores(), quarantine()]
