"""Incremental cursors of the sources, kept per key (repository, project, job) in dlt's resource state.

dlt's own `dlt.sources.incremental` keeps one cursor per resource; our resources read many repositories
or projects, each at its own pace (one added later still gets its whole history on its first run), so
each keeps a cursor per key. The layouts written here are the ones the sources have always written, so
an existing working directory's state keeps working:

- `Watermark`: `store[key] = "<timestamp>"`, the newest time read; the next read starts a look-back
  before it (records that arrive late or change within that window are read again; merges dedupe).
- `ChangedSince`: `store[key] = {"updated_at": "<timestamp>", "ids": [...]}`, the newest update time
  read and the ids of the rows updated exactly then: APIs filter "updated since" inclusively, so those
  rows come back on every read and are skipped by id, while another row updated at that same instant is
  still new. An unchanged key then yields nothing (which also spares every child request of its rows).

`keyed_state(section, resource)` is the per-key store itself (`resource_state(resource)[section]`), also
for state that is not a time cursor (known branches, ref tips, build numbers).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

import dlt

from ingestion.dates import iso_seconds, minus_days, parse_ts


def keyed_state(section: str, resource: str | None = None) -> dict[str, Any]:
    """The dict `section` of a resource's state, created empty; `resource` None: the running resource."""
    return dlt.current.resource_state(resource).setdefault(section, {})


class Watermark:
    """The newest timestamp read for one key: `store[key]`, text rendered by `render`."""

    def __init__(
        self, store: MutableMapping[str, Any], key: str, *, render: Callable[[datetime], str] = iso_seconds
    ) -> None:
        self._store, self._key, self._render = store, key, render
        self.saved: datetime | None = parse_ts(store.get(key))
        self.newest: datetime | None = self.saved

    def since(
        self, lookback_days: float, start: datetime | None = None, *, clamp: bool = True
    ) -> datetime | None:
        """Where the next read starts: `lookback_days` before the saved cursor, and not before `start`
        when `clamp`; `start` when nothing was read yet."""
        if self.saved is None:
            return start
        since = minus_days(self.saved, lookback_days)
        if clamp and start is not None and since < start:
            return start
        return since

    def see(self, value: datetime | None) -> None:
        """A time read; the cursor moves to the newest one seen when saved."""
        if value is not None and (self.newest is None or value > self.newest):
            self.newest = value

    def save(self) -> None:
        if self.newest is not None:
            self._store[self._key] = self._render(self.newest)


class ChangedSince:
    """An "updated since" cursor for one key with the ids of the rows at the cursor (see the module)."""

    def __init__(
        self,
        store: MutableMapping[str, Any],
        key: str,
        start: datetime | None = None,
        *,
        render: Callable[[datetime], str] = iso_seconds,
        field: str = "updated_at",
    ) -> None:
        self._store, self._key, self._render, self._field = store, key, render, field
        saved = store.get(key) or {}
        # before the first read, the start date bounds what is read (no ids are known at it)
        self.cursor: datetime | None = parse_ts(saved.get(field)) or start
        # whether an earlier read saved a cursor (not just the start date bounding a first read)
        self.resumed = bool(saved.get(field))
        self.at_cursor: set[Any] = set(saved.get("ids") or [])
        self._read: list[tuple[datetime, Any]] = []

    def is_new(self, updated: datetime | None, row_id: Any) -> bool:
        """Whether a row updated at `updated` was not read before (a row without a time always is)."""
        if self.cursor is None or updated is None:
            return True
        return updated > self.cursor or (updated == self.cursor and row_id not in self.at_cursor)

    def see(self, updated: datetime | None, row_id: Any) -> None:
        """A row read (and loaded); rows without a time do not move the cursor."""
        if updated is not None:
            self._read.append((updated, row_id))

    def save(self) -> None:
        """Move the cursor to the newest row read, remembering the ids read at that instant; a read that
        found nothing new leaves the cursor as it was."""
        if not self._read:
            return
        newest = max(at for at, _ in self._read)
        ids = {row_id for at, row_id in self._read if at == newest}
        if newest == self.cursor:
            ids |= self.at_cursor
        self._store[self._key] = {self._field: self._render(newest), "ids": sorted(ids)}
