"""A repository's own history: the repositories themselves, their commits (the default branch's, and
those of the branches a `branch_push` deploy rule names), branches, tags and releases."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import compress
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.arrow import arrow_batches, arrow_page
from ingestion.cursors import Watermark, keyed_state
from ingestion.dates import iso_seconds, parse_ts
from ingestion.git_local.helpers import pr_number_of
from ingestion.http import ApiError, RetryBudgetExhausted
from ingestion.patterns import RegexEngine

from . import graphql
from .columns import (
    BRANCH_COLUMNS,
    COMMIT_COLUMNS,
    COMMIT_FILE_COLUMNS,
    COMMIT_FILES,
    RELEASE_COLUMNS,
    REPOSITORY_COLUMNS,
    TAG_COLUMNS,
    pick,
    shape_commit,
)
from .helpers import pages, trim
from .reader import Reader, as_list
from .settings import REPOSITORY_LISTING_MIN, UNAVAILABLE_STATUSES

log = logging.getLogger(__name__)

# a commit detail answering these names no such commit (any more): that commit is skipped, not the endpoint
COMMIT_GONE_STATUSES = frozenset({404, 422})


def repositories_resource(gh: Reader, organization: str, repositories: list[str] | None) -> DltResource:
    @dlt.resource(
        name="repositories", primary_key="id", write_disposition="merge", columns=REPOSITORY_COLUMNS
    )
    def repositories_listed() -> Iterator[list[dict]]:
        if repositories:
            # Asked-for repositories are read one by one (works across owners and for tokens that may
            # not list the organisation), or, when many belong to the organisation, picked from its
            # listing (_from_listing). They are handed on together, so the GraphQL reads of the
            # transformers run `max_concurrency` repositories at a time.
            wanted = [(name, name if "/" in name else f"{organization}/{name}") for name in repositories]
            listed = _from_listing(gh, organization, [full_name for _, full_name in wanted])
            found = []
            for name, full_name in wanted:
                raw = listed.get(full_name.lower())
                if raw is None:
                    raw = gh.client.get(f"/repos/{full_name}").json()
                page = yield from gh.screen("repositories", [raw], name)
                found += [trim(repo) for repo in page]
            if found:
                yield found
            return
        params = {"type": "all", "sort": "full_name"}
        for listed_page in pages(gh.client, f"/orgs/{organization}/repos", params):
            page = yield from gh.screen("repositories", listed_page, organization)
            if page:
                yield [trim(repo) for repo in page]

    return repositories_listed


def _from_listing(gh: Reader, organization: str, wanted: list[str]) -> dict[str, dict]:
    """The asked-for repositories of `organization` found in its listing, by lower-case full name: one
    request per 100 repositories instead of one each, taken when at least REPOSITORY_LISTING_MIN of them
    belong to it. The listing is read in name order until every one is found, for at most a quarter as
    many pages as there are such repositories (an organisation far larger than what is asked for costs no
    more than a quarter more requests). The others (another owner, renamed, past the pages read, or a token
    that may not list the organisation) are read on their own by the caller."""
    owned = {name.lower() for name in wanted if name.split("/", 1)[0].lower() == organization.lower()}
    if len(owned) < REPOSITORY_LISTING_MIN:
        return {}
    found: dict[str, dict] = {}
    params = {"type": "all", "sort": "full_name"}
    try:
        for index, page in enumerate(pages(gh.client, f"/orgs/{organization}/repos", params)):
            for repo in page:
                name = str(repo.get("full_name") or "").lower() if isinstance(repo, dict) else ""
                if name in owned:
                    found[name] = repo
            if len(found) == len(owned) or index + 1 >= max(1, len(owned) // 4):
                break
    except ApiError as exc:
        if isinstance(exc, RetryBudgetExhausted) or exc.status not in UNAVAILABLE_STATUSES:
            raise
        log.info(
            "GitHub organisation %s could not be listed (status %s): reading its repositories one by one",
            organization,
            exc.status,
        )
        return {}
    return found


def commits_resource(
    gh: Reader,
    repositories: DltResource,
    lookback_days: float,
    deploy_branches: Mapping[str, Sequence[str]] | None,
) -> DltResource:
    patterns_by_repository = {name.lower(): list(p) for name, p in (deploy_branches or {}).items()}

    @dlt.transformer(
        data_from=repositories,
        name="commits",
        primary_key=("repository", "sha"),
        write_disposition="merge",
        columns=COMMIT_COLUMNS,
    )
    def commits(repos: TDataItem) -> Iterator[Any]:
        """Default-branch commits since the cursor (committer date) minus a short look-back, then those of
        the branches the repository's `branch_push` rules match, each branch with its own cursor
        (`Watermark`s: section `cursors` by repository, `branch_cursors` by repository and branch)."""
        yield from arrow_batches(_commits(repos), COMMIT_COLUMNS)

    def _commits(repos: TDataItem) -> Iterator[Any]:
        cursors = keyed_state("cursors", "commits")
        branch_cursors = keyed_state("branch_cursors", "commits")
        repos = as_list(repos)
        # a repository's first load reads its default branch's history through GraphQL, a few
        # repositories at a time; later loads list what is new through REST (an unchanged listing
        # answers 304, which costs nothing)
        gql, parents = gh.gql, gh.history_parents
        first_loads = [
            repo["full_name"]
            for repo in repos
            if gql is not None
            and parents is not None
            and parents.reads(repo["full_name"], lambda: [name for name, c in cursors.items() if c])
        ]

        def history(name: str) -> list[list[dict]]:
            # the pull requests' commits of the repository wait for its parents (graphql.HistoryParents)
            assert gql is not None and parents is not None
            try:
                read = graphql.read_history(gql, name, None, gh.start)
            except BaseException:
                parents.fail(name)
                raise
            parents.put(name, read)
            return read

        histories = iter(graphql.in_order(first_loads, history, gh.max_concurrency, idle=True))
        try:
            # later loads list the default branch's commits since the cursor (a few days), read whole: those
            # listings are read ahead; a first load through REST (no GraphQL) is read page by page
            since = {
                repo["full_name"]: _commits_listing(
                    gh, repo["full_name"], None, Watermark(cursors, repo["full_name"]), lookback_days
                )
                for repo in repos
                if repo["full_name"] not in first_loads and cursors.get(repo["full_name"])
            }
            listings = iter(gh.read_ahead(since))
            for repo in repos:
                full_name = repo["full_name"]
                if full_name in first_loads:
                    while (got := next(histories)) is None:
                        yield None  # not answered yet: dlt goes on with other resources meanwhile
                    name, read = got
                    assert name == full_name
                    listing = _commits_from_history(gh, full_name, read, Watermark(cursors, full_name))
                elif full_name in since:
                    while (ahead := next(listings)) is None:
                        yield None  # not answered yet: dlt goes on with other resources meanwhile
                    assert ahead[0] == full_name
                    cursor = Watermark(cursors, full_name)
                    listing = _commits_since(gh, full_name, None, cursor, lookback_days, ahead[1])
                else:
                    cursor = Watermark(cursors, full_name)
                    listing = _commits_since(gh, full_name, None, cursor, lookback_days)
                if gh.reads_commit_files(full_name):
                    listing = _with_direct_push_files(gh, full_name, listing)
                yield from listing
                patterns = patterns_by_repository.get(full_name.lower())
                if not patterns:
                    continue
                names = gh.branch_names(full_name)
                wanted = branches_to_load(names, repo.get("default_branch"), patterns)
                saved = branch_cursors.setdefault(full_name, {})
                for gone in set(saved) - set(names):
                    del saved[gone]
                for branch in wanted:
                    yield from _commits_since(gh, full_name, branch, Watermark(saved, branch), lookback_days)
        finally:
            # a load stopped early: the pull requests waiting for a history not read go on without it
            for name in first_loads if parents is not None else []:
                parents.fail(name)

    # the files of direct pushes (_with_direct_push_files): a table of their own, keyed by file
    commits.apply_hints(table_name=COMMIT_FILES, columns={}, create_table_variant=True)
    commits.apply_hints(
        table_name=COMMIT_FILES,
        write_disposition="merge",
        primary_key=("repository", "sha", "filename"),
        merge_key=[],
        columns=COMMIT_FILE_COLUMNS,
        create_table_variant=True,
    )
    return commits


def commit_files_resource() -> DltResource:
    """The `commit_files` table as a resource of its own, so it has a place in the lineage graph (Dagster
    asset `dlt_github_commit_files`) and a declared schema. It yields nothing itself: the commits resource
    loads its rows as it reads each default branch (_with_direct_push_files)."""

    def commit_files() -> Iterator[Any]:
        yield from ()

    return dlt.resource(
        commit_files,
        name=COMMIT_FILES,
        write_disposition="merge",
        primary_key=("repository", "sha", "filename"),
        columns=COMMIT_FILE_COLUMNS,
    )


def direct_push_candidates(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The commits of a default-branch listing that may be direct pushes, in listing order: those on the
    first-parent chain of a listed commit no other listed commit descends from (the branch's head), with
    one parent and no pull request named in their subject (`Merge pull request #N`, a squash's `(#N)`).
    A pull request's own commits brought by a merge commit are off that chain; a rebase-merged pull
    request's are on it, and their files are read too (the models keep only the direct pushes)."""
    by_sha = {row["sha"]: row for row in rows}
    children = {parent.get("sha") for row in rows for parent in row.get("parents") or []}
    chain: set[str] = set()
    for row in rows:
        if row["sha"] in children:
            continue
        current: Mapping[str, Any] | None = row
        while current is not None and current["sha"] not in chain:
            chain.add(current["sha"])
            parents = current.get("parents") or []
            current = by_sha.get(parents[0].get("sha")) if parents else None
    candidates = []
    for row in rows:
        parents = row.get("parents") or []
        subject = (row.get("commit__message") or "").split("\n", 1)[0]
        if row["sha"] in chain and len(parents) <= 1 and pr_number_of(subject) is None:
            candidates.append(row["sha"])
    return candidates


