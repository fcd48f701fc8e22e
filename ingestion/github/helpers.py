"""HTTP and row shaping for the GitHub source (timestamps: ingestion/dates.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import urlencode

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from ingestion.http import (
    ApiError,
    ApiUsage,
    BearerAuth,
    RetryBudgetExhausted,
    RetryingSession,
    RetryPolicy,
    json_selector,
)

from .settings import (
    API_VERSION,
    DROP_KEYS,
    KEEP_URLS,
    PER_PAGE,
    UNAVAILABLE_STATUSES,
    USER_FIELDS,
    USER_KEYS,
)

log = logging.getLogger(__name__)


def make_client(base_url: str, token: str, policy: RetryPolicy, usage: ApiUsage | None = None) -> RESTClient:
    """A REST client for GitHub (or GitHub Enterprise, or the emulator) that follows Link headers; its
    session counts what it spends into `usage` and waits for the rate limit's reset when it runs low."""
    return RESTClient(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        auth=BearerAuth(token),
        paginator=HeaderLinkPaginator(),
        data_selector=json_selector("$"),
        session=RetryingSession(policy, api_name="GitHub", usage=usage),
    )


def pages(
    client: RESTClient,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    data_selector: str = "$",
) -> Iterator[PageData[dict]]:
    """Every page of a GitHub list endpoint, largest page size, following `Link: rel="next"`.

    `data_selector` names the list inside wrapped answers (`workflow_runs`, `jobs`); each page is a
    list that also carries its `response` (for `total_count`)."""
    query = {"per_page": PER_PAGE, **(params or {})}
    yield from client.paginate(
        path, params=query, paginator=HeaderLinkPaginator(), data_selector=json_selector(data_selector)
    )


def _stop_when_not_modified(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code == 304:
        raise IgnoreResponseException()


def conditional_pages(
    client: RESTClient,
    path: str,
    params: dict[str, Any] | None,
    etags: MutableMapping[str, Any],
    owner: str,
    *,
    data_selector: str = "$",
) -> Iterator[PageData[dict]]:
    """The pages of a list endpoint, or none at all when its first page has not changed since last time.

    A re-poll sends the first page's ETag from the previous run as `If-None-Match`; GitHub answers 304
    (and does not charge it against the rate limit) when nothing changed, so an idle repository costs one
    request per endpoint. `etags` is the resource's dlt state, keyed by `owner` (the repository): one
    entry each, remembered only for the exact same query, so a moved `since` simply asks afresh. Every
    list we poll conditionally is ordered newest first, so any change shows on its first page.
    """
    query = {"per_page": PER_PAGE, **(params or {})}
    key = f"{path}?{urlencode(sorted((k, str(v)) for k, v in query.items()))}"
    saved = etags.get(owner) or {}
    headers = {"If-None-Match": saved["etag"]} if saved.get("key") == key and saved.get("etag") else {}
    first = True
    for page in client.paginate(
        path,
        params=query,
        headers=headers,
        paginator=HeaderLinkPaginator(),
        data_selector=json_selector(data_selector),
        hooks={"response": [_stop_when_not_modified]},
    ):
        if first:
            first = False
            etag = page.response.headers.get("ETag")
            if etag:
                etags[owner] = {"key": key, "etag": etag}
            else:
                etags.pop(owner, None)
            # later pages have ETags of their own: asking them with the first page's would be noise
            page.request.headers.pop("If-None-Match", None)
        yield page


class Availability:
    """Which optional endpoints a repository lacks in this run (Actions disabled, no access, empty).

    Real repositories may have Actions disabled or hide it from the token, and older GitHub Enterprise
    servers or the emulator may not serve an endpoint at all: that is a fact about the repository, not
    a failed refresh. The first such answer is logged; the endpoint is not asked again in this run.
    """

    def __init__(self) -> None:
        self._missing: set[tuple[str, str]] = set()

    def lacks(self, what: str, repository: str) -> bool:
        """Whether `what` already answered as unavailable for `repository` in this run."""
        return (what, repository) in self._missing

    def guard(self, what: str, repository: str, items: Iterator[Any]) -> Iterator[Any]:
        """Pass `items` through; stop quietly when the endpoint answers 403/404/409/410."""
        if self.lacks(what, repository):
            return
        try:
            yield from items
        except ApiError as exc:
            if isinstance(exc, RetryBudgetExhausted) or exc.status not in UNAVAILABLE_STATUSES:
                raise
            # the first repository without it is worth a warning; the rest of the organisation, a note
            first = not any(seen == what for seen, _ in self._missing)
            self._missing.add((what, repository))
            log.log(
                logging.WARNING if first else logging.INFO,
                "GitHub %s is not available for %s (status %s): loading none of it",
                what,
                repository,
                exc.status,
            )


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
