"""The dlt pipeline every source loads through: one DuckDB build file, one dataset per source.

Memory is bounded here, in one place (docs/architecture.md, Memory): dlt keeps at most a buffer of items
per table in memory and rotates its intermediary files, normalises in one process and loads a few files at
a time; DuckDB has a memory limit (what does not fit spills to `<build database>.tmp/` in the workdir), a
thread count, and does not keep insertion order (which lets inserts and joins stream). Every value can be
set by environment; dbt reads the DuckDB ones from the same variables (transform/profiles.yml).
"""

from __future__ import annotations

import ctypes
import gc
import os
from pathlib import Path

import dlt
import duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

# The configuration lands in `raw_config` (docs/architecture.md); other sources in `raw_<name>`.
DATASET_NAMES = {"org_config": "raw_config"}

# Every table is handed to DuckDB as Parquet, rows as well as Arrow pages: dlt's default for rows on
# DuckDB is INSERT statements, which DuckDB parses at about 2,500 rows a second for a wide table (a
# large org's workflow runs) and holds in memory at about 115 times their text; a Parquet file of the same
# rows it reads whole (docs/architecture.md, "Loading rows as Parquet").
LOADER_FILE_FORMAT = "parquet"

# Variable -> default. The DuckDB defaults are repeated in transform/profiles.yml (a test keeps them equal).
MEMORY_DEFAULTS = {
    "DEPLOYLENS_DUCKDB_MEMORY_LIMIT": "2GB",
    "DEPLOYLENS_DUCKDB_THREADS": "2",
    "DEPLOYLENS_DLT_BUFFER_MAX_ITEMS": "5000",  # items per table held before they are written to a file
    "DEPLOYLENS_DLT_FILE_MAX_ITEMS": "200000",  # an intermediary file is closed (rotated) at this size...
    "DEPLOYLENS_DLT_FILE_MAX_BYTES": str(64 * 1024 * 1024),  # ... or this one
    "DEPLOYLENS_DLT_NORMALIZE_WORKERS": "1",  # each worker process holds its own buffers
    "DEPLOYLENS_DLT_LOAD_WORKERS": "2",  # files loaded into DuckDB at a time
}

# dlt reads its settings from the environment (its own names win when a user sets them).
_DLT_ENV = {
    "DATA_WRITER__BUFFER_MAX_ITEMS": "DEPLOYLENS_DLT_BUFFER_MAX_ITEMS",
    "DATA_WRITER__FILE_MAX_ITEMS": "DEPLOYLENS_DLT_FILE_MAX_ITEMS",
    "DATA_WRITER__FILE_MAX_BYTES": "DEPLOYLENS_DLT_FILE_MAX_BYTES",
    "NORMALIZE__WORKERS": "DEPLOYLENS_DLT_NORMALIZE_WORKERS",
    "LOAD__WORKERS": "DEPLOYLENS_DLT_LOAD_WORKERS",
}


def memory_setting(name: str) -> str:
    return os.environ.get(name) or MEMORY_DEFAULTS[name]


def duckdb_settings() -> dict[str, str | bool]:
    """DuckDB's bounded-memory settings, as transform/profiles.yml renders them for dbt."""
    return {
        "memory_limit": memory_setting("DEPLOYLENS_DUCKDB_MEMORY_LIMIT"),
        "threads": memory_setting("DEPLOYLENS_DUCKDB_THREADS"),
        "preserve_insertion_order": False,
    }


def connect_duckdb(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to a refresh's DuckDB file with the bounded-memory settings.

    They are SET after connecting, not passed to `connect`: DuckDB refuses a second connection to a file
    this process has open with a different connect-time configuration (dlt's, for instance).
    """
    con = duckdb.connect(str(path), read_only=read_only)
    for name, value in duckdb_settings().items():
        con.execute(f"set {name} = ?", [value])
    return con


# Sources that hand dlt Arrow tables (ingestion/arrow.py `arrow_page`) for tables first loaded from
# rows: dlt adds its `_dlt_load_id` and `_dlt_id` to rows but not to Arrow tables unless told, and their
# tables keep both columns (not null) whichever way a page arrives. Set for those pipelines only: other
# sources' Arrow tables (git_local) never had them.
ARROW_WITH_DLT_COLUMNS = ("github", "gitlab")


def _configure_dlt(name: str | None = None) -> None:
    for dlt_name, ours in _DLT_ENV.items():
        os.environ.setdefault(dlt_name, memory_setting(ours))
    if name in ARROW_WITH_DLT_COLUMNS:
        section = f"DEPLOYLENS_{name.upper()}__NORMALIZE__PARQUET_NORMALIZER__"
        os.environ.setdefault(section + "ADD_DLT_LOAD_ID", "true")
        os.environ.setdefault(section + "ADD_DLT_ID", "true")


def release_memory() -> None:
    """Hand what a source's load left behind back to the system before the next step: collect its
    unreferenced objects, then ask glibc's allocator to return freed heap pages (`malloc_trim`), which it
    otherwise keeps for the process's lifetime. A no-op where there is no glibc."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def make_pipeline(
    name: str, build_db: str | Path, pipelines_dir: str | Path, progress: str | None = None
) -> dlt.Pipeline:
    """A pipeline named `deploylens_<name>` loading dataset `raw_<name>` into the DuckDB file `build_db`
    (`raw_config` for the org configuration).

    Each source gets its own pipeline (and so its own state and working folder under `pipelines_dir`), so
    one source failing or being reset does not disturb the others' incremental cursors.
    """
    Path(build_db).parent.mkdir(parents=True, exist_ok=True)
    _configure_dlt(name)
    kwargs = {"progress": progress} if progress else {}
    credentials = DuckDbCredentials(str(build_db), global_config=duckdb_settings())
    return dlt.pipeline(
        pipeline_name=f"deploylens_{name}",
        destination=dlt.destinations.duckdb(credentials, preferred_loader_file_format=LOADER_FILE_FORMAT),
        dataset_name=DATASET_NAMES.get(name, f"raw_{name}"),
        pipelines_dir=str(pipelines_dir),
        **kwargs,
    )