def _with_direct_push_files(gh: Reader, full_name: str, listing: Iterator[Any]) -> Iterator[Any]:
    """The default branch's listing as it comes, then the files each possible direct push of it changed
    (one commit detail request each), rows of table `commit_files`. Read only in the repositories where a
    service owns paths: a direct push there counts for the services whose paths its files touch. A commit
    whose detail answers 404/422 is skipped (one warning per repository with the count); an answer about
    the endpoint itself (403, 409, 410) stops the repository's reads for the run (Availability)."""
    listed: list[dict] = []
    for item in listing:
        if isinstance(item, list):
            listed += [{key: row.get(key) for key in ("sha", "parents", "commit__message")} for row in item]
        yield item
    what = "commit files"
    rows: list[dict] = []
    skipped: list[str] = []
    for sha in direct_push_candidates(listed):

        def fetch(sha: str = sha) -> Iterator[list[dict]]:
            try:
                detail = gh.client.get(f"/repos/{full_name}/commits/{sha}").json()
            except ApiError as exc:
                # one commit gone (force-pushed away, unreadable): skip it, read the others; an answer
                # about the endpoint itself (403, 409, 410) goes to the guard, which stops the repository
                if isinstance(exc, RetryBudgetExhausted) or exc.status not in COMMIT_GONE_STATUSES:
                    raise
                skipped.append(sha)
                return
            yield detail.get("files") or []

        for files in gh.availability.guard(what, full_name, fetch()):
            page = yield from gh.screen(COMMIT_FILES, files, full_name, f"{full_name}@{sha}")
            rows += [pick(raw, COMMIT_FILE_COLUMNS, repository=full_name, sha=sha) for raw in page]
    if skipped:
        log.warning(
            "GitHub commit files: %d commit(s) of %s answered 404/422 and were skipped (first: %s)",
            len(skipped),
            full_name,
            skipped[0],
        )
    if rows:
        yield dlt.mark.with_table_name(arrow_page(rows, COMMIT_FILE_COLUMNS), COMMIT_FILES)


