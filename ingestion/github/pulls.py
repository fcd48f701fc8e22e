"""Pull requests, and the lists read for each pull request that changed: its commits, reviews, review
comments and files. On the GraphQL path the pull request pages carry those lists (graphql.py); they wait
in the reader's `nested` until their transformer takes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.arrow import arrow_batches, arrow_page
from ingestion.cursors import ChangedSince, keyed_state
from ingestion.dates import parse_ts
from ingestion.quarantine import newest_wins

from . import graphql
from .columns import (
    PULL_REQUEST_COLUMNS,
    PULL_REQUEST_COMMIT_COLUMNS,
    PULL_REQUEST_FILE_COLUMNS,
    REVIEW_COLUMNS,
    REVIEW_COMMENT_COLUMNS,
    pick,
    shape_pull_request,
    shape_pull_request_commit,
    shape_review,
)
from .reader import Reader, as_list


def pull_requests_resource(gh: Reader, repositories: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=repositories,
        name="pull_requests",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(PULL_REQUEST_COLUMNS, "updated_at"),
    )
    def pull_requests(repos: TDataItem) -> Iterator[Any]:
        """Newest-updated first; stop at the first page that reaches behind the repository's cursor
        (ingestion/cursors.py `ChangedSince`, kept per repository in section `cursors`)."""
        yield from arrow_batches(_pull_requests(repos), PULL_REQUEST_COLUMNS)

    def _pull_requests(repos: TDataItem) -> Iterator[Any]:
        cursors = keyed_state("cursors", "pull_requests")
        if gh.gql is not None:
            yield from _pull_requests_graphql(gh, as_list(repos), cursors)
            return
        for repo in as_list(repos):
            yield from _pull_requests_rest(gh, repo["full_name"], cursors)

    return pull_requests


def _pull_requests_rest(gh: Reader, full_name: str, cursors: dict) -> Iterator[list[dict]]:
    seen = ChangedSince(cursors, full_name, gh.start)
    params = {"state": "all", "sort": "updated", "direction": "desc"}
    for listed in gh.listing("pull_requests", full_name, f"/repos/{full_name}/pulls", params):
        page = yield from gh.screen("pull_requests", listed, full_name)
        rows, behind = [], 0
        for pr in page:
            updated = parse_ts(pr["updated_at"])
            if not seen.is_new(updated, pr["id"]):
                behind += 1
                continue
            seen.see(updated, pr["id"])
            rows.append(shape_pull_request(gh.detail(full_name, pr), full_name))
        if rows:
            yield rows
        # a listing that shifts while we page can carry a record across a page boundary: stop after a
        # page lying wholly behind the cursor, or holding one updated strictly before its instant (every
        # later record is older still)
        if behind and (behind == len(page) or any(_before(pr, seen) for pr in page)):
            break
    seen.save()


def _before(pr: dict, seen: ChangedSince) -> bool:
    """Whether the pull request was last updated strictly before the cursor's instant."""
    updated = parse_ts(pr["updated_at"])
    return seen.cursor is not None and updated is not None and updated < seen.cursor


def _commit_cursors() -> list[str]:
    """The repositories whose commits have a cursor (the commits resource's state)."""
    return [name for name, cursor in keyed_state("cursors", "commits").items() if cursor]


def _pull_requests_graphql(gh: Reader, repos: list[dict], cursors: dict) -> Iterator[list[dict] | None]:
    """The GraphQL path of `pull_requests`: repositories read `max_concurrency` at a time, loaded in their
    listed order; each pull request's nested lists wait in `nested` for their transformers."""
    assert gh.gql is not None
    gql = gh.gql
    seen = {repo["full_name"]: ChangedSince(cursors, repo["full_name"], gh.start) for repo in repos}

    def behind(full_name: str, pr: dict) -> bool:
        updated = parse_ts(pr["updated_at"] if "updated_at" in pr else pr["updatedAt"])
        return not seen[full_name].is_new(updated, pr["id"] if "id" in pr else pr["databaseId"])

    # the repositories read before: their newest pull requests asked together, many to a query, when the
    # first of a batch is read (so the next batch is asked while the workers read the one before); only
    # those with one not read yet have their pages read
    resumed = [full_name for full_name, cursor in seen.items() if cursor.resumed]
    probed = set(resumed)
    newest = graphql.asked_by_batch(
        resumed,
        graphql.NEWEST_PULL_REQUESTS_BATCH,
        lambda batch: graphql.newest_pull_requests(gql, batch),
    )

    # the repositories whose default-branch history this load reads (their commits' first load): their
    # pull requests' commits take the parents it gives (graphql.HistoryParents)
    history = gh.history_parents
    from_history = {
        full_name for full_name in seen if history is not None and history.reads(full_name, _commit_cursors)
    }

    def fetch(full_name: str) -> list[list[dict]]:
        try:
            if full_name in probed:
                found = newest(full_name)
                if found is None or behind(full_name, found):
                    return []
            return graphql.read_pull_requests(
                gql,
                full_name,
                lambda node: behind(full_name, node),
                seen[full_name].resumed,
                files=gh.reads_files(full_name),
                past=lambda node: _before({"updated_at": node["updatedAt"]}, seen[full_name]),
                probed=full_name in probed,
                known_parents=history.take(full_name) if history and full_name in from_history else None,
            )
        finally:
            if history is not None and full_name in from_history:
                history.drop(full_name)

    # a fetch may wait for a history the commits resource reads: never in this (dlt's) thread
    reading = graphql.in_order(list(seen), fetch, gh.max_concurrency, idle=True, threaded=bool(from_history))
    try:
        for read in reading:
            if read is None:  # not answered yet: dlt goes on with other resources meanwhile
                yield None
                continue
            full_name, pages_read = read
            for nodes in pages_read:
                kept = [node for node in nodes if not behind(full_name, node)]
                lists = {node["number"]: graphql.children(node) for node in kept}
                shaped = [graphql.pull_request(n) for n in kept]
                page = yield from gh.screen("pull_requests", shaped, full_name)
                for pr in page:
                    seen[full_name].see(parse_ts(pr["updated_at"]), pr["id"])
                    for resource, listed in lists[pr["number"]].items():
                        gh.nested[(resource, full_name, pr["number"])] = listed
                if page:
                    yield [shape_pull_request(pr, full_name) for pr in page]
            seen[full_name].save()
    finally:
        # stopped early (an error here or elsewhere): a fetch waiting for a history goes on without it, so
        # the read-ahead's threads end
        for full_name in from_history if history is not None else ():
            history.fail(full_name)
        reading.close()


