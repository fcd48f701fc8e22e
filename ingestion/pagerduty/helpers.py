"""HTTP and time windows for the PagerDuty source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

from ingestion.dates import iso_seconds
from ingestion.http import BearerAuth, RetryingSession, RetryPolicy, json_selector

from .settings import MAX_OFFSET, MAX_WINDOW_DAYS, PAGE_LIMIT


def make_client(base_url: str, token: str, policy: RetryPolicy) -> RESTClient:
    """A REST client for PagerDuty REST API v2 (`Authorization: Token token=...`)."""
    return RESTClient(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/vnd.pagerduty+json;version=2"},
        auth=BearerAuth(f"token={token}", scheme="Token"),
        session=RetryingSession(policy, api_name="PagerDuty"),
    )


def offset_paginator() -> OffsetPaginator:
    """PagerDuty's classic pagination: `offset`/`limit`, stop when `more` is false."""
    return OffsetPaginator(limit=PAGE_LIMIT, total_path=None, has_more_path="more", maximum_offset=MAX_OFFSET)


def windows(
    since: datetime, until: datetime, days: float = MAX_WINDOW_DAYS
) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive [since, until) windows no longer than `days`."""
    step = timedelta(days=days)
    low = since
    while low < until:
        high = min(low + step, until)
        yield low, high
        low = high


def list_window(
    client: RESTClient, path: str, key: str, since: datetime, until: datetime, params: dict[str, Any]
) -> Iterator[list[dict]]:
    """Every item created in [since, until), splitting the window while it holds more than the offset cap.

    PagerDuty stops offset pagination at 10,000 items; a busy account can have more incidents than that
    in one window, so the first page asks for the `total` and halves the window when it is too large.
    """
    query = {**params, "since": iso_seconds(since), "until": iso_seconds(until), "total": "true"}
    first = True
    for page in client.paginate(
        path, params=query, paginator=offset_paginator(), data_selector=json_selector(key)
    ):
        if first:
            first = False
            total = page.response.json().get("total")
            if isinstance(total, int) and total > MAX_OFFSET and until - since > timedelta(seconds=2):
                middle = since + (until - since) / 2
                yield from list_window(client, path, key, since, middle, params)
                yield from list_window(client, path, key, middle, until, params)
                return
        yield list(page)