def _committed(raw: dict) -> datetime | None:
    return parse_ts(((raw.get("commit") or {}).get("committer") or {}).get("date"))


def _commits_from_history(
    gh: Reader, full_name: str, read: list[list[dict]], cursor: Watermark
) -> Iterator[list[dict]]:
    """GraphQL history pages as the REST listing's commits; the cursor moves as REST's does. A commit
    with more parents than GraphQL's page gave is read through REST."""
    for listed in read:
        listed = [
            gh.client.get(f"/repos/{full_name}/commits/{raw['sha']}").json()
            if raw.get("parents_cut")
            else raw
            for raw in listed
        ]
        page = yield from gh.screen("commits", listed, full_name, full_name)
        for raw in page:
            cursor.see(_committed(raw))
        yield [shape_commit(c, full_name) for c in page]
    cursor.save()


def _commits_listing(
    gh: Reader, full_name: str, branch: str | None, cursor: Watermark, lookback_days: float
) -> Iterator[Any]:
    """The listing of commits reachable from `branch` (None: the default branch), committed since the
    cursor minus the look-back (or since the start)."""
    since = cursor.since(lookback_days, gh.start)
    params = {"since": iso_seconds(since)} if since else {}
    if branch is not None:
        params["sha"] = branch
    owner = full_name if branch is None else f"{full_name}@{branch}"  # one ETag per listing
    return gh.listing("commits", owner, f"/repos/{full_name}/commits", params)


