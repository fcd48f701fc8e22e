"""Timestamps as the sources read and write them: APIs send ISO-8601 text, cursors are kept as text in the
dlt state, and everything in between is an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_ts(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp (`2024-05-01T10:00:00Z`, `…00.123Z`, or with an offset) as aware UTC; a
    timestamp without an offset is taken as UTC. None for an empty value."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_seconds(value: datetime) -> str:
    """`2024-05-01T10:00:00Z`: the form GitHub and PagerDuty accept in query parameters."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(value: datetime) -> str:
    """`2024-05-01T10:00:00.123Z`: GitLab's `since`/`updated_after` compare to the millisecond, and a
    cursor cut to the second would read the rows of that second again."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def start_of(start_date: str | None) -> datetime | None:
    """The configured backfill start (an ISO date, read as midnight UTC, or a timestamp) as aware UTC."""
    if not start_date:
        return None
    if len(start_date) == 10:
        return datetime.fromisoformat(start_date).replace(tzinfo=UTC)
    return parse_ts(start_date)


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch (Jenkins' build timestamps)."""
    return int(value.timestamp() * 1000)


def minus_days(value: datetime, days: float) -> datetime:
    """`value` moved back by a look-back window."""
    return value - timedelta(days=days)
