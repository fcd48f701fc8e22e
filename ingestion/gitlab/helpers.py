"""HTTP, pagination and row shaping for the GitLab source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests
from dlt.sources.helpers.requests import Request, Response
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from ingestion.http import RetryingSession, RetryPolicy, json_selector

from .settings import API_PREFIX, DROP_KEYS, PER_PAGE, USER_FIELDS, USER_KEYS


class PrivateTokenAuth(requests.auth.AuthBase):
    """GitLab's `PRIVATE-TOKEN` header (personal, project or group access tokens); the repr hides it."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["PRIVATE-TOKEN"] = self._token
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token=***)"


class GitLabPaginator(BasePaginator):
    """Follows GitLab's two pagination styles with one rule.

    Keyset pagination only announces the next page in the `Link` header; offset pagination sends both
    `Link` and `X-Next-Page`, but GitLab leaves `Link` out behind some proxies and for very large
    collections. So: `Link: rel="next"` when present, otherwise the `X-Next-Page` number, otherwise done.
    """

    def __init__(self) -> None:
        super().__init__()
        self._next_url: str | None = None
        self._next_page: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        self._next_url = response.links.get("next", {}).get("url")
        self._next_page = (response.headers.get("X-Next-Page") or "").strip() or None
        self._has_next_page = bool(self._next_url or self._next_page)

    def update_request(self, request: Request) -> None:
        if self._next_url:
            request.url = self._next_url
            request.params = None  # the link carries the whole query
        else:
            request.params = {**(request.params or {}), "page": self._next_page}


def api_root(base_url: str) -> str:
    """The REST root for a GitLab host: `https://gitlab.example.com` becomes `…/api/v4`.

    A URL already ending in `/api/v4` is taken as is, so both forms work in the configuration, and
    instances under a relative URL root (`https://example.com/gitlab`) keep their path.
    """
    root = base_url.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


def make_client(base_url: str, token: str, policy: RetryPolicy) -> RESTClient:
    """A REST client for GitLab (gitlab.com or self-managed) that retries and never logs the token."""
    return RESTClient(
        base_url=api_root(base_url),
        headers={"Accept": "application/json"},
        auth=PrivateTokenAuth(token),
        paginator=GitLabPaginator(),
        data_selector=json_selector("$"),
        session=RetryingSession(policy, api_name="GitLab"),
    )


def pages(client: RESTClient, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
    """Every page of a GitLab list endpoint at the largest page size."""
    query = {"per_page": PER_PAGE, **(params or {})}
    for page in client.paginate(path, params=query, paginator=GitLabPaginator()):
        yield list(page)


def encoded(path_or_id: str | int) -> str:
    """A project or group as GitLab wants it in a URL: numeric id, or its full path URL-encoded."""
    return str(path_or_id) if isinstance(path_or_id, int) else quote(str(path_or_id), safe="")


def trim(value: Any) -> Any:
    """Drop bulky, irrelevant parts of a GitLab object so raw tables stay lean.

    Link maps, avatars and time tracking are dropped; user objects shrink to id, username and name;
    null values are left out (a missing key loads as NULL, and dlt sees no untyped columns).
    """
    if isinstance(value, list):
        return [trim(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in DROP_KEYS or item is None:
            continue
        if key in USER_FIELDS and isinstance(item, dict) and "username" in item:
            out[key] = {k: item[k] for k in USER_KEYS if item.get(k) is not None}
        else:
            out[key] = trim(item)
    return out