def _commits_since(
    gh: Reader,
    full_name: str,
    branch: str | None,
    cursor: Watermark,
    lookback_days: float,
    listing: Iterator[Any] | None = None,
) -> Iterator[list[dict]]:
    """Commits reachable from `branch` (None: the default branch), committed since the cursor minus the
    look-back (or since the start), from `listing` when it was read ahead (_commits_listing); the
    cursor moves to the newest committer date read."""
    owner = full_name if branch is None else f"{full_name}@{branch}"
    if listing is None:
        listing = _commits_listing(gh, full_name, branch, cursor, lookback_days)
    try:
        for listed in listing:
            page = yield from gh.screen("commits", listed, full_name, owner)
            for raw in page:
                cursor.see(_committed(raw))
            yield [shape_commit(c, full_name) for c in page]
    except ApiError as exc:
        # 409: the repository is empty; 404/422: the branch went away since it was listed
        if exc.status != 409 and (branch is None or exc.status not in (404, 422)):
            raise
    cursor.save()


def branches_to_load(names: Sequence[str], default_branch: str | None, patterns: Sequence[str]) -> list[str]:
    """The branches besides the default one whose commits are loaded: those a `branch_push` pattern
    (a case-insensitive regex searched in the name) finds, sorted. DuckDB matches them, as it does for the
    deploy rule itself (ingestion/patterns.py): the branches loaded are the ones the rule deploys."""
    candidates = sorted(name for name in set(names) if name != default_branch)
    if not candidates or not patterns:
        return []
    found: set[str] = set()
    engine = RegexEngine()
    try:
        for pattern in patterns:
            found.update(compress(candidates, engine.search(pattern, candidates)))
    finally:
        engine.close()
    return sorted(found)


def branches_resource(gh: Reader, repositories: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=repositories,
        name="branches",
        primary_key=("repository", "name"),
        write_disposition="merge",
        columns=BRANCH_COLUMNS,
    )
    def branches(repos: TDataItem) -> Iterator[list[dict]]:
        """Each branch with its tip. An unchanged listing (304) loads nothing; a changed one loads every
        branch, and deletes the branches gone since the last run."""
        # the listings are read a few repositories ahead (Reader.branch_listings)
        for full_name in gh.branch_listings([repo["full_name"] for repo in as_list(repos)]):
            if full_name is None:
                yield None  # not answered yet: dlt goes on with other resources meanwhile
                continue
            current, previous = gh.branch_listing(full_name)
            if current is not None:
                named = yield from gh.screen("branches", list(current.values()), full_name)
                current = {branch["name"]: branch for branch in named}
                rows = branch_rows(full_name, current, previous)
                if rows:
                    yield rows

    return branches


