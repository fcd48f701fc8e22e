"""Dagster's SQLite event log, written without a new engine and a disk flush per event.

Every step, asset materialization, asset check and log line of a run is one event. Dagster's SQLite event
log opens a new SQLAlchemy engine for each and commits it with SQLite's default `synchronous=FULL` (the
write-ahead log flushed to disk at every commit); an asset event is written twice (the run's shard and the
index shard). A refresh writes about 1,200 events, so that alone took seconds of every refresh.

This storage keeps one engine per database file and commits with `synchronous=NORMAL`, which SQLite
documents as safe in write-ahead-log mode (the mode Dagster creates these files in): a commit reaches the
operating system at once, so a killed process (`kill -9`, an OOM kill) loses nothing; only a power cut can
lose the last commits, never corrupt the file. Everything is still written as it happens, event by event:
the Dagster UI follows a run live, and a killed run's events up to the kill stay readable.

`deploylens` writes it into the Dagster home's `dagster.yaml`, so the refreshes of the command line, the
daemon's scheduled runs and the UI read and write the same files as Dagster's own storage would.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# Dagster's own busy timeout for its SQLite files (seconds).
BUSY_TIMEOUT_S = 30
# Files kept open: the index shard and the few runs being written or read at a time (a long-lived UI
# process reads many runs; the least recently used is closed).
MAX_ENGINES = 16


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class FastSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (same files, same schema) with engines reused and commits not flushed.

    `base_dir` defaults to `$DAGSTER_HOME/history/runs`, where Dagster's default storage keeps them.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        if not base_dir:
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> FastSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            # One connection kept open per file: closing a write-ahead-log database's last connection
            # checkpoints and flushes it, which cost as much as the write itself. `_db_lock` serialises
            # the threads that use it.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
            )
            event.listen(engine, "connect", _relaxed_sync)
            self._engines[shard] = engine
            while len(self._engines) > MAX_ENGINES:
                _, evicted = self._engines.popitem(last=False)
                evicted.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # the run files are deleted: no connection may keep writing to them
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
