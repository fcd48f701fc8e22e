"""The deployment status vocabulary, read from the dbt seeds that define it once.

`transform/seeds/deployment_statuses.csv` holds the canonical statuses `fct_deployments.status` may take;
`transform/seeds/deployment_source_statuses.csv` holds every status word each source documents with its
canonical status. The dbt models map through the same files, so the checks and the app cannot drift from
the mapping. `transform/seeds/batch_size_classes.csv` holds the classes of a deployment's batch. This
module imports nothing heavy: the app reads it too.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "transform" / "seeds"
CANONICAL_SEED = SEEDS / "deployment_statuses.csv"
SOURCE_SEED = SEEDS / "deployment_source_statuses.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def canonical_statuses() -> tuple[str, ...]:
    """The canonical statuses, in the seed's order (success first)."""
    return tuple(row["status"] for row in _rows(CANONICAL_SEED))


@cache
def documented_source_statuses() -> dict[str, frozenset[str]]:
    """Per source system, the lower-case status words the source documents."""
    documented: dict[str, set[str]] = {}
    for row in _rows(SOURCE_SEED):
        documented.setdefault(row["source_system"], set()).add(row["source_status"])
    return {source: frozenset(words) for source, words in documented.items()}


CANONICAL_STATUSES = canonical_statuses()


BATCH_SIZE_SEED = SEEDS / "batch_size_classes.csv"


@cache
def batch_size_classes() -> tuple[str, ...]:
    """The batch size classes fct_deployments.batch_size_class may take, smallest first (the seed the dbt
    model classifies with)."""
    rows = sorted(_rows(BATCH_SIZE_SEED), key=lambda row: int(row["class_order"]))
    return tuple(row["batch_size_class"] for row in rows)


BATCH_SIZE_CLASSES = batch_size_classes()
