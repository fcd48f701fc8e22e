"""HTTP and row shaping for the GitHub source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from ingestion.http import BearerAuth, RetryingSession, RetryPolicy

from .settings import API_VERSION, DROP_KEYS, KEEP_URLS, PER_PAGE, USER_FIELDS, USER_KEYS


def make_client(base_url: str, token: str, policy: RetryPolicy) -> RESTClient:
    """A REST client for GitHub (or GitHub Enterprise, or the emulator) that follows Link headers."""
    return RESTClient(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        auth=BearerAuth(token),
        paginator=HeaderLinkPaginator(),
        data_selector="$",
        session=RetryingSession(policy, api_name="GitHub"),
    )


def pages(client: RESTClient, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
    """Every page of a GitHub list endpoint, largest page size, following `Link: rel="next"`."""
    query = {"per_page": PER_PAGE, **(params or {})}
    for page in client.paginate(path, params=query, paginator=HeaderLinkPaginator()):
        yield list(page)


def trim(value: Any, *, keep_nested: frozenset[str] = frozenset()) -> Any:
    """Drop bulky, irrelevant parts of a GitHub object so raw tables stay lean.

    API links (`url`, `*_url` except the human ones), embedded repositories and profile links of users
    are dropped; a user object shrinks to login, id and type; null values are left out. Values under
    `keep_nested` keys are kept as they are (arbitrary JSON such as a deployment's payload).
    """
    if isinstance(value, list):
        return [trim(item, keep_nested=keep_nested) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in DROP_KEYS or item is None:
            # a missing key loads as NULL; leaving nulls out keeps dlt from warning about untyped columns
            continue
        if (key == "url" or key.endswith("_url")) and key not in KEEP_URLS:
            continue
        if key in keep_nested:
            out[key] = item
        elif key in USER_FIELDS and isinstance(item, dict) and "login" in item:
            out[key] = {k: item.get(k) for k in USER_KEYS}
        else:
            out[key] = trim(item, keep_nested=keep_nested)
    return out


def parse_ts(value: str | None) -> datetime | None:
    """Parse GitHub's ISO-8601 timestamps (`2024-05-01T10:00:00Z`) to aware UTC datetimes."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """GitHub's timestamp format, for `since` parameters and stored cursors."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of(start_date: str | None) -> datetime | None:
    """The configured backfill start (an ISO date or timestamp) as an aware UTC datetime."""
    if not start_date:
        return None
    if len(start_date) == 10:
        return datetime.fromisoformat(start_date).replace(tzinfo=UTC)
    return parse_ts(start_date)


def minus_days(value: datetime, days: float) -> datetime:
    """`value` moved back by a look-back window."""
    return value - timedelta(days=days)