def pull_request_commits_resource(gh: Reader, pull_requests: DltResource) -> DltResource:
    return _pull_request_lists(
        gh,
        pull_requests,
        "pull_request_commits",
        "commits",
        ("repository", "pull_number", "sha"),
        PULL_REQUEST_COMMIT_COLUMNS,
        shape_pull_request_commit,
        whole_list=True,
    )


def pull_request_reviews_resource(gh: Reader, pull_requests: DltResource) -> DltResource:
    return _pull_request_lists(
        gh, pull_requests, "pull_request_reviews", "reviews", "id", REVIEW_COLUMNS, shape_review
    )


def pull_request_review_comments_resource(gh: Reader, pull_requests: DltResource) -> DltResource:
    """Comments on the diff. With reviews they decide pickup: a reviewer's first comment may come before
    (or instead of) a submitted review."""
    return _pull_request_lists(
        gh,
        pull_requests,
        "pull_request_review_comments",
        "comments",
        "id",
        REVIEW_COMMENT_COLUMNS,
        _picked(REVIEW_COMMENT_COLUMNS),
        optional="pull request review comments",
    )


def pull_request_files_resource(gh: Reader, pull_requests: DltResource) -> DltResource:
    """The paths each pull request touches (GitHub lists at most 3,000), for mapping monorepo paths to
    services. Patches are left out. Read only in the repositories `gh.reads_files` names: the mapping
    reads them only where a service has `paths`, and elsewhere they cost a request per pull request
    (REST) or a point per page (GraphQL) for nothing."""
    return _pull_request_lists(
        gh,
        pull_requests,
        "pull_request_files",
        "files",
        ("repository", "pull_number", "filename"),
        PULL_REQUEST_FILE_COLUMNS,
        _picked(PULL_REQUEST_FILE_COLUMNS),
        optional="pull request files",
        whole_list=True,
        wanted=gh.reads_files,
    )


def _picked(columns: dict[str, Any]) -> Callable[[dict, str, int], dict]:
    def shape(raw: dict, repository: str, number: int) -> dict:
        return pick(raw, columns, repository=repository, pull_number=number)

    return shape


def _pull_request_lists(
    gh: Reader,
    pull_requests: DltResource,
    name: str,
    endpoint: str,
    primary_key: str | tuple[str, ...],
    columns: dict[str, Any],
    shape: Callable[[dict, str, int], dict],
    optional: str | None = None,
    whole_list: bool = False,
    wanted: Callable[[str], bool] | None = None,
) -> DltResource:
    """A list read for each pull request that changed (`/pulls/{number}/{endpoint}`; the GraphQL path's
    page of it when it carried one); `optional` names a list a repository may not offer.

    `whole_list`: a pull request's list as read replaces the one loaded before. A force-pushed branch drops
    commits (and the files only they touched) from the list; merging on the row's key alone would keep
    them. With the pull request as merge key, dlt's delete-insert deletes every row of each pull request
    the load carries before inserting its list. A list answered "not modified" carries nothing, so its rows
    stay.

    `wanted`: the repositories whose lists are read (None: all). A page of pull requests none of whose
    lists was read still creates the table, empty, so the raw layer has the same tables either way."""

    @dlt.transformer(
        data_from=pull_requests,
        name=name,
        primary_key=primary_key,
        merge_key=("repository", "pull_number") if whole_list else None,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"} if whole_list else "merge",
        columns=columns,
    )
    def lists(prs: TDataItem) -> Iterator[Any]:
        # one item for the parent's whole page: dlt's cost is per item, and most lists hold a few rows
        rows: list[dict] = []
        skipped = False
        for pr in as_list(prs, ("repository", "number")):
            repository, number = pr["repository"], pr["number"]
            if wanted is not None and not wanted(repository):
                gh.nested.pop((name, repository, number), None)
                skipped = True
                continue
            path = f"/repos/{repository}/pulls/{number}/{endpoint}"
            for listed in gh.children(name, repository, number, path, optional):
                page = yield from gh.screen(name, listed, repository, f"{repository}#{number}")
                rows += [shape(raw, repository, number) for raw in page]
        if rows:
            yield arrow_page(rows, columns)
        elif skipped:
            yield dlt.mark.materialize_table_schema()

    return lists
