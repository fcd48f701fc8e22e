"""GitHub source: repositories, pull requests (with commits and reviews), commits and deployments.

Every per-repository table carries `repository` (the full name) and merges on its key, so re-reading an
overlap never duplicates rows. Cursors are kept per repository in the resource state: a repository added
to the organisation later still gets its whole history on its first run, which one cursor shared by all
repositories would skip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.http import ApiError, RetryPolicy

from .helpers import iso, make_client, minus_days, pages, parse_ts, start_of, trim
from .settings import COMMIT_LOOKBACK_DAYS, DEFAULT_BASE_URL, DEPLOYMENT_LOOKBACK_DAYS


def _hint(data_type: str) -> dict[str, Any]:
    # a fresh dict per column: dlt writes the column name into the hint it is given
    return {"data_type": data_type, "nullable": True}


REPOSITORY_COLUMNS: dict[str, Any] = {
    "id": _hint("bigint"),
    "name": _hint("text"),
    "full_name": _hint("text"),
    "default_branch": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "pushed_at": _hint("timestamp"),
    "topics": _hint("json"),
}
PULL_REQUEST_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "id": _hint("bigint"),
    "number": _hint("bigint"),
    "title": _hint("text"),
    "state": _hint("text"),
    "user__login": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "closed_at": _hint("timestamp"),
    "merged_at": _hint("timestamp"),
    "merge_commit_sha": _hint("text"),
    "head__sha": _hint("text"),
    "head__ref": _hint("text"),
    "base__ref": _hint("text"),
    "base__sha": _hint("text"),
    "labels": _hint("json"),
}
COMMIT_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "sha": _hint("text"),
    "parents": _hint("json"),
    "author__login": _hint("text"),
    "committer__login": _hint("text"),
    "commit__author__name": _hint("text"),
    "commit__author__email": _hint("text"),
    "commit__author__date": _hint("timestamp"),
    "commit__committer__name": _hint("text"),
    "commit__committer__email": _hint("text"),
    "commit__committer__date": _hint("timestamp"),
    "commit__message": _hint("text"),
}
PULL_REQUEST_COMMIT_COLUMNS: dict[str, Any] = {
    "pull_number": _hint("bigint"),
    **{k: dict(v) for k, v in COMMIT_COLUMNS.items()},
}
REVIEW_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "pull_number": _hint("bigint"),
    "id": _hint("bigint"),
    "user__login": _hint("text"),
    "state": _hint("text"),
    "submitted_at": _hint("timestamp"),
    "commit_id": _hint("text"),
}
DEPLOYMENT_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "id": _hint("bigint"),
    "sha": _hint("text"),
    "ref": _hint("text"),
    "task": _hint("text"),
    "environment": _hint("text"),
    "original_environment": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "creator__login": _hint("text"),
    "payload": _hint("json"),
}
DEPLOYMENT_STATUS_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "deployment_id": _hint("bigint"),
    "id": _hint("bigint"),
    "state": _hint("text"),
    "environment": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "creator__login": _hint("text"),
}


def _as_list(items: TDataItem) -> list[dict]:
    return items if isinstance(items, list) else [items]


def _shape_commit(raw: dict, repository: str, **extra: Any) -> dict:
    row = trim(raw)
    row["parents"] = [{"sha": parent.get("sha")} for parent in raw.get("parents") or []]
    return {"repository": repository, **extra, **row}


def _shape_pull_request(raw: dict, repository: str) -> dict:
    row = trim(raw)
    row["labels"] = [label.get("name") for label in raw.get("labels") or []]
    return {"repository": repository, **row}


def _new_since(rows_at_cursor: Sequence[tuple[datetime, Any]]) -> tuple[datetime | None, list[Any]]:
    """The newest timestamp among rows and the ids that share it (to skip exactly those next time)."""
    if not rows_at_cursor:
        return None, []
    newest = max(ts for ts, _ in rows_at_cursor)
    return newest, sorted({key for ts, key in rows_at_cursor if ts == newest})


@dlt.source(name="github")
def github_source(
    base_url: str = DEFAULT_BASE_URL,
    organization: str = dlt.config.value,
    token: str = dlt.secrets.value,
    repositories: list[str] | None = None,
    start_date: str | None = None,
    max_retries: int = 5,
    max_retry_wait_seconds: float = 60.0,
    backoff_factor: float = 1.0,
    deployment_lookback_days: float = DEPLOYMENT_LOOKBACK_DAYS,
    commit_lookback_days: float = COMMIT_LOOKBACK_DAYS,
) -> Sequence[DltResource]:
    """Load an organisation's delivery history from GitHub REST (or GitHub Enterprise, or an emulator).

    `repositories` narrows the load to those repositories (names within the organisation, or full
    names); by default every repository the token can see in the organisation is loaded. `start_date`
    (ISO date) bounds how far back the first run reaches.
    """
    client = make_client(base_url, token, RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds))
    start = start_of(start_date)

    @dlt.resource(
        name="repositories", primary_key="id", write_disposition="merge", columns=REPOSITORY_COLUMNS
    )
    def repositories_resource() -> Iterator[list[dict]]:
        if repositories:
            # Asked-for repositories are read one by one: works across owners and for tokens that
            # may not list the organisation.
            for name in repositories:
                full_name = name if "/" in name else f"{organization}/{name}"
                yield [trim(client.get(f"/repos/{full_name}").json())]
            return
        for page in pages(client, f"/orgs/{organization}/repos", {"type": "all", "sort": "full_name"}):
            yield [trim(repo) for repo in page]

    @dlt.transformer(
        data_from=repositories_resource,
        name="pull_requests",
        primary_key="id",
        write_disposition="merge",
        columns=PULL_REQUEST_COLUMNS,
    )
    def pull_requests(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest-updated first; stop at the first page that reaches behind the repository's cursor."""
        state = dlt.current.resource_state("pull_requests").setdefault("cursors", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            saved = state.get(full_name) or {}
            cursor = parse_ts(saved.get("updated_at")) or start
            seen_at_cursor = set(saved.get("ids") or [])
            fresh: list[tuple[datetime, Any]] = []
            params = {"state": "all", "sort": "updated", "direction": "desc"}
            for page in pages(client, f"/repos/{full_name}/pulls", params):
                rows, behind = [], False
                for pr in page:
                    updated = parse_ts(pr["updated_at"])
                    if cursor is not None and (
                        updated < cursor or (updated == cursor and pr["id"] in seen_at_cursor)
                    ):
                        behind = True
                        continue
                    fresh.append((updated, pr["id"]))
                    rows.append(_shape_pull_request(pr, full_name))
                if rows:
                    yield rows
                if behind:
                    break
            newest, ids = _new_since(fresh)
            if newest is not None:
                if cursor is not None and newest == cursor:
                    ids = sorted(seen_at_cursor | set(ids))
                state[full_name] = {"updated_at": iso(newest), "ids": ids}

    @dlt.transformer(
        data_from=pull_requests,
        name="pull_request_commits",
        primary_key=("repository", "pull_number", "sha"),
        write_disposition="merge",
        columns=PULL_REQUEST_COMMIT_COLUMNS,
    )
    def pull_request_commits(prs: TDataItem) -> Iterator[list[dict]]:
        for pr in _as_list(prs):
            repository, number = pr["repository"], pr["number"]
            for page in pages(client, f"/repos/{repository}/pulls/{number}/commits"):
                yield [_shape_commit(c, repository, pull_number=number) for c in page]

    @dlt.transformer(
        data_from=pull_requests,
        name="pull_request_reviews",
        primary_key="id",
        write_disposition="merge",
        columns=REVIEW_COLUMNS,
    )
    def pull_request_reviews(prs: TDataItem) -> Iterator[list[dict]]:
        for pr in _as_list(prs):
            repository, number = pr["repository"], pr["number"]
            for page in pages(client, f"/repos/{repository}/pulls/{number}/reviews"):
                yield [{"repository": repository, "pull_number": number, **trim(r)} for r in page]

    @dlt.transformer(
        data_from=repositories_resource,
        name="commits",
        primary_key=("repository", "sha"),
        write_disposition="merge",
        columns=COMMIT_COLUMNS,
    )
    def commits(repos: TDataItem) -> Iterator[list[dict]]:
        """Default-branch commits since the cursor (committer date) minus a short look-back."""
        state = dlt.current.resource_state("commits").setdefault("cursors", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            cursor = parse_ts(state.get(full_name))
            since = minus_days(cursor, commit_lookback_days) if cursor else start
            if cursor and start and since < start:
                since = start
            params = {"since": iso(since)} if since else {}
            newest = cursor
            try:
                for page in pages(client, f"/repos/{full_name}/commits", params):
                    for raw in page:
                        committed = parse_ts(((raw.get("commit") or {}).get("committer") or {}).get("date"))
                        if committed and (newest is None or committed > newest):
                            newest = committed
                    yield [_shape_commit(c, full_name) for c in page]
            except ApiError as exc:
                if exc.status != 409:  # 409: the repository is empty
                    raise
            if newest is not None:
                state[full_name] = iso(newest)

    @dlt.transformer(
        data_from=repositories_resource,
        name="deployments",
        primary_key="id",
        write_disposition="merge",
        columns=DEPLOYMENT_COLUMNS,
    )
    def deployments(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest first. Deployments created within the look-back before the cursor are read again,
        because their statuses (success, failure, inactive) arrive after they were created."""
        state = dlt.current.resource_state("deployments").setdefault("cursors", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            cursor = parse_ts(state.get(full_name))
            floor = minus_days(cursor, deployment_lookback_days) if cursor else start
            newest = cursor
            for page in pages(client, f"/repos/{full_name}/deployments"):
                rows = []
                for raw in page:
                    created, updated = parse_ts(raw["created_at"]), parse_ts(raw.get("updated_at"))
                    updated = updated or created
                    if newest is None or updated > newest:
                        newest = updated
                    recent = floor is None or created >= floor
                    changed = cursor is not None and updated > cursor
                    if recent or changed:
                        rows.append(
                            {"repository": full_name, **trim(raw, keep_nested=frozenset({"payload"}))}
                        )
                if rows:
                    yield rows
                # newest first: once a page reaches behind the floor, every later page lies behind it
                if floor is not None and any(parse_ts(raw["created_at"]) < floor for raw in page):
                    break
            if newest is not None:
                state[full_name] = iso(newest)

    @dlt.transformer(
        data_from=deployments,
        name="deployment_statuses",
        primary_key="id",
        write_disposition="merge",
        columns=DEPLOYMENT_STATUS_COLUMNS,
    )
    def deployment_statuses(deploys: TDataItem) -> Iterator[list[dict]]:
        for deployment in _as_list(deploys):
            repository, deployment_id = deployment["repository"], deployment["id"]
            for page in pages(client, f"/repos/{repository}/deployments/{deployment_id}/statuses"):
                yield [
                    {"repository": repository, "deployment_id": deployment_id, **trim(status)}
                    for status in page
                ]

    return (
        repositories_resource,
        pull_requests,
        pull_request_commits,
        pull_request_reviews,
        commits,
        deployments,
        deployment_statuses,
    )
