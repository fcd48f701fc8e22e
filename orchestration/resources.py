"""Resources shared by the refresh: the single-writer lock on the build database."""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

log = logging.getLogger("deploylens")


@contextmanager
def exclusive_lock(path: Path, timeout_s: float = 3600.0, poll_s: float = 1.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path`.

    DuckDB allows one writing process per file: a scheduled refresh in the Dagster daemon and a refresh
    started from the CLI must take turns, the later one waiting rather than failing on DuckDB's lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another refresh still holds {path.name} after {timeout_s:.0f} s"
                    ) from None
                if not announced:
                    log.info("waiting for another refresh to finish")
                    announced = True
                time.sleep(poll_s)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class BuildLock(dg.ConfigurableResource):
    """Held for a whole run by every step that writes the build database."""

    lock_path: str
    timeout_s: float = 3600.0

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[BuildLock]:
        with exclusive_lock(Path(self.lock_path), self.timeout_s):
            yield self
