"""Keep the objects a process holds for its whole life out of Python's cyclic garbage collector.

A full collection walks every object the process holds. After the refresh has imported Dagster, dlt,
dagster-dbt (and with it much of dbt-core) and built its definitions, that is millions of objects, and a
full collection took about 0.3 s on the 2-core machine: the loads ask for one after each source
(`ingestion.pipelines.release_memory`) and Python starts others by itself as objects accumulate, together
several seconds of a small refresh (docs/architecture.md, "Where a small refresh's time goes").
`gc.freeze()` moves the objects alive at that moment to a permanent generation no collection walks; what
is made after it is collected as before, so a load's garbage is still freed when the load ends.

Frozen objects are still freed as soon as nothing refers to them; only garbage cycles among them wait until
`gc.unfreeze()` (the end of `frozen_heap`), when they are collectable again. Nothing is computed
differently: this changes when memory is reclaimed, never a result.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Allocations between two young-generation collections in a process that runs one job and exits: dbt's
# command, a source's load (Python's default: 700). dbt allocates and drops many small objects for every
# node (Jinja contexts, events), a load for every record (parsed answers, shaped rows); a larger first
# threshold runs the young and middle collections, each of which walks the surviving objects, far less
# often. The garbage a collection finds is the same; it is found later, a few thousand objects at most.
DBT_GC_THRESHOLD0 = 10_000
LOAD_GC_THRESHOLD0 = 10_000


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic collection in the block: for imports and building definitions, which make objects that
    live on (a collection there walks them all and finds almost nothing). Explicit `gc.collect()` calls
    still collect; the collector is enabled again after the block if it was before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def frozen_heap(process_ends: bool = False) -> Iterator[None]:
    """Freeze what is alive now for the duration of the block; unfreeze it after.

    Nested blocks and `freeze_more` inside the block add to what is frozen; the outermost block's exit
    unfreezes everything, so a long-lived process (a test session, a served demo) is left as it was. Objects
    frozen before the block (the simulated world, `simulator.world.paused_gc`) are unfrozen with the rest:
    they are frozen again after one full collection, which frees the garbage of the block first (so none of
    it stays frozen for the life of the process). That collection walks everything once (about 0.6 s in the
    small demo): `process_ends` (the process exits after the block) leaves everything frozen instead.
    """
    global _depth, _frozen_before
    if _depth == 0:
        _frozen_before = gc.get_freeze_count()
    gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and not process_ends:
            gc.unfreeze()
            if _frozen_before:
                gc.collect()
                gc.freeze()


def freeze_more() -> bool:
    """Inside a `frozen_heap` block, freeze what is alive now too (say after a large import); outside one,
    do nothing (nobody would unfreeze it). Returns whether it froze."""
    if _depth == 0:
        return False
    gc.freeze()
    return True


def tune_for_one_job(threshold0: int) -> None:
    """For a process about to run one job and exit: freeze what it holds now (its imports, its definitions)
    and run the young collections every `threshold0` allocations. Nothing unfreezes: the process exits."""
    gc.freeze()
    _, threshold1, threshold2 = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, threshold2)


def tune_for_dbt() -> None:
    """For a process about to run one dbt command after importing dbt (`DBT_GC_THRESHOLD0`)."""
    tune_for_one_job(DBT_GC_THRESHOLD0)


def tune_for_load() -> None:
    """For a source's load in a process forked for it (`LOAD_GC_THRESHOLD0`; orchestration/load_process.py):
    what the refresh made before the fork is frozen with the rest."""
    tune_for_one_job(LOAD_GC_THRESHOLD0)


_depth = 0  # frozen_heap blocks open
_frozen_before = 0  # objects frozen when the outermost block opened
