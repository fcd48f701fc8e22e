"""Deployments and their statuses. On the GraphQL path the deployment pages carry the statuses
(graphql.py); they wait in the reader's `nested` until `deployment_statuses` takes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.arrow import arrow_batches, arrow_page
from ingestion.cursors import Watermark, keyed_state
from ingestion.dates import parse_ts
from ingestion.quarantine import newest_wins

from . import graphql
from .columns import (
    DEPLOYMENT_COLUMNS,
    DEPLOYMENT_STATUS_COLUMNS,
    shape_deployment,
    shape_deployment_status,
)
from .reader import Reader, as_list


def deployments_resource(gh: Reader, repositories: DltResource, lookback_days: float) -> DltResource:
    @dlt.transformer(
        data_from=repositories,
        name="deployments",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(DEPLOYMENT_COLUMNS, "updated_at"),
    )
    def deployments(repos: TDataItem) -> Iterator[Any]:
        """Newest first. Deployments created within the look-back before the cursor (a `Watermark` on
        the last update, section `cursors`) are read again, because their statuses (success, failure,
        inactive) arrive after they were created."""
        yield from arrow_batches(_deployments(repos), DEPLOYMENT_COLUMNS)

    def _deployments(repos: TDataItem) -> Iterator[Any]:
        cursors = keyed_state("cursors", "deployments")
        windows = {repo["full_name"]: Watermark(cursors, repo["full_name"]) for repo in as_list(repos)}
        floors = {
            name: cursor.since(lookback_days, gh.start, clamp=False) for name, cursor in windows.items()
        }
        # the repositories whose deployments were listed before (section `listed`), as of this load's start
        listed_before = keyed_state("listed", "deployments")
        read_before = frozenset(listed_before)
        listings: Iterator[tuple[str, Any] | None]
        if gh.gql is not None:
            gql = gh.gql

            # the first pages of repositories read before (mostly all a later load reads) are asked many
            # to a query; a first load's one repository at a time, so the source works on one page while
            # the next is served
            resumed = [name for name in windows if name in read_before]
            first = _first_pages(gql, resumed)

            def fetch(full_name: str) -> list[list[dict]]:
                answered = first(full_name) if full_name in read_before else None
                return graphql.read_deployments(gql, full_name, floors[full_name], answered)

            listings = (
                None if got is None else (got[0], _deployment_pages(gh, got[0], got[1]))
                for got in graphql.in_order(list(windows), fetch, gh.max_concurrency, idle=True)
            )
        else:
            listings = (
                (name, gh.listing("deployments", name, f"/repos/{name}/deployments")) for name in windows
            )
        for listing in listings:
            if listing is None:  # not answered yet: dlt goes on with other resources meanwhile
                yield None
                continue
            full_name, listed_pages = listing
            cursor, floor = windows[full_name], floors[full_name]
            for listed in listed_pages:
                page = yield from gh.screen("deployments", listed, full_name)
                rows = []
                for raw in page:
                    created, updated = parse_ts(raw["created_at"]), parse_ts(raw.get("updated_at"))
                    updated = updated or created
                    cursor.see(updated)
                    recent = floor is None or created >= floor
                    changed = cursor.saved is not None and updated > cursor.saved
                    if recent or changed:
                        rows.append(shape_deployment(raw, full_name))
                if rows:
                    yield rows
                # newest first: once a page reaches behind the floor, every later page lies wholly behind
                # it (a record a shifting listing carries across a boundary is older still, or read twice)
                if floor is not None and any(parse_ts(raw["created_at"]) < floor for raw in page):
                    break
            cursor.save()
            listed_before[full_name] = True

    return deployments


def _first_pages(gql: graphql.GraphQLClient, names: list[str]) -> Callable[[str], dict]:
    """A repository's first page of deployments, asked with those of the repositories listed beside it
    (graphql.DEPLOYMENTS_BATCH to a query) when the first of them is wanted: a batch's pages are held
    only until their repositories are read."""
    return graphql.asked_by_batch(
        names, graphql.DEPLOYMENTS_BATCH, lambda batch: graphql.first_deployment_pages(gql, batch)
    )


def _deployment_pages(gh: Reader, full_name: str, read: list[list[dict]]) -> Iterator[list[dict]]:
    """GraphQL deployment pages as REST objects; their statuses wait in `nested`. A deployment whose ref
    is gone (a deleted branch: GraphQL then has no ref) is read again through REST for its name."""
    for nodes in read:
        page = []
        for node in nodes:
            raw = graphql.deployment(node)
            if raw["ref"] is None:
                raw = gh.client.get(f"/repos/{full_name}/deployments/{raw['id']}").json()
            gh.nested[("deployment_statuses", full_name, raw["id"])] = graphql.statuses(node)
            page.append(raw)
        yield page


def deployment_statuses_resource(gh: Reader, deployments: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=deployments,
        name="deployment_statuses",
        primary_key="id",
        write_disposition="merge",
        columns=DEPLOYMENT_STATUS_COLUMNS,
    )
    def deployment_statuses(deploys: TDataItem) -> Iterator[Any]:
        rows: list[dict] = []  # one item for the parent's whole page, as for a pull request's lists
        for deployment in as_list(deploys, ("repository", "id")):
            repository, deployment_id = deployment["repository"], deployment["id"]
            path = f"/repos/{repository}/deployments/{deployment_id}/statuses"
            for listed in gh.children("deployment_statuses", repository, deployment_id, path):
                page = yield from gh.screen("deployment_statuses", listed, repository, path)
                rows += [shape_deployment_status(status, repository, deployment_id) for status in page]
        if rows:
            yield arrow_page(rows, DEPLOYMENT_STATUS_COLUMNS)

    return deployment_statuses
