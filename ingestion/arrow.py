"""Pages of shaped rows handed to dlt as Arrow tables (the GitHub and GitLab sources' large tables).

dlt writes an Arrow table to Parquet as it is, skipping its row-by-row normalisation (on a large org the
slowest part of a load after the requests), and DuckDB reads the file whole instead of row by row. A table
loads exactly what its rows would: the same columns, types, nullability and values. What does not fit is
handed over as rows, so it loads as it always did.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import pyarrow as pa
from dlt.common import json as dlt_json
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.detections import is_iso_timestamp
from dlt.common.typing import TDataItem

_ARROW_TYPES = {"text": pa.string(), "bigint": pa.int64(), "bool": pa.bool_(), "double": pa.float64()}
# dlt's own type for a `timestamp` hint on DuckDB: UTC, microseconds
_ARROW_TIMESTAMP = pa.timestamp("us", tz="UTC")
# what dlt infers for a column without a hint, by the Python type of its values
_INFERRED = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
_NAMING = NamingConvention()
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, KeyError)
_ARROW_ERRORS += (OverflowError,)

# rows per Arrow table handed to dlt: dlt computes and validates a table's schema for every Arrow item (it
# caches that for rows only), about 10 ms an item, so pages are gathered into tables of this many rows
ARROW_BATCH_ROWS = 10_000


class _Unfit(Exception):
    """A page that dlt would load other than as one flat table of known types."""


def arrow_batches(
    items: Iterable[Any], columns: dict[str, Any], size: int = ARROW_BATCH_ROWS, nested: bool = False
) -> Iterator[Any]:
    """A resource's items with its pages of rows (lists) gathered into Arrow tables of at least `size` rows
    (arrow_page), the last one smaller; other items (quarantine rows, marked for their own table) pass on
    as they come. A transformer below the resource receives the tables (parent_keys)."""
    rows: list[dict] = []
    for item in items:
        if not isinstance(item, list):
            yield item
            continue
        rows += item
        if len(rows) >= size:
            yield arrow_page(rows, columns, nested)
            rows = []
    if rows:
        yield arrow_page(rows, columns, nested)


def arrow_page(rows: list[dict], columns: dict[str, Any], nested: bool = False) -> pa.Table | list[dict]:
    """A page of shaped rows as an Arrow table with every hinted column at its declared type.

    `json` columns hold dlt's own JSON text, `timestamp` columns UTC microseconds, absent values nulls; the
    columns dlt adds (`_dlt_load_id`, `_dlt_id`) are added by dlt as for rows (ingestion/pipelines.py).

    Without `nested`, a row holds hinted columns only. With it (rows as the API nests them, GitLab's), a
    nested object is flattened into `parent__child` columns as dlt's normaliser does, and a column without
    a hint takes the type dlt would infer from its values (bigint, double, bool, text), after the hinted
    ones in the order first seen.

    A page that does not fit (a column without a hint when not `nested`, a value of another type than its
    column's, a time without its zone, an unhinted list (dlt's child table), an unhinted text that reads as a
    time (dlt's timestamp detection), a name dlt would rename) is handed over as rows."""
    if not rows:
        return rows
    try:
        flat = [_flatten(row, columns) for row in rows] if nested else rows
        extra = _extra_columns(flat, columns, nested)
        arrays = [_hinted_array([row.get(name) for row in flat], hint) for name, hint in columns.items()]
        arrays += [_inferred_array([row.get(name) for row in flat]) for name in extra]
    except (_Unfit, *_ARROW_ERRORS):
        return rows
    return pa.Table.from_arrays(arrays, names=[*columns, *extra])


def _flatten(row: dict, columns: dict[str, Any]) -> dict:
    """A row's nested objects flattened into `parent__child` columns in dlt's order (its normaliser's
    stack: a level's values first, then its nested objects, the last one first)."""
    out: dict[str, Any] = {}
    stack: list[tuple[dict, str]] = [(row, "")]
    while stack:
        current, prefix = stack.pop()
        for key, value in current.items():
            name = prefix + key
            if value is None:
                continue
            hint = columns.get(name)
            if hint is not None and hint["data_type"] == "json":
                out[name] = value
            elif type(value) is dict:
                stack.append((value, name + "__"))
            elif type(value) is list:
                raise _Unfit(name)  # dlt would load its items into a child table
            else:
                out[name] = value
    return out


def _extra_columns(rows: list[dict], columns: dict[str, Any], nested: bool) -> list[str]:
    extra: dict[str, None] = {}
    for row in rows:
        if row.keys() - columns.keys():
            extra.update((name, None) for name in row if name not in columns and name not in extra)
    if extra and not nested:
        raise _Unfit(next(iter(extra)))
    for name in extra:
        if _NAMING.normalize_path(name) != name:
            raise _Unfit(name)
    return list(extra)


def _hinted_array(values: list[Any], hint: dict[str, Any]) -> pa.Array:
    kind = hint["data_type"]
    if kind == "json":
        return pa.array([None if value is None else dlt_json.dumps(value) for value in values], pa.string())
    if kind == "timestamp":
        return pa.array(values, pa.string()).cast(_ARROW_TIMESTAMP)
    return pa.array(values, _ARROW_TYPES[kind])


def _inferred_array(values: list[Any]) -> pa.Array:
    kinds = {type(value) for value in values if value is not None}
    if len(kinds) != 1:
        raise _Unfit("mixed types")  # dlt would add a variant column
    kind = kinds.pop()
    if kind not in _INFERRED:
        raise _Unfit(kind.__name__)
    if kind is str and any(_reads_as_time(value) for value in values if value is not None):
        raise _Unfit("a time in text")
    return pa.array(values, _INFERRED[kind])


def _reads_as_time(value: str) -> bool:
    # cheap first: dlt's detection only takes ISO dates and times, which start with a four-digit year
    return value[:4].isdigit() and value[4:5] == "-" and is_iso_timestamp(str, value) is not None


def parent_keys(items: TDataItem, columns: Collection[str]) -> list[dict]:
    """A parent's item as a transformer receives it (an Arrow table, rows or one row), as rows holding only
    `columns` (the keys the transformer reads); a nested column (`author__username`) is read from the
    table's flattened column or from the row's nested objects, a missing one is None."""
    if isinstance(items, pa.Table):
        present = [name for name in columns if name in items.column_names]
        return [{name: row.get(name) for name in columns} for row in items.select(present).to_pylist()]
    return [{name: _nested(row, name) for name in columns} for row in as_rows(items)]


def _nested(row: dict, column: str) -> Any:
    if column in row:
        return row[column]
    value: Any = row
    for part in column.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def as_rows(items: TDataItem) -> list[dict]:
    return items if isinstance(items, list) else [items]


class _JsonTextHint(logging.Filter):
    """dlt warns, for every Arrow page, that a column's `json` hint wins over the Arrow column's `text`
    type. That is arrow_page's intent (JSON text into the json column, as rows load it); a warning per page
    would fill the refresh's log, so it is dropped for these resources (dlt's INFO lines keep the detail)."""

    resources: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "when merging arrow schema with dlt schema" not in message:
            return True
        return not any(f"In resource: {name}," in message for name in self.resources)


_json_text_hint = _JsonTextHint()
logging.getLogger("dlt").addFilter(_json_text_hint)


def quiet_json_hints(resources: Iterable[str]) -> None:
    """Drop dlt's per-page warning about json hints on Arrow pages for these resources."""
    _JsonTextHint.resources.update(resources)
