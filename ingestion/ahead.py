"""Reading ahead: what a source will read next, read in worker threads while it works on what it has.

`in_order` runs a fetch per item, a few at a time, and hands the results over in the items' order;
`read_whole` reads a listing to its end in a worker, keeping what stopped it; `replay` gives those pages
back and raises that error where the listing itself would have. With `idle`, a result not ready yet is
handed over as None, which a dlt resource passes on (`yield None`): dlt then works on the source's other
resources and comes back, so the source's own work overlaps the server's answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_order(
    items: Iterable[T],
    fetch: Callable[[T], R],
    max_concurrency: int,
    idle: bool = False,
    threaded: bool = False,
) -> Iterator[tuple[T, R] | None]:
    """`(item, fetch(item))` in the order of `items`, up to `max_concurrency` fetches running at once.

    Results are handed over in input order, so what is loaded does not depend on which request answered
    first; at most `max_concurrency` results wait in memory. A failed fetch raises when its turn comes.

    `idle`: while the next result is not ready, None is handed over instead of waiting for it. A dlt
    resource passes the None on (`yield None`): dlt then goes on with its other resources and comes back,
    so the source's own work on one resource overlaps the server's answers for another.

    `threaded` (with `idle`): fetches run in worker threads even one at a time, for a fetch that may wait
    for what another resource reads (the caller's thread must go on handing dlt its Nones meanwhile)."""
    items = list(items)
    if not threaded and (max_concurrency <= 1 or len(items) <= 1):
        for item in items:
            yield item, fetch(item)
        return
    workers = max(max_concurrency, 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read-ahead") as pool:
        pending: list[tuple[T, Future[R]]] = []
        queue = iter(items)
        try:
            for item in queue:
                pending.append((item, pool.submit(fetch, item)))
                if len(pending) >= workers:
                    break
            while pending:
                if idle and not pending[0][1].done():
                    yield None
                    continue
                item, future = pending.pop(0)
                result = future.result()
                following = next(queue, None)
                if following is not None:
                    pending.append((following, pool.submit(fetch, following)))
                yield item, result
        finally:
            for _, future in pending:
                future.cancel()


def read_whole(listing: Iterator[Any]) -> tuple[list[Any], BaseException | None]:
    pages: list[Any] = []
    try:
        for page in listing:
            pages.append(page)
    except Exception as exc:  # noqa: BLE001 (raised again where the listing is read)
        return pages, exc
    return pages, None


def replay(pages: list[Any], error: BaseException | None) -> Iterator[Any]:
    yield from pages
    if error is not None:
        raise error
