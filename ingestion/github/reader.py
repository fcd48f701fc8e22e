"""What every GitHub resource reads with: the clients, the backfill start, the quarantine, which optional
endpoints a repository lacks, and what one resource reads for another in the same run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from dlt.common.typing import TDataItem
from dlt.sources.helpers.rest_client import RESTClient

from ingestion.ahead import in_order, read_whole, replay
from ingestion.cursors import keyed_state
from ingestion.quarantine import Quarantine

from . import graphql
from .columns import CONTRACTS
from .helpers import Availability, conditional_pages, pages


def as_list(items: TDataItem, columns: tuple[str, ...] | None = None) -> list[dict]:
    """A parent's item as a transformer receives it: rows, one row, or the Arrow table the parent loads
    (columns.arrow_batches), read back as rows of `columns` only when given (the parent's keys: a
    table's times would come back as datetimes, not as the API's text)."""
    if isinstance(items, pa.Table):
        return (items.select(list(columns)) if columns else items).to_pylist()
    return items if isinstance(items, list) else [items]


@dataclass
class Reader:
    """The GitHub source's shared context; `gql` is None on the REST path."""

    client: RESTClient
    gql: graphql.GraphQLClient | None
    start: datetime | None
    conditional_requests: bool = True
    pull_request_details: bool = True
    max_concurrency: int = 4
    # the repositories (full names, lower case) whose pull requests' changed files are read; None: every one
    file_repositories: frozenset[str] | None = None
    # the repositories (full names, lower case) whose default branch's direct pushes have their files read
    commit_file_repositories: frozenset[str] = frozenset()
    # the repositories (full names, lower case) whose branches the commits resource lists too (their
    # `branch_push` rules): their listing is read when first needed, never ahead (branch_listings)
    branch_push_repositories: frozenset[str] = frozenset()
    availability: Availability = field(default_factory=Availability)
    quarantine: Quarantine = field(default_factory=lambda: Quarantine("github"))
    # nested lists the GraphQL path read with their parent, by (resource, repository, parent key), until
    # the resource's transformer takes them; None marks a list too long for one page (read via REST)
    nested: dict[tuple[str, str, int], list[dict] | None] = field(default_factory=dict)
    # each repository's branch listing of this run, read once for the branches and commits resources:
    # (current branches by name, or None when unchanged or unavailable; the branches known before)
    listed_branches: dict[str, tuple[dict[str, dict] | None, dict[str, Any]]] = field(default_factory=dict)
    # the parents of the commits of the default-branch histories this run reads (GraphQL path), for the
    # pull requests' commits
    history_parents: graphql.HistoryParents | None = None

    def reads_files(self, full_name: str) -> bool:
        """Whether the pull requests of `full_name` have their changed files read."""
        return self.file_repositories is None or full_name.lower() in self.file_repositories

    def reads_commit_files(self, full_name: str) -> bool:
        """Whether the direct pushes on the default branch of `full_name` have their changed files read."""
        return full_name.lower() in self.commit_file_repositories

    def screen(self, resource: str, records: Any, scope: str, listing: str | None = None) -> Iterator[Any]:
        return self.quarantine.screen(CONTRACTS[resource], records, scope, listing)

    def read_ahead(
        self, listings: dict[str, Iterator[Any]], then: Callable[[str, list[Any]], Any] | None = None
    ) -> Iterator[tuple[str, Iterator[Any], Any] | None]:
        """Listings read whole ahead of their use, `max_concurrency` at a time, handed over in the order
        of `listings` as `(key, pages, extra)`: `pages` replays what the listing gave, then raises what
        stopped it (if anything), where the listing itself would have; `extra` is what `then(key, pages
        read)` returned, run in the same worker after a whole listing (the requests its pages lead to;
        None without it). None while the next is not read yet: a dlt resource passes it on (`yield None`)
        and dlt works on its other resources meanwhile.

        Only for listings their reader reads to the end (no early stop), so reading them ahead asks
        nothing more than reading them in turn; the listings are made (their state read) by the caller."""

        def fetch(key: str) -> tuple[list[Any], BaseException | None, Any]:
            pages, error = read_whole(listings[key])
            return pages, error, then(key, pages) if then is not None and error is None else None

        for got in in_order(list(listings), fetch, self.max_concurrency, True):
            if got is None:
                yield None
                continue
            key, (pages, error, extra) = got
            yield key, replay(pages, error), extra

    def listing(
        self, resource: str, full_name: str, path: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[list[dict]]:
        """A repository's list endpoint, asked conditionally when that is switched on (the ETags are kept
        per repository in the resource's state, section `etags`)."""
        if not self.conditional_requests:
            return pages(self.client, path, params, **kwargs)
        etags = keyed_state("etags", resource)
        return conditional_pages(self.client, path, params, etags, full_name, **kwargs)

    def children(
        self, resource: str, repository: str, key: int, path: str, optional: str | None = None
    ) -> Iterator[list[dict]]:
        """A parent's nested list: as the GraphQL path read it with the parent, else the REST listing at
        `path`. An `optional` list (named as Availability names it) stops quietly where unavailable."""
        read = self.nested.pop((resource, repository, key), None)
        listed: Iterator[list[dict]] = iter([read]) if read is not None else pages(self.client, path)
        if optional is None:
            return listed
        return self.availability.guard(optional, repository, listed)

    def branch_listing(self, full_name: str) -> tuple[dict[str, dict] | None, dict[str, Any]]:
        """The repository's branches if the listing changed since the last run (else None), and the
        branches known from the last run (name to tip). Read at most once per run."""
        if full_name not in self.listed_branches:
            listed = self.listing("branches", full_name, f"/repos/{full_name}/branches")
            self._keep_branches(full_name, self.availability.guard("branches", full_name, listed))
        return self.listed_branches[full_name]

    def branch_listings(self, names: list[str]) -> Iterator[str | None]:
        """Each of `names` once its branch listing is read (branch_listing then answers from what was
        read), the listings not read yet read `max_concurrency` repositories ahead in workers; None while
        the next is not read yet, to be passed on to dlt (`yield None`).

        The repositories whose branches the commits resource lists as well are not read ahead: whichever
        resource comes first reads their listing (branch_listing), once. Should a listing be read by
        branch_listing all the same while read ahead, the one read first stands and the other is dropped,
        so the branches known from the last run are compared once, with one listing."""
        fresh = [
            name
            for name in dict.fromkeys(names)
            if name not in self.listed_branches and name.lower() not in self.branch_push_repositories
        ]
        listings = {name: self.listing("branches", name, f"/repos/{name}/branches") for name in fresh}
        ahead = self.read_ahead(listings)
        for name in names:
            if name in listings:
                while (got := next(ahead)) is None:
                    yield None
                key, pages, _ = got
                del listings[name]
                if key not in self.listed_branches:
                    self._keep_branches(key, self.availability.guard("branches", key, pages))
            yield name

    def _keep_branches(self, full_name: str, listed: Iterator[list[dict]]) -> None:
        known = keyed_state("known", "branches")
        previous = dict(known.get(full_name) or {})
        current: dict[str, dict] | None = None
        for page in listed:
            current = current if current is not None else {}
            current.update((branch.get("name"), branch) for branch in page)
        if current is not None:
            known[full_name] = {name: (b.get("commit") or {}).get("sha") for name, b in current.items()}
        self.listed_branches[full_name] = (current, previous)

    def branch_names(self, full_name: str) -> list[str]:
        """The repository's branch names now: as listed, or as known when the listing did not change."""
        current, previous = self.branch_listing(full_name)
        if current is None and self.availability.lacks("branches", full_name):
            return []
        return sorted(current if current is not None else previous)

    def detail(self, full_name: str, pr: dict) -> dict:
        """The pull request's own page (a superset of its list entry, with its size), when available."""
        what = "pull request detail"
        if not self.pull_request_details or self.availability.lacks(what, full_name):
            return pr
        number = pr["number"]

        def fetch() -> Iterator[dict]:
            yield self.client.get(f"/repos/{full_name}/pulls/{number}").json()

        return next(self.availability.guard(what, full_name, fetch()), pr)
