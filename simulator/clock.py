"""Time helpers for the simulated organisation: working hours and API timestamp formats.

People in the simulated org work weekdays 09:00-18:00 UTC; code review and merges happen then, while
pipelines and incidents run around the clock. Delays drawn "in working hours" are advanced through these
windows so a Friday-evening PR is picked up on Monday, as in a real team.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_START = 9
DAY_END = 18


def is_working(ts: datetime) -> bool:
    """True when `ts` falls inside a weekday working window."""
    return ts.weekday() < 5 and DAY_START <= ts.hour < DAY_END


def next_working(ts: datetime) -> datetime:
    """The first working instant at or after `ts`."""
    while not is_working(ts):
        if ts.weekday() < 5 and ts.hour < DAY_START:
            ts = ts.replace(hour=DAY_START, minute=0, second=0, microsecond=0)
        else:
            ts = (ts + timedelta(days=1)).replace(hour=DAY_START, minute=0, second=0, microsecond=0)
    return ts


def add_working_hours(ts: datetime, hours: float) -> datetime:
    """Advance `ts` by `hours` of working time (weekday 09:00-18:00 windows)."""
    ts = next_working(ts)
    remaining = timedelta(hours=hours)
    while True:
        day_end = ts.replace(hour=DAY_END, minute=0, second=0, microsecond=0)
        left_today = day_end - ts
        if remaining <= left_today:
            return ts + remaining
        remaining -= left_today
        ts = next_working(day_end)


def iso(ts: datetime | None) -> str | None:
    """GitHub/PagerDuty wire format: second precision, `Z` suffix."""
    if ts is None:
        return None
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    # isoformat is C all the way; strftime builds a time tuple and formats it (1.5 times as slow)
    return ts.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp or date from a query string; naive values are taken as UTC."""
    text = text.strip().replace(" ", "+")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def floor_second(ts: datetime) -> datetime:
    """Drop sub-second precision: the APIs serve seconds, so the truth must agree with them."""
    return ts if ts.microsecond == 0 else ts.replace(microsecond=0)
