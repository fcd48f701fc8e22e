"""The self-assessment loader: reads the assessments folder into score rows and quarantine rows
(ingestion/assessments/__init__.py describes the files)."""

from __future__ import annotations

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

from . import RESOURCE, SOURCE, assessment_items
from .settings import SCORES


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
