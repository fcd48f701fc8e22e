"""DORA's Quick Check benchmarks, read from the JSON files DORA publishes (dora.dev's Quick Check data).

The files are DORA's, not ours: the source reads them from a folder the configuration names
(`benchmarks: {quickcheck_dir: ...}` in org.yml, docs/configuration.md) and loads them as published, one
row per edition, comparison (industry or organisation size), segment and metric. How the Quick Check turns
these into the means it shows (change failure and rework stored as pct / 10, the performance average
recomputed) is SQL in `dora_quickcheck_scores` (docs/metrics.md, "DORA Quick Check score").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource

from .settings import ALL_SEGMENT, ANSWERS_FILE, BENCHMARK_FILE


class QuickCheckError(ValueError):
    """A Quick Check folder or file that cannot be read as DORA publishes it; the message names the file."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QuickCheckError(f"{path.name}: not readable as JSON ({error})") from error


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QuickCheckError(f"{where}: expected a number, got {value!r}")
    return float(value)


def benchmark_rows(directory: Path) -> list[dict[str, Any]]:
    """Every benchmark file of the folder as rows (edition, comparison, segment, segment_name, metric, mean,
    std). Raises QuickCheckError for a folder without benchmark files or a file not shaped as DORA's."""
    directory = Path(directory)
    if not directory.is_dir():
        raise QuickCheckError(f"not a folder: {directory}")
    rows: list[dict[str, Any]] = []
    files = sorted(p for p in directory.iterdir() if BENCHMARK_FILE.match(p.name))
    if not files:
        raise QuickCheckError(
            f"{directory}: no DORA Quick Check benchmark files (<edition>_industry_metrics.json, "
            "<edition>_organization_size_metrics.json)"
        )
    for path in files:
        match = BENCHMARK_FILE.match(path.name)
        assert match is not None
        data = _read_json(path)
        if not isinstance(data, dict) or ALL_SEGMENT not in data:
            raise QuickCheckError(
                f"{path.name}: expected an object of segments with an {ALL_SEGMENT!r} entry"
            )
        for segment, entry in data.items():
            if not isinstance(entry, dict):
                raise QuickCheckError(f"{path.name}: segment {segment!r} is not an object")
            for metric, stats in entry.items():
                if metric == "name":
                    continue
                where = f"{path.name}: {segment}.{metric}"
                if not isinstance(stats, dict) or not {"mean", "std"} <= set(stats):
                    raise QuickCheckError(f"{where}: expected an object with mean and std")
                rows.append(
                    {
                        "edition": int(match["edition"]),
                        "comparison": match["comparison"],
                        "segment": str(segment),
                        "segment_name": entry.get("name"),
                        "metric": str(metric),
                        "mean": _number(stats["mean"], where + ".mean"),
                        "std": _number(stats["std"], where + ".std"),
                    }
                )
    return rows


def answer_rows(directory: Path) -> list[dict[str, Any]]:
    """The Quick Check's answer texts per metric and bucket; none when the folder lacks the file."""
    path = Path(directory) / ANSWERS_FILE
    if not path.exists():
        return []
    data = _read_json(path)
    if not isinstance(data, dict):
        raise QuickCheckError(f"{path.name}: expected an object of metrics")
    rows = []
    for metric, answers in data.items():
        if not isinstance(answers, dict):
            raise QuickCheckError(f"{path.name}: {metric} is not an object of answers")
        for bucket, answer in answers.items():
            if not str(bucket).isdigit():
                raise QuickCheckError(f"{path.name}: {metric}: answer key {bucket!r} is not a bucket number")
            rows.append({"metric": str(metric), "bucket": int(bucket), "answer": str(answer)})
    return rows


def segments(directory: Path, edition: int, comparison: str) -> dict[str, str]:
    """The segment keys (and names) of one edition's benchmark file: what org.yml may name."""
    return {
        row["segment"]: row["segment_name"] or row["segment"]
        for row in benchmark_rows(directory)
        if row["edition"] == edition and row["comparison"] == comparison
    }


@dlt.source(name="dora_quickcheck")
def dora_quickcheck_source(directory: str | Path) -> Sequence[DltResource]:
    """The benchmark means and answer texts of every edition in `directory`, replaced on every load (the
    folder is the truth)."""
    folder = Path(directory)

    @dlt.resource(
        name="benchmarks",
        write_disposition="replace",
        columns={
            "edition": {"data_type": "bigint"},
            "comparison": {"data_type": "text"},
            "segment": {"data_type": "text"},
            "segment_name": {"data_type": "text", "nullable": True},
            "metric": {"data_type": "text"},
            "mean": {"data_type": "double"},
            "std": {"data_type": "double"},
        },
    )
    def benchmarks() -> Iterator[list[dict[str, Any]]]:
        yield benchmark_rows(folder)

    @dlt.resource(
        name="answers",
        write_disposition="replace",
        columns={
            "metric": {"data_type": "text"},
            "bucket": {"data_type": "bigint"},
            "answer": {"data_type": "text"},
        },
    )
    def answers() -> Iterator[list[dict[str, Any]]]:
        yield answer_rows(folder)

    return [benchmarks(), answers()]