def branch_rows(
    repository: str, current: Mapping[str, dict], previous: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rows for the branches table: every current branch, and a deletion row for each branch known from
    the previous run that is gone now (`current` holds GitHub's branch objects by name)."""
    rows = [
        {
            "repository": repository,
            "name": name,
            "commit_sha": (branch.get("commit") or {}).get("sha"),
            "protected": branch.get("protected"),
            "is_deleted": False,
        }
        for name, branch in sorted(current.items())
    ]
    rows += [
        {"repository": repository, "name": name, "is_deleted": True}
        for name in sorted(set(previous) - set(current))
    ]
    return rows


def releases_resource(gh: Reader, repositories: DltResource, lookback_days: float) -> DltResource:
    @dlt.transformer(
        data_from=repositories,
        name="releases",
        primary_key="id",
        write_disposition="merge",
        columns=RELEASE_COLUMNS,
    )
    def releases(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest first; paging stops after the first page reaching behind the cursor's look-back (a
        `Watermark` on creation, section `cursors`)."""
        cursors = keyed_state("cursors", "releases")
        for repo in as_list(repos):
            full_name = repo["full_name"]
            cursor = Watermark(cursors, full_name)
            floor = cursor.since(lookback_days, gh.start, clamp=False)
            listed = gh.listing("releases", full_name, f"/repos/{full_name}/releases")
            for raw_page in gh.availability.guard("releases", full_name, listed):
                page = yield from gh.screen("releases", raw_page, full_name)
                rows = []
                for raw in page:
                    created = parse_ts(raw.get("created_at"))
                    cursor.see(created)
                    # drafts have no publication yet; a draft published later moves into the window
                    stamp = parse_ts(raw.get("published_at")) or created
                    if floor is None or stamp is None or stamp >= floor:
                        rows.append(pick(raw, RELEASE_COLUMNS, repository=full_name))
                if rows:
                    yield rows
                if floor is not None and page and not rows:  # a page wholly behind the window
                    break
            cursor.save()

    return releases


def tags_resource(gh: Reader, repositories: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=repositories,
        name="tags",
        primary_key=("repository", "name"),
        write_disposition="merge",
        columns=TAG_COLUMNS,
    )
    def tags(repos: TDataItem) -> Iterator[list[dict] | None]:
        """Tag refs, peeled to the commit they mark. Annotated tags are read once each for their tagger
        date (the moment the release was cut); tags whose target did not move are not read again (section
        `known`: each repository's tags by name, to the sha they point at)."""
        known_by_repository = keyed_state("known", "tags")
        names = [repo["full_name"] for repo in as_list(repos)]
        # each listing is read whole, and its new annotated tags peeled, a few repositories ahead
        listings = {
            name: gh.listing("tags", name, f"/repos/{name}/git/matching-refs/tags")
            for name in names
            if not gh.availability.lacks("tags", name)
        }
        known_before = {name: dict(known_by_repository.get(name) or {}) for name in listings}
        ahead = gh.read_ahead(
            listings, lambda name, pages: _peeled_ahead(gh, name, pages, known_before[name])
        )
        for full_name in names:
            if full_name not in listings:
                continue
            while (got := next(ahead)) is None:
                yield None  # not answered yet: dlt goes on with other resources meanwhile
            _, listed, peeled = got
            known: dict[str, str] = known_by_repository.setdefault(full_name, {})
            for raw_page in gh.availability.guard("tags", full_name, listed):
                page = yield from gh.screen("tags", raw_page, full_name)
                rows = []
                for ref in page:
                    name = ref["ref"].removeprefix("refs/tags/")
                    target = ref.get("object") or {}
                    if known.get(name) == target.get("sha"):
                        continue
                    row = (peeled or {}).get((ref["ref"], target.get("sha"), target.get("type")))
                    rows.append(
                        row if row is not None else _peel_tag(gh, full_name, name, ref["ref"], target)
                    )
                    known[name] = target.get("sha")
                if rows:
                    yield rows

    return tags


def _peeled_ahead(
    gh: Reader, full_name: str, pages: list[Any], known: dict[str, str]
) -> dict[tuple[str, str, str], dict]:
    """The rows of the listed tags not known at their sha, peeled (an annotated tag's object read) in the
    worker that read the listing, by (ref, sha, type). What cannot be peeled here (a record the screen
    will hold back, an answer that is an error) is left to the reader, which peels it in turn."""
    out: dict[tuple[str, str, str], dict] = {}
    for page in pages:
        for ref in page:
            target = ref.get("object") if isinstance(ref, dict) else None
            if not isinstance(target, dict) or not isinstance(ref.get("ref"), str):
                continue
            name = ref["ref"].removeprefix("refs/tags/")
            if not name or known.get(name) == target.get("sha"):
                continue
            try:
                out[(ref["ref"], target.get("sha"), target.get("type"))] = _peel_tag(
                    gh, full_name, name, ref["ref"], target
                )
            except ApiError:
                return out  # the reader asks again, and fails (or skips) where it would have
    return out


def _peel_tag(gh: Reader, full_name: str, name: str, ref: str, target: dict) -> dict:
    row: dict[str, Any] = {
        "repository": full_name,
        "name": name,
        "ref": ref,
        "object_sha": target.get("sha"),
        "object_type": target.get("type"),
    }
    obj, hops = target, 0
    while obj.get("type") == "tag" and hops < 5:  # a tag of a tag: follow to the end
        try:
            tag = gh.client.get(f"/repos/{full_name}/git/tags/{obj['sha']}").json()
        except ApiError as exc:
            # one unreadable tag object leaves that tag unpeeled; it does not cost the other tags
            if isinstance(exc, RetryBudgetExhausted) or exc.status not in UNAVAILABLE_STATUSES:
                raise
            log.info("GitHub tag %s of %s could not be read (status %s)", name, full_name, exc.status)
            break
        if hops == 0:
            tagger = tag.get("tagger") or {}
            row.update(
                tagger_name=tagger.get("name"),
                tagger_email=tagger.get("email"),
                tagged_at=tagger.get("date"),
                message=tag.get("message"),
            )
        obj, hops = tag.get("object") or {}, hops + 1
    if obj.get("type") == "commit":
        row["commit_sha"] = obj.get("sha")
    return {k: v for k, v in row.items() if v is not None}
