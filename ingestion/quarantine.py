"""Bad records: screened per page before a resource reads them, counted, and kept apart.

Every resource of every source states a `Contract` for the records it reads: the fields of its key, its
time fields, and the enumerations the models branch on. `Quarantine.screen` holds each page against it:

- **quarantined** (left out of the resource's table, one row in `raw_<source>.quarantine`): a null or
  empty key, a key of the wrong type, a time field that does not parse (or is of the wrong type), a
  required time that is missing, an enumeration value the models would misread;
- **cleared** (loaded, the offending field set to null, counted): a time field of a commit that does not
  parse. Commits are the graph every metric walks; leaving one out would cut its descendants off their
  ancestors, so the commit stays and only its unreadable date goes;
- **kept** (loaded as it is, counted): what real histories legitimately hold: a committer date before the
  author date (rebases, cherry-picks), a UTC offset that names no time zone (git stores what the tool
  wrote: psf/requests has `+051800`), a date more than a day in the future (a wrong clock; whether it is
  in the future depends on the wall clock, so dropping it would lose it for good once the cursor passed);
- **deduplicated** (the repeat left out, counted): the same key twice in one listing (a page shifted
  while it was read). A repeat with a newer `version` field is loaded too, and the table's merge keeps the
  newest (`newest_wins` sets dlt's `dedup_sort` on that column).

Quarantine rows carry the offending field and its value (at most `MAX_VALUE_CHARS`), never the record:
nothing that is not one of its fields can leak into the warehouse. The table is append-only (one row per
record and load, `_dlt_load_id`); `health_quarantine_summary` counts it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt

log = logging.getLogger("deploylens.quarantine")

TABLE = "quarantine"
MAX_VALUE_CHARS = 200
FUTURE_SKEW = timedelta(days=1)

# Reasons (the `reason` column) and what happens to the record (the `action` column).
NULL_KEY = "null_key"
WRONG_TYPE = "wrong_type"
UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
MISSING_TIMESTAMP = "missing_timestamp"
UNKNOWN_ENUM = "unknown_enum"
DUPLICATE_KEY = "duplicate_key"
COMMITTER_BEFORE_AUTHOR = "committer_before_author"
ODD_UTC_OFFSET = "odd_utc_offset"
FUTURE_TIMESTAMP = "future_timestamp"
QUARANTINED, CLEARED, KEPT, DEDUPLICATED = "quarantined", "cleared", "kept", "deduplicated"

COLUMNS: dict[str, Any] = {
    name: {"data_type": data_type, "nullable": True}
    for name, data_type in (
        ("source", "text"),
        ("resource", "text"),
        ("scope", "text"),
        ("record_key", "text"),
        ("reason", "text"),
        ("action", "text"),
        ("field", "text"),
        ("value", "text"),
        ("quarantined_at", "timestamp"),
    )
}


# an ISO-8601 offset (or Z) at the end of a timestamp
_ISO_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
# a UTC time as the APIs mostly send it, to the second or finer (what _times reads without converting)
_PLAIN_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


@dataclass(frozen=True)
class Contract:
    """What one resource's records must hold. Field names are paths into the record as the API sends it,
    nested parts joined by `.` (`commit.committer.date`)."""

    resource: str
    key: Mapping[str, type]  # key field -> int or str; null, empty or of another type: quarantined
    times: Sequence[str] = ()  # must parse when present
    required_times: Sequence[str] = ()  # must be present too
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)  # compared case-insensitively
    epoch_ms: bool = False  # times are epoch milliseconds (Jenkins), not ISO-8601 text
    is_graph: bool = False  # commits: an unreadable time is cleared, not the record quarantined
    ordered: tuple[str, str] | None = None  # (earlier, later): later before earlier is kept and counted
    version: str | None = None  # a repeated key with a newer value here is loaded (merge keeps newest)
    # time field -> the field holding git's offset text it was read with (the value is already an instant)
    offset_fields: Mapping[str, str] = field(default_factory=dict)


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of nested dicts (None when any part is missing)."""
    if "." not in path:
        return record.get(path)
    value: Any = record
    for part in _parts(path):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@functools.lru_cache(maxsize=256)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _clear(record: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    target: Any = record
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target[last] = None


def parse_time(value: Any, *, epoch_ms: bool = False) -> datetime | None:
    """An aware UTC datetime, or None when the value is not a readable timestamp of the expected kind."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if epoch_ms:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def odd_offset(value: Any) -> bool:
    """Whether an ISO timestamp's UTC offset names no time zone (beyond ±14:00, minutes not 0/15/30/45)."""
    if not isinstance(value, str):
        return False
    match = _ISO_OFFSET.search(value)
    if not match or match.group(1) == "Z":
        return False
    digits = match.group(1)[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    return hours > 14 or minutes not in (0, 15, 30, 45)


def _key_problem(value: Any, kind: type) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return NULL_KEY
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else WRONG_TYPE
    return None if isinstance(value, str) else WRONG_TYPE


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = value if isinstance(value, str) else repr(value)
    return text[:MAX_VALUE_CHARS]


class Quarantine:
    """One source's screening for one run: counts per resource and reason, and the rows it diverts."""

    def __init__(self, source: str, now: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self._now = now or (lambda: datetime.now(UTC))
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (resource, reason, action) -> records
        self._seen: dict[tuple[str, str], dict[tuple, Any]] = {}

    def screen(
        self,
        contract: Contract,
        records: Iterable[Any],
        scope: str | None = None,
        listing: str | None = None,
    ) -> Generator[Any, None, list[Any]]:
        """A generator to `yield from` inside a resource: it yields the quarantine rows of `records`
        (marked for the quarantine table, when there are any) and returns the records that load."""
        good, held = self.split(contract, records, scope, listing)
        if held is not None:
            yield held
        return good

    def split(
        self,
        contract: Contract,
        records: Iterable[Any],
        scope: str | None = None,
        listing: str | None = None,
    ) -> tuple[list[Any], Any]:
        """The records that load, and their quarantine rows marked for the quarantine table (None when
        every record is good).

        `scope` names what the records belong to (a repository, a project, a job); `listing` the one
        listing in which a repeated key is a duplicate (default: the scope), since the same commit
        reached from two branches is no duplicate.
        """
        now = self._now()
        horizon = now + FUTURE_SKEW  # later than this is in the future, whatever the clocks' skew
        seen = self._seen.setdefault((contract.resource, listing or scope or ""), {})
        good: list[Any] = []
        rows: list[dict[str, Any]] = []

        def note(record: Any, key: tuple, reason: str, action: str, path: str | None, value: Any) -> None:
            self.counts[(contract.resource, reason, action)] += 1
            rows.append(
                {
                    "source": self.source,
                    "resource": contract.resource,
                    "scope": scope,
                    "record_key": "/".join("" if part is None else str(part) for part in key) or None,
                    "reason": reason,
                    "action": action,
                    "field": path,
                    "value": _text(value),
                    "quarantined_at": now,
                }
            )

        key_fields = tuple(contract.key.items())
        single_key = key_fields[0] if len(key_fields) == 1 and "." not in key_fields[0][0] else None
        enums = tuple(contract.enums.items())
        for record in records:
            if not isinstance(record, Mapping):
                note(record, (), WRONG_TYPE, QUARANTINED, None, type(record).__name__)
                continue
            if single_key is not None:
                key = (record.get(single_key[0]),)
            else:
                key = tuple([value_at(record, path) for path, _ in key_fields])
            problem = None
            for (path, kind), value in zip(key_fields, key, strict=True):
                reason = _key_problem(value, kind)
                if reason:
                    problem = (path, reason, value)
                    break
            if problem:
                note(record, key, problem[1], QUARANTINED, problem[0], problem[2])
                continue
            if contract.times and self._times(contract, record, key, note, horizon) is None:
                continue
            enum = None
            for path, allowed in enums:
                value = value_at(record, path)
                if value is not None and str(value).lower() not in allowed:
                    enum = (path, value)
                    break
            if enum is not None:
                note(record, key, UNKNOWN_ENUM, QUARANTINED, enum[0], enum[1])
                continue
            normal = key  # keys are checked: ints and non-empty strings
            version = value_at(record, contract.version) if contract.version else None
            if normal in seen:
                earlier = seen[normal]
                newer = (
                    contract.version is not None
                    and parse_time(version) is not None
                    and (parse_time(earlier) is None or parse_time(version) > parse_time(earlier))
                )
                note(record, key, DUPLICATE_KEY, DEDUPLICATED, ",".join(contract.key), version)
                if not newer:
                    continue
            seen[normal] = version
            good.append(record)
        if not rows:
            return good, None
        self._log(contract.resource, scope, rows)
        return good, dlt.mark.with_table_name(rows, TABLE)

    def _log(self, resource: str, scope: str | None, rows: list[dict[str, Any]]) -> None:
        """One line per batch on the `deploylens` logger: a warning when records were left out or
        changed, else (only kept or deduplicated ones) a note."""
        counted = Counter((row["reason"], row["action"]) for row in rows)
        serious = any(action in (QUARANTINED, CLEARED) for _, action in counted)
        log.log(
            logging.WARNING if serious else logging.INFO,
            "%s %s%s: %s (raw_%s.%s)",
            self.source,
            resource,
            f" of {scope}" if scope else "",
            ", ".join(f"{n} {action} ({reason})" for (reason, action), n in sorted(counted.items())),
            self.source,
            TABLE,
        )

    def _times(
        self,
        contract: Contract,
        record: Mapping[str, Any],
        key: tuple,
        note: Callable[..., None],
        horizon: datetime,
    ) -> bool | None:
        """Check the time fields; None when the record is quarantined. Later than `horizon` is future."""
        parsed: dict[str, datetime] = {}
        for path in contract.times:
            value = value_at(record, path)
            if value is None:
                if path in contract.required_times:
                    note(record, key, MISSING_TIMESTAMP, QUARANTINED, path, None)
                    return None
                if contract.is_graph and contract.ordered and path in contract.ordered:
                    note(record, key, MISSING_TIMESTAMP, KEPT, path, None)
                continue
            instant, plain = None, False
            if type(value) is str and not contract.epoch_ms and _PLAIN_UTC.fullmatch(value):
                # the usual form (UTC, `Z`): no offset to judge, no zone to convert
                try:
                    instant, plain = datetime.fromisoformat(value), True
                except ValueError:
                    pass  # not a date after all: the general path says why
            if instant is None:
                instant = parse_time(value, epoch_ms=contract.epoch_ms)
            if instant is None:
                expected = int if contract.epoch_ms else str
                reason = UNPARSABLE_TIMESTAMP if isinstance(value, expected) else WRONG_TYPE
                if contract.is_graph and path not in contract.required_times and isinstance(record, dict):
                    note(record, key, reason, CLEARED, path, value)
                    _clear(record, path)
                    continue
                note(record, key, reason, QUARANTINED, path, value)
                return None
            parsed[path] = instant
            offset_field = contract.offset_fields.get(path)
            if offset_field is not None:
                offset = value_at(record, offset_field)
                if offset is not None and git_offset_is_odd(offset):
                    note(record, key, ODD_UTC_OFFSET, KEPT, offset_field, offset)
            elif not plain and odd_offset(value):
                note(record, key, ODD_UTC_OFFSET, KEPT, path, value)
            if instant > horizon:
                note(record, key, FUTURE_TIMESTAMP, KEPT, path, value)
        if contract.ordered:
            earlier, later = (parsed.get(path) for path in contract.ordered)
            if earlier is not None and later is not None and later < earlier:
                path = contract.ordered[1]
                note(record, key, COMMITTER_BEFORE_AUTHOR, KEPT, path, value_at(record, path))
        return True


@functools.lru_cache(maxsize=4096)
def git_offset_is_odd(offset: str) -> bool:
    """git's `+HHMM` offset text that names no time zone (`+051800`)."""
    match = re.fullmatch(r"[+-](\d{2})(\d{2})", offset.strip())
    if not match:
        return True
    hours, minutes = int(match.group(1)), int(match.group(2))
    return hours > 14 or minutes >= 60


def newest_wins(columns: Mapping[str, Any], version: str) -> dict[str, Any]:
    """Column hints with dlt's `dedup_sort` on `version`: of two rows with one key in a load, the merge
    keeps the newest (a record updated while its listing was paged arrives twice)."""
    out = {name: dict(hint) for name, hint in columns.items()}
    out[version] = {**out.get(version, {"data_type": "timestamp", "nullable": True}), "dedup_sort": "desc"}
    return out


def quarantine_resource() -> Any:
    """The source's `quarantine` table as a resource of its own, so it has a place in the lineage graph
    (Dagster asset `dlt_<source>_quarantine`) and a declared schema. It yields nothing itself: every other
    resource routes its bad records there as it reads them."""

    def quarantine() -> Iterator[Any]:
        yield from ()

    return dlt.resource(
        quarantine,
        name=TABLE,
        write_disposition="append",
        columns={name: dict(hint) for name, hint in COLUMNS.items()},
    )


def prepare(resources: Iterable[Any]) -> None:
    """Ready a source's resources to route bad records to its quarantine table.

    Each resource gets the table's hints as a variant of its own: append, no key, the quarantine columns
    only (a variant otherwise starts from the resource's hints: its key, merge and columns). Transformers
    get a filter ahead of them, so a parent's quarantine rows never reach them as parent records."""
    for resource in resources:
        if resource.name == TABLE:
            continue
        # columns={} empties the inherited columns; the second call sets the quarantine table's
        resource.apply_hints(table_name=TABLE, columns={}, create_table_variant=True)
        resource.apply_hints(
            table_name=TABLE,
            write_disposition="append",
            primary_key=[],
            merge_key=[],
            columns={name: dict(hint) for name, hint in COLUMNS.items()},
            create_table_variant=True,
        )
        if getattr(resource, "is_transformer", False):
            resource.add_filter(_not_quarantine, insert_at=0)


def _not_quarantine(item: Any, meta: Any = None) -> bool:
    name = getattr(meta, "table_name", None) or (getattr(meta, "hints", None) or {}).get("table_name")
    return name != TABLE
