"""GitLab source: projects, commits (and, in the projects named, the changed files of the default
branch's possible direct pushes), branches, merge requests (with notes, approvals, commits and, in the
projects named, changed files), pipelines and their jobs, environments, deployments, releases and tags
(REST API v4, gitlab.com or self-managed).

Every per-project row carries `project` (the path with namespace, e.g. `group/sub/app`) and merges on its
key, so re-reading an overlap never duplicates rows. Cursors are kept per project in the resource state:
a project added later still gets its whole history on its first run. Commits are listed with `all=true`:
every branch's, so a `branch_push` deploy rule on any branch finds its first-parent chain loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from ingestion.ahead import in_order, read_whole, replay
from ingestion.arrow import arrow_batches, arrow_page, parent_keys, quiet_json_hints
from ingestion.cursors import ChangedSince, Watermark, keyed_state
from ingestion.dates import iso_millis, parse_ts, start_of
from ingestion.git_local.helpers import pr_number_of
from ingestion.http import ApiError, RetryPolicy
from ingestion.quarantine import Contract, Quarantine, newest_wins, prepare, quarantine_resource

from .helpers import encoded, make_client, pages, trim
from .settings import COMMIT_LOOKBACK_DAYS, DEFAULT_BASE_URL

log = logging.getLogger(__name__)

# Statuses that mean "this project does not offer that feature to this token" (CI/CD or releases
# disabled, approvals not in the edition, empty repository): the project is skipped for that resource.
_UNAVAILABLE = frozenset({403, 404})


def _hint(data_type: str) -> dict[str, Any]:
    # a fresh dict per column: dlt writes the column name into the hint it is given
    return {"data_type": data_type, "nullable": True}


def _columns(**types: str) -> dict[str, Any]:
    return {name: _hint(data_type) for name, data_type in types.items()}


PROJECT_COLUMNS = _columns(
    id="bigint",
    project="text",
    path_with_namespace="text",
    name="text",
    default_branch="text",
    web_url="text",
    visibility="text",
    archived="bool",
    created_at="timestamp",
    last_activity_at="timestamp",
    namespace__full_path="text",
)
COMMIT_COLUMNS = _columns(
    project="text",
    id="text",
    short_id="text",
    parent_ids="json",
    title="text",
    message="text",
    author_name="text",
    author_email="text",
    authored_date="timestamp",
    committer_name="text",
    committer_email="text",
    committed_date="timestamp",
    created_at="timestamp",
    web_url="text",
)
MERGE_REQUEST_COLUMNS = _columns(
    project="text",
    id="bigint",
    iid="bigint",
    project_id="bigint",
    title="text",
    state="text",
    draft="bool",
    author__username="text",
    created_at="timestamp",
    updated_at="timestamp",
    merged_at="timestamp",
    closed_at="timestamp",
    merge_commit_sha="text",
    squash_commit_sha="text",
    sha="text",
    source_branch="text",
    target_branch="text",
    labels="json",
    reviewers="json",
    web_url="text",
)
NOTE_COLUMNS = _columns(
    project="text",
    merge_request_iid="bigint",
    merge_request_author_username="text",
    id="bigint",
    system="bool",
    author__username="text",
    body="text",
    created_at="timestamp",
    updated_at="timestamp",
)
APPROVAL_COLUMNS = _columns(
    project="text",
    merge_request_iid="bigint",
    merge_request_id="bigint",
    approver_id="bigint",
    approver_username="text",
    approved_at="timestamp",
)
MERGE_REQUEST_COMMIT_COLUMNS = _columns(
    merge_request_iid="bigint", **{k: v["data_type"] for k, v in COMMIT_COLUMNS.items()}
)
# one row per file a merge request changes, as `/merge_requests/:iid/diffs` lists it (the diff text left out)
MERGE_REQUEST_FILE_COLUMNS = _columns(
    project="text",
    merge_request_iid="bigint",
    old_path="text",
    new_path="text",
    new_file="bool",
    renamed_file="bool",
    deleted_file="bool",
)
# one row per file a possible direct push changes, as `/repository/commits/:sha/diff` lists it (no diff text)
COMMIT_FILES = "commit_files"
COMMIT_FILE_COLUMNS = _columns(
    project="text",
    sha="text",
    old_path="text",
    new_path="text",
    new_file="bool",
    renamed_file="bool",
    deleted_file="bool",
)
PIPELINE_COLUMNS = _columns(
    project="text",
    id="bigint",
    iid="bigint",
    sha="text",
    ref="text",
    status="text",
    source="text",
    created_at="timestamp",
    updated_at="timestamp",
    web_url="text",
)
JOB_COLUMNS = _columns(
    project="text",
    pipeline_id="bigint",
    id="bigint",
    name="text",
    stage="text",
    status="text",
    ref="text",
    tag="bool",
    allow_failure="bool",
    commit_sha="text",
    created_at="timestamp",
    started_at="timestamp",
    finished_at="timestamp",
    duration="double",
    queued_duration="double",
    web_url="text",
)
ENVIRONMENT_COLUMNS = _columns(
    project="text",
    id="bigint",
    name="text",
    slug="text",
    tier="text",
    state="text",
    external_url="text",
    created_at="timestamp",
    updated_at="timestamp",
)
DEPLOYMENT_COLUMNS = _columns(
    project="text",
    id="bigint",
    iid="bigint",
    ref="text",
    sha="text",
    status="text",
    created_at="timestamp",
    updated_at="timestamp",
    finished_at="timestamp",
    environment__id="bigint",
    environment__name="text",
    environment__tier="text",
    user__username="text",
    deployable__id="bigint",
    deployable__name="text",
    deployable__status="text",
    deployable__pipeline__id="bigint",
)
RELEASE_COLUMNS = _columns(
    project="text",
    tag_name="text",
    name="text",
    commit__id="text",
    created_at="timestamp",
    released_at="timestamp",
    upcoming_release="bool",
    author__username="text",
)
BRANCH_COLUMNS = {
    **_columns(
        project="text",
        name="text",
        commit_sha="text",
        committed_at="timestamp",
        is_default="bool",
        protected="bool",
        merged="bool",
    ),
    # a branch gone upstream arrives once with is_deleted and is deleted here too
    "is_deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
TAG_COLUMNS = _columns(
    project="text",
    name="text",
    target="text",
    message="text",
    protected="bool",
    created_at="timestamp",
    commit__id="text",
    commit__created_at="timestamp",
    commit__committed_date="timestamp",
)


# What each resource's records must hold (ingestion/quarantine.py). Enumerations are those of GitLab's
# REST reference (docs.gitlab.com/api/: merge requests, pipelines, jobs, deployments); the models branch
# on them.
_COMMIT = {
    "key": {"id": str},
    "times": ("authored_date", "committed_date", "created_at"),
    "is_graph": True,
    "ordered": ("authored_date", "committed_date"),
}
_CI_STATUSES = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed"}
    | {"canceled", "canceling", "skipped", "manual", "scheduled"}
)
CONTRACTS = {
    contract.resource: contract
    for contract in (
        Contract(
            "projects",
            key={"id": int, "path_with_namespace": str},
            times=("created_at", "last_activity_at"),
        ),
        Contract("commits", **_COMMIT),
        Contract("branches", key={"name": str}),
        Contract(
            "merge_requests",
            key={"id": int, "iid": int, "project_id": int},
            times=("created_at", "updated_at", "merged_at", "closed_at"),
            enums={"state": frozenset({"opened", "closed", "merged", "locked"})},
            version="updated_at",
        ),
        Contract("merge_request_notes", key={"id": int}, times=("created_at", "updated_at")),
        Contract("merge_request_approvals", key={"user.id": int}, times=("approved_at",)),
        Contract("merge_request_commits", **_COMMIT),
        Contract("merge_request_files", key={"old_path": str, "new_path": str}),
        Contract(COMMIT_FILES, key={"old_path": str, "new_path": str}),
        Contract(
            "pipelines",
            key={"id": int, "project_id": int},
            times=("created_at", "updated_at"),
            enums={"status": _CI_STATUSES},
            version="updated_at",
        ),
        Contract(
            "pipeline_jobs",
            key={"id": int},
            times=("created_at", "started_at", "finished_at"),
            enums={"status": _CI_STATUSES},
        ),
        Contract("environments", key={"id": int}, times=("created_at", "updated_at")),
        Contract(
            "deployments",
            key={"id": int},
            times=("created_at", "updated_at", "finished_at"),
            required_times=("created_at",),
            enums={
                "status": frozenset({"created", "running", "success", "failed", "canceled", "skipped"})
                | {"blocked"}
            },
            version="updated_at",
        ),
        Contract("releases", key={"tag_name": str}, times=("created_at", "released_at")),
        Contract("tags", key={"name": str}),
    )
}


def _shape_commit(raw: dict, project: str, **extra: Any) -> dict:
    row = trim(raw)
    row["parent_ids"] = list(raw.get("parent_ids") or [])
    row.pop("stats", None)
    return {**extra, **row, "project": project}


def _shape_merge_request(raw: dict, project: str) -> dict:
    row = trim(raw)
    row["labels"] = [
        label.get("name") if isinstance(label, dict) else label for label in raw.get("labels") or []
    ]
    row["reviewers"] = [user.get("username") for user in raw.get("reviewers") or []]
    return {**row, "project": project}


def _shape_pipeline(raw: dict, project: str) -> dict:
    return {"project": project, **trim(raw)}


def _shape_approval(approval: dict, mr: dict) -> dict:
    user = approval.get("user") or {}
    row = {
        "project": mr["project"],
        "merge_request_iid": mr["iid"],
        "merge_request_id": mr["id"],
        "approver_id": user.get("id"),
        "approver_username": user.get("username"),
        "approved_at": approval.get("approved_at"),
    }
    return {k: v for k, v in row.items() if v is not None}


def _shape_job(raw: dict, project: str, pipeline_id: int) -> dict:
    row = trim(raw)
    row["commit_sha"] = (raw.get("commit") or {}).get("id")
    row.pop("commit", None)
    row.pop("pipeline", None)
    # Newer GitLab versions send a `project` object on jobs (CI token scope); our `project` is the path.
    row.pop("project", None)
    return {**row, "project": project, "pipeline_id": pipeline_id}


def _shape_deployment(raw: dict, project: str) -> dict:
    row = trim(raw)
    environment = raw.get("environment") or {}
    row["environment"] = {k: environment[k] for k in ("id", "name", "tier") if environment.get(k)}
    deployable = raw.get("deployable") or {}
    if deployable:
        pipeline = deployable.get("pipeline") or {}
        row["deployable"] = {
            k: v
            for k, v in {
                "id": deployable.get("id"),
                "name": deployable.get("name"),
                "stage": deployable.get("stage"),
                "status": deployable.get("status"),
                "pipeline": {"id": pipeline["id"]} if pipeline.get("id") else None,
            }.items()
            if v is not None
        }
    return {**row, "project": project}


_PROJECT_KEYS = (
    "id",
    "name",
    "path",
    "path_with_namespace",
    "default_branch",
    "web_url",
    "visibility",
    "archived",
    "empty_repo",
    "created_at",
    "last_activity_at",
    "namespace",
)
_NOTE_KEYS = (
    "id",
    "type",
    "body",
    "author",
    "created_at",
    "updated_at",
    "system",
    "noteable_type",
    "noteable_id",
    "resolvable",
    "resolved",
    "internal",
)


def _shape_project(raw: dict) -> dict:
    row = trim({k: raw.get(k) for k in _PROJECT_KEYS})
    namespace = raw.get("namespace") or {}
    row["namespace"] = {k: namespace[k] for k in ("id", "full_path", "kind") if namespace.get(k) is not None}
    return {"project": raw["path_with_namespace"], **row}


def _shape_note(note: dict, mr: dict) -> dict:
    return {
        "project": mr["project"],
        "merge_request_iid": mr["iid"],
        "merge_request_author_username": mr["author__username"],
        **trim({k: note.get(k) for k in _NOTE_KEYS}),
    }


def _shape_release(raw: dict, project: str) -> dict:
    row = trim(raw)
    row["commit"] = {"id": (raw.get("commit") or {}).get("id")}
    return {**row, "project": project}


def _shape_tag(raw: dict, project: str) -> dict:
    row = trim(raw)
    commit = raw.get("commit") or {}
    row["commit"] = {
        k: commit[k] for k in ("id", "created_at", "committed_date") if commit.get(k) is not None
    }
    row.pop("release", None)
    return {**row, "project": project}


def _shape_branch(raw: dict, project: str) -> dict:
    commit = raw.get("commit") or {}
    row = {
        "project": project,
        "name": raw["name"],
        "commit_sha": commit.get("id"),
        "committed_at": commit.get("committed_date"),
        "is_default": raw.get("default"),
        "protected": raw.get("protected"),
        "merged": raw.get("merged"),
        "is_deleted": False,
    }
    return {k: v for k, v in row.items() if v is not None}


# the keys a transformer reads from its parent's rows (ingestion/arrow.py `parent_keys`)
_PROJECT = ("id", "project")
_PROJECT_BRANCH = ("id", "project", "default_branch")
_MERGE_REQUEST = ("id", "iid", "project_id", "project", "author__username")
_PIPELINE = ("id", "project_id", "project")
# the resources whose pages go through arrow_page
ARROW_RESOURCES = frozenset(
    {
        "commits",
        "merge_requests",
        "merge_request_notes",
        "merge_request_approvals",
        "merge_request_commits",
        "merge_request_files",
        COMMIT_FILES,
        "pipelines",
        "pipeline_jobs",
        "environments",
        "deployments",
        "releases",
        "tags",
    }
)
quiet_json_hints(ARROW_RESOURCES)


def _arrow(rows: Iterator[Any], columns: dict[str, Any]) -> Iterator[Any]:
    """A resource's pages as Arrow tables of its columns, GitLab's nested objects flattened as dlt would."""
    return arrow_batches(rows, columns, nested=True)


@dataclass(frozen=True)
class Reader:
    """What every GitLab resource reads with: the client, the backfill start and the quarantine."""

    client: RESTClient
    start: datetime | None
    quarantine: Quarantine
    # the projects (paths with namespace, lower case) whose merge requests' and possible direct pushes'
    # changed files are read
    file_projects: frozenset[str] = frozenset()
    # lists of merge requests (or pipelines) read at once, ahead of their use, by all resources together
    max_concurrency: int = 4
    # whether the pipelines' jobs are read (a request a pipeline): no model reads them
    read_jobs: bool = False
    _slots: threading.BoundedSemaphore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_slots", threading.BoundedSemaphore(self.max_concurrency))

    def each_ahead(
        self, items: list[dict], listing: Callable[[dict], Iterator[Any]]
    ) -> Iterator[tuple[dict, Iterator[Any]] | None]:
        """`(item, pages)` for each item in order, its `listing` read whole in a worker, `max_concurrency`
        items ahead (ingestion/ahead.py); None while the next is not read yet, to be passed on to dlt
        (`yield None`). `pages` raises what stopped the listing where it would have when read in turn."""
        listings = [listing(item) for item in items]

        def fetch(n: int) -> tuple[list[Any], BaseException | None]:
            with self._slots:  # at most `max_concurrency` lists in flight across the source's resources
                return read_whole(listings[n])

        fetched = in_order(range(len(items)), fetch, self.max_concurrency, True)
        for got in fetched:
            yield None if got is None else (items[got[0]], replay(*got[1]))

    def reads_files(self, project: str) -> bool:
        """Whether `project`'s merge requests and possible direct pushes have their changed files read."""
        return project.lower() in self.file_projects

    def screen(self, resource: str, records: Any, scope: str, listing: str | None = None) -> Iterator[Any]:
        return self.quarantine.screen(CONTRACTS[resource], records, scope, listing)

    def optional_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
        """Pages of an endpoint a project may not offer (403/404): then nothing, and a warning saying why."""
        try:
            yield from pages(self.client, path, params)
        except ApiError as exc:
            if exc.status not in _UNAVAILABLE:
                raise
            log.warning("GitLab %s: not available for this project (%s); skipped", exc.path, exc.status)

    def listed(
        self,
        resource: str,
        path: str,
        project: str,
        shape: Any,
        listing: str | None = None,
        pages: Iterator[list[dict]] | None = None,
    ):
        """Every page of an optional list endpoint (or `pages`, as read ahead), screened (the quarantine
        rows are yielded as they are) and shaped by `shape`."""
        for listed in self.optional_pages(path) if pages is None else pages:
            page = yield from self.screen(resource, listed, project, listing)
            yield [shape(raw) for raw in page]

    def changed_since(
        self,
        resource: str,
        path: str,
        params: dict[str, Any],
        cursors: dict[str, Any],
        project: str,
        shape: Any,
    ) -> Iterator[Any]:
        """Rows updated since the project's cursor, oldest first, through `updated_after`, screened (the
        quarantine rows are yielded as they are) and shaped by `shape`.

        GitLab's `updated_after` is inclusive at the cursor's millisecond: the rows at the cursor are
        skipped by id (ingestion/cursors.py), so an unchanged project costs one request and yields nothing.
        """
        seen = ChangedSince(cursors, project, self.start, render=iso_millis)
        query = {**params, "order_by": "updated_at", "sort": "asc"}
        if seen.cursor is not None:
            query["updated_after"] = iso_millis(seen.cursor)
        for listing in self.optional_pages(path, query):
            page = yield from self.screen(resource, listing, project)
            rows = []
            for raw in page:
                updated = parse_ts(raw.get("updated_at") or raw.get("created_at"))
                if not seen.is_new(updated, raw["id"]):
                    continue
                seen.see(updated, raw["id"])
                rows.append(raw)
            if rows:
                yield [shape(raw) for raw in rows]
        seen.save()


def _changed(
    gl: Reader, resource: str, rows: TDataItem, params: dict[str, Any], cursors: dict, shape: Any
) -> Iterator[Any]:
    """Each project's `/projects/:id/<resource>` changed since its cursor (Reader.changed_since)."""
    for project in parent_keys(rows, _PROJECT):
        path = project["project"]
        endpoint = f"/projects/{project['id']}/{resource}"
        yield from gl.changed_since(resource, endpoint, params, cursors, path, partial(shape, project=path))


def projects_resource(gl: Reader, projects: list[str] | None, group: str | None) -> DltResource:
    @dlt.resource(name="projects", primary_key="id", write_disposition="merge", columns=PROJECT_COLUMNS)
    def projects_listed() -> Iterator[list[dict]]:
        if projects:
            # Asked-for projects are read one by one: works across groups and for tokens that cannot
            # list a group.
            for path in projects:
                page = yield from gl.screen(
                    "projects", [gl.client.get(f"/projects/{encoded(path)}").json()], path
                )
                if page:
                    yield [_shape_project(raw) for raw in page]
            return
        if group:
            params = {"include_subgroups": "true", "order_by": "id", "sort": "asc"}
            for listed in pages(gl.client, f"/groups/{encoded(group)}/projects", params):
                page = yield from gl.screen("projects", listed, group)
                yield [_shape_project(raw) for raw in page]
            return
        # Keyset pagination: stable and cheap however many projects an instance holds.
        params = {"membership": "true", "pagination": "keyset", "order_by": "id", "sort": "asc"}
        for listed in pages(gl.client, "/projects", params):
            page = yield from gl.screen("projects", listed, "membership")
            yield [_shape_project(raw) for raw in page]

    return projects_listed


def commits_resource(gl: Reader, projects: DltResource, lookback_days: float) -> DltResource:
    @dlt.transformer(
        data_from=projects,
        name="commits",
        primary_key=("project", "id"),
        write_disposition="merge",
        columns=COMMIT_COLUMNS,
    )
    def commits(rows: TDataItem) -> Iterator[Any]:
        """Commits of every ref since the cursor (committer date) minus a short look-back; in the projects
        `gl.reads_files` names, then the files of the default branch's possible direct pushes among them
        (_with_direct_push_files), rows of table `commit_files`."""
        cursors = keyed_state("cursors", "commits")
        for project in parent_keys(rows, _PROJECT_BRANCH):
            listing = _commits(gl, project, cursors, lookback_days)
            if gl.reads_files(project["project"]) and project.get("default_branch"):
                listing = _with_direct_push_files(gl, project, listing)
            yield from _arrow(listing, COMMIT_COLUMNS)

    # the files of direct pushes (_with_direct_push_files): a table of their own, keyed by file
    commits.apply_hints(table_name=COMMIT_FILES, columns={}, create_table_variant=True)
    commits.apply_hints(
        table_name=COMMIT_FILES,
        write_disposition="merge",
        primary_key=("project", "sha", "new_path"),
        merge_key=[],
        columns=COMMIT_FILE_COLUMNS,
        create_table_variant=True,
    )
    return commits


def commit_files_resource() -> DltResource:
    """The `commit_files` table as a resource of its own, so it has a place in the lineage graph (Dagster
    asset `dlt_gitlab_commit_files`) and a declared schema. It yields nothing itself: the commits resource
    loads its rows as it reads each project (_with_direct_push_files)."""

    def commit_files() -> Iterator[Any]:
        yield from ()

    return dlt.resource(
        commit_files,
        name=COMMIT_FILES,
        write_disposition="merge",
        primary_key=("project", "sha", "new_path"),
        columns=COMMIT_FILE_COLUMNS,
    )


def direct_push_candidates(rows: Sequence[dict], head: str | None) -> list[str]:
    """The commits of a listing that may be direct pushes, in listing order: those on the first-parent
    chain from `head` (the default branch's tip) through the listed commits, with one parent and no merge
    request named in their subject (the rule of ingestion.git_local.helpers.pr_number_of, as for GitHub).
    GitLab's merge commits (`Merge branch 'x' into 'main'`, `See merge request group/project!N` in the
    body) have two parents; a merge request's own commits brought by one are off the chain. Squash commits
    and fast-forwarded merge requests' commits are on it, and their files are read too: the models keep only
    the direct pushes (the merge requests' records name their merge and squash commits)."""
    by_sha = {row["id"]: row for row in rows}
    chain: set[str] = set()
    current = by_sha.get(head) if head else None
    while current is not None and current["id"] not in chain:
        chain.add(current["id"])
        parents = current.get("parent_ids") or []
        current = by_sha.get(parents[0]) if parents else None
    candidates = []
    for row in rows:
        parents = row.get("parent_ids") or []
        subject = (row.get("message") or row.get("title") or "").split("\n", 1)[0]
        if row["id"] in chain and len(parents) <= 1 and pr_number_of(subject) is None:
            candidates.append(row["id"])
    return candidates


def _default_branch_head(gl: Reader, project: dict) -> str | None:
    """The commit the default branch points at, or None when the branch cannot be read (404: an empty
    repository, a branch renamed since the project was read; 403)."""
    endpoint = f"/projects/{project['id']}/repository/branches/{encoded(project['default_branch'])}"
    try:
        return (gl.client.get(endpoint).json().get("commit") or {}).get("id")
    except ApiError as exc:
        if exc.status not in _UNAVAILABLE:
            raise
        log.warning(
            "GitLab default branch of %s: not available (%s); no commit files", project["project"], exc.status
        )
        return None


def _with_direct_push_files(gl: Reader, project: dict, listing: Iterator[Any]) -> Iterator[Any]:
    """The project's commit listing as it comes, then the files each possible direct push of it changed
    (direct_push_candidates; every page of `/repository/commits/:sha/diff`), rows of table `commit_files`.
    The default branch's tip is read before the listing, so the listing holds it. A commit whose diff
    answers 404 is skipped (one warning per project with the count); 403 stops the project's reads."""
    path = project["project"]
    head = _default_branch_head(gl, project)
    listed: list[dict] = []
    for item in listing:
        if isinstance(item, list):
            listed += [
                {key: row.get(key) for key in ("id", "parent_ids", "message", "title")} for row in item
            ]
        yield item
    rows: list[dict] = []
    skipped: list[str] = []
    for sha in direct_push_candidates(listed, head):
        endpoint = f"/projects/{project['id']}/repository/commits/{sha}/diff"
        files: list[dict] = []
        try:
            for page in pages(gl.client, endpoint):
                screened = yield from gl.screen(COMMIT_FILES, page, path, f"{path}@{sha}")
                files += [_shape_commit_file(raw, path, sha) for raw in screened]
        except ApiError as exc:
            if exc.status == 404:  # this commit is gone (force-pushed away): the others still count
                skipped.append(sha)
                continue
            if exc.status not in _UNAVAILABLE:
                raise
            log.warning("GitLab commit diffs of %s: not available (%s); reading no more", path, exc.status)
            break
        rows += files
    if skipped:
        log.warning(
            "GitLab commit files: %d commit(s) of %s answered 404 and were skipped (first: %s)",
            len(skipped),
            path,
            skipped[0],
        )
    if rows:
        yield dlt.mark.with_table_name(arrow_page(rows, COMMIT_FILE_COLUMNS), COMMIT_FILES)


def _shape_commit_file(raw: dict, project: str, sha: str) -> dict:
    row = {"project": project, "sha": sha, **{key: raw.get(key) for key in _FILE_KEYS}}
    return {k: v for k, v in row.items() if v is not None}


def _commits(gl: Reader, project: dict, cursors: dict, lookback_days: float) -> Iterator[Any]:
    path = project["project"]
    cursor = Watermark(cursors, path, render=iso_millis)
    since = cursor.since(lookback_days, gl.start)
    params: dict[str, Any] = {"all": "true", "with_stats": "false"}
    if since is not None:
        params["since"] = iso_millis(since)
    for listed in gl.optional_pages(f"/projects/{project['id']}/repository/commits", params):
        page = yield from gl.screen("commits", listed, path)
        for raw in page:
            cursor.see(parse_ts(raw.get("committed_date")))
        yield [_shape_commit(raw, path) for raw in page]
    cursor.save()


def branches_resource(gl: Reader, projects: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=projects,
        name="branches",
        primary_key=("project", "name"),
        write_disposition="merge",
        columns=BRANCH_COLUMNS,
    )
    def branches(rows: TDataItem) -> Iterator[list[dict]]:
        """Each branch with its tip (one listing per project); branches gone since the last run are
        deleted. A project that cannot list its branches (403/404) keeps what was loaded before."""
        known = keyed_state("known", "branches")
        for project in parent_keys(rows, _PROJECT):
            yield from _branches(gl, project, known)

    return branches


def _branches(gl: Reader, project: dict, known: dict) -> Iterator[Any]:
    path = project["project"]
    listed = None
    try:
        for page in pages(gl.client, f"/projects/{project['id']}/repository/branches"):
            listed = listed if listed is not None else []
            listed.extend(page)
    except ApiError as exc:
        if exc.status not in _UNAVAILABLE:
            raise
        log.warning("GitLab branches of %s: not available (%s); skipped", path, exc.status)
    if listed is None:
        return
    named = yield from gl.screen("branches", listed, path)
    current = [_shape_branch(raw, path) for raw in named]
    names = {row["name"] for row in current}
    gone = sorted(set(known.get(path) or []) - names)
    known[path] = sorted(names)
    out = current + [{"project": path, "name": name, "is_deleted": True} for name in gone]
    if out:
        yield out


def merge_requests_resource(gl: Reader, projects: DltResource) -> DltResource:
    columns = newest_wins(MERGE_REQUEST_COLUMNS, "updated_at")

    @dlt.transformer(
        data_from=projects,
        name="merge_requests",
        primary_key="id",
        write_disposition="merge",
        columns=columns,
    )
    def merge_requests(rows: TDataItem) -> Iterator[Any]:
        cursors = keyed_state("cursors", "merge_requests")
        params = {"state": "all", "scope": "all"}
        changed = _changed(gl, "merge_requests", rows, params, cursors, _shape_merge_request)
        yield from _arrow(changed, columns)

    return merge_requests


def _merge_request_endpoint(mr: dict, what: str) -> str:
    return f"/projects/{mr['project_id']}/merge_requests/{mr['iid']}/{what}"


def merge_request_notes_resource(gl: Reader, merge_requests: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=merge_requests,
        name="merge_request_notes",
        primary_key=("project", "merge_request_iid", "id"),
        write_disposition="merge",
        columns=NOTE_COLUMNS,
    )
    def merge_request_notes(mrs: TDataItem) -> Iterator[Any]:
        """Every note of the merge requests loaded in this run. System notes are kept (flagged `system`):
        they record approvals and pushes; pickup counts only the others."""
        yield from _arrow(_merge_request_notes(gl, parent_keys(mrs, _MERGE_REQUEST)), NOTE_COLUMNS)

    return merge_request_notes


def _merge_request_notes(gl: Reader, mrs: list[dict]) -> Iterator[Any]:
    params = {"sort": "asc", "order_by": "created_at"}
    notes = gl.each_ahead(mrs, lambda mr: gl.optional_pages(_merge_request_endpoint(mr, "notes"), params))
    for got in notes:
        if got is None:  # not answered yet: dlt goes on with other resources meanwhile
            yield None
            continue
        mr, pages = got
        endpoint = _merge_request_endpoint(mr, "notes")
        for listed in pages:
            page = yield from gl.screen("merge_request_notes", listed, mr["project"], endpoint)
            yield [_shape_note(note, mr) for note in page]


def merge_request_approvals_resource(gl: Reader, merge_requests: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=merge_requests,
        name="merge_request_approvals",
        primary_key=("project", "merge_request_iid", "approver_id"),
        write_disposition="merge",
        columns=APPROVAL_COLUMNS,
    )
    def merge_request_approvals(mrs: TDataItem) -> Iterator[Any]:
        """Who approved the merge requests loaded in this run (`approved_at` where the instance says)."""
        yield from _arrow(_merge_request_approvals(gl, parent_keys(mrs, _MERGE_REQUEST)), APPROVAL_COLUMNS)

    return merge_request_approvals


def _merge_request_approvals(gl: Reader, mrs: list[dict]) -> Iterator[Any]:
    def answer(mr: dict) -> Iterator[Any]:
        yield gl.client.get(_merge_request_endpoint(mr, "approvals")).json()

    for got in gl.each_ahead(mrs, answer):
        if got is None:  # not answered yet: dlt goes on with other resources meanwhile
            yield None
            continue
        mr, answered = got
        endpoint = _merge_request_endpoint(mr, "approvals")
        try:
            body = next(answered)
        except ApiError as exc:
            if exc.status not in _UNAVAILABLE:
                raise
            log.warning("GitLab %s: approvals not available (%s); skipped", exc.path, exc.status)
            continue
        approvals = yield from gl.screen(
            "merge_request_approvals", body.get("approved_by") or [], mr["project"], endpoint
        )
        rows = [_shape_approval(approval, mr) for approval in approvals]
        if rows:
            yield rows


def merge_request_commits_resource(gl: Reader, merge_requests: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=merge_requests,
        name="merge_request_commits",
        primary_key=("project", "merge_request_iid", "id"),
        # a merge request's commits as listed now replace those loaded before: a force-push drops commits
        # (delete-insert deletes every row of each merge request the load carries, then inserts its list)
        merge_key=("project", "merge_request_iid"),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=MERGE_REQUEST_COMMIT_COLUMNS,
    )
    def merge_request_commits(mrs: TDataItem) -> Iterator[Any]:
        commits = _merge_request_commits(gl, parent_keys(mrs, _MERGE_REQUEST))
        yield from _arrow(commits, MERGE_REQUEST_COMMIT_COLUMNS)

    return merge_request_commits


def _merge_request_commits(gl: Reader, mrs: list[dict]) -> Iterator[Any]:
    commits = gl.each_ahead(mrs, lambda mr: gl.optional_pages(_merge_request_endpoint(mr, "commits")))
    for got in commits:
        if got is None:  # not answered yet: dlt goes on with other resources meanwhile
            yield None
            continue
        mr, pages = got
        endpoint = _merge_request_endpoint(mr, "commits")
        shape = partial(_shape_commit, project=mr["project"], merge_request_iid=mr["iid"])
        yield from gl.listed("merge_request_commits", endpoint, mr["project"], shape, endpoint, pages)


def merge_request_files_resource(gl: Reader, merge_requests: DltResource) -> DltResource:
    """The paths each merge request changes, for mapping monorepo paths to services. Read only in the
    projects `gl.reads_files` names: the mapping reads them only where a service owns `paths`, and
    elsewhere they cost a request per merge request for nothing."""

    @dlt.transformer(
        data_from=merge_requests,
        name="merge_request_files",
        primary_key=("project", "merge_request_iid", "new_path"),
        # a merge request's files as listed now replace those loaded before: a force-push can drop the
        # commits that alone touched a file (delete-insert deletes each merge request's rows, then inserts)
        merge_key=("project", "merge_request_iid"),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=MERGE_REQUEST_FILE_COLUMNS,
    )
    def merge_request_files(mrs: TDataItem) -> Iterator[Any]:
        listed = parent_keys(mrs, _MERGE_REQUEST)
        wanted = [mr for mr in listed if gl.reads_files(mr["project"])]
        read = False
        for item in _arrow(_merge_request_files(gl, wanted), MERGE_REQUEST_FILE_COLUMNS):
            read = True
            yield item
        if not read and len(wanted) < len(listed):
            # the table exists, empty, whether or not a project's files are read
            yield dlt.mark.materialize_table_schema()

    return merge_request_files


_FILE_KEYS = ("old_path", "new_path", "new_file", "renamed_file", "deleted_file")


def _shape_merge_request_file(raw: dict, mr: dict) -> dict:
    row = {
        "project": mr["project"],
        "merge_request_iid": mr["iid"],
        **{key: raw.get(key) for key in _FILE_KEYS},
    }
    return {k: v for k, v in row.items() if v is not None}


def _merge_request_files(gl: Reader, mrs: list[dict]) -> Iterator[Any]:
    for got in gl.each_ahead(mrs, lambda mr: gl.optional_pages(_merge_request_endpoint(mr, "diffs"))):
        if got is None:  # not answered yet: dlt goes on with other resources meanwhile
            yield None
            continue
        mr, pages = got
        endpoint = _merge_request_endpoint(mr, "diffs")
        for listed in pages:
            page = yield from gl.screen("merge_request_files", listed, mr["project"], endpoint)
            yield [_shape_merge_request_file(raw, mr) for raw in page]


def pipelines_resource(gl: Reader, projects: DltResource) -> DltResource:
    columns = newest_wins(PIPELINE_COLUMNS, "updated_at")

    @dlt.transformer(
        data_from=projects, name="pipelines", primary_key="id", write_disposition="merge", columns=columns
    )
    def pipelines(rows: TDataItem) -> Iterator[Any]:
        cursors = keyed_state("cursors", "pipelines")
        yield from _arrow(_changed(gl, "pipelines", rows, {}, cursors, _shape_pipeline), columns)

    return pipelines


def pipeline_jobs_resource(gl: Reader, pipelines: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=pipelines,
        name="pipeline_jobs",
        primary_key="id",
        write_disposition="merge",
        columns=JOB_COLUMNS,
    )
    def pipeline_jobs(rows: TDataItem) -> Iterator[Any]:
        """Jobs of the pipelines loaded in this run, retried attempts included (each is a real run); none
        unless asked for (`pipeline_jobs`), since no model reads them."""
        if gl.read_jobs:
            yield from _arrow(_pipeline_jobs(gl, parent_keys(rows, _PIPELINE)), JOB_COLUMNS)

    return pipeline_jobs


def _jobs_endpoint(pipeline: dict) -> str:
    return f"/projects/{pipeline['project_id']}/pipelines/{pipeline['id']}/jobs"


def _pipeline_jobs(gl: Reader, pipelines: list[dict]) -> Iterator[Any]:
    params = {"include_retried": "true"}
    for got in gl.each_ahead(pipelines, lambda pipeline: gl.optional_pages(_jobs_endpoint(pipeline), params)):
        if got is None:  # not answered yet: dlt goes on with other resources meanwhile
            yield None
            continue
        pipeline, pages = got
        endpoint = _jobs_endpoint(pipeline)
        for listed in pages:
            page = yield from gl.screen("pipeline_jobs", listed, pipeline["project"], endpoint)
            yield [_shape_job(raw, pipeline["project"], pipeline["id"]) for raw in page]


def _project_listing(
    gl: Reader, rows: TDataItem, resource: str, what: str, shape: Any, columns: dict[str, Any]
) -> Iterator[Any]:
    """A per-project list endpoint (`/projects/:id/<what>`) read whole on every run, as Arrow tables."""

    def listed() -> Iterator[Any]:
        for project in parent_keys(rows, _PROJECT):
            path = f"/projects/{project['id']}/{what}"
            yield from gl.listed(
                resource, path, project["project"], partial(shape, project=project["project"])
            )

    return _arrow(listed(), columns)


def _shape_environment(raw: dict, project: str) -> dict:
    return {**trim(raw), "project": project}


def environments_resource(gl: Reader, projects: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=projects,
        name="environments",
        primary_key="id",
        write_disposition="merge",
        columns=ENVIRONMENT_COLUMNS,
    )
    def environments(rows: TDataItem) -> Iterator[Any]:
        yield from _project_listing(
            gl, rows, "environments", "environments", _shape_environment, ENVIRONMENT_COLUMNS
        )

    return environments


def deployments_resource(gl: Reader, projects: DltResource) -> DltResource:
    columns = newest_wins(DEPLOYMENT_COLUMNS, "updated_at")

    @dlt.transformer(
        data_from=projects, name="deployments", primary_key="id", write_disposition="merge", columns=columns
    )
    def deployments(rows: TDataItem) -> Iterator[Any]:
        """Deployments updated since the cursor: a deployment's status moves (running → success or
        failed) after it was created, and each move updates it, so one cursor catches both."""
        cursors = keyed_state("cursors", "deployments")
        yield from _arrow(_changed(gl, "deployments", rows, {}, cursors, _shape_deployment), columns)

    return deployments


def releases_resource(gl: Reader, projects: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=projects,
        name="releases",
        primary_key=("project", "tag_name"),
        write_disposition="merge",
        columns=RELEASE_COLUMNS,
    )
    def releases(rows: TDataItem) -> Iterator[Any]:
        yield from _project_listing(gl, rows, "releases", "releases", _shape_release, RELEASE_COLUMNS)

    return releases


def tags_resource(gl: Reader, projects: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=projects,
        name="tags",
        primary_key=("project", "name"),
        write_disposition="merge",
        columns=TAG_COLUMNS,
    )
    def tags(rows: TDataItem) -> Iterator[Any]:
        yield from _project_listing(gl, rows, "tags", "repository/tags", _shape_tag, TAG_COLUMNS)

    return tags


@dlt.source(name="gitlab")
def gitlab_source(
    base_url: str = DEFAULT_BASE_URL,
    token: str = dlt.secrets.value,
    projects: list[str] | None = None,
    group: str | None = None,
    start_date: str | None = None,
    max_retries: int = 5,
    max_retry_wait_seconds: float = 60.0,
    backoff_factor: float = 1.0,
    request_timeout_seconds: float = 60.0,
    commit_lookback_days: float = COMMIT_LOOKBACK_DAYS,
    file_repositories: Collection[str] = (),
    max_concurrency: int = 4,
    pipeline_jobs: bool = False,
) -> Sequence[DltResource]:
    """Load delivery history from GitLab REST v4 (gitlab.com, a self-managed host, or an emulator).

    `base_url` is the host (`https://gitlab.example.com`; `/api/v4` is added unless already there).
    Projects come from `projects` (paths with namespace, read one by one), else from `group` (with its
    subgroups), else every project the token is a member of. `start_date` (ISO date) bounds how far back
    the first run reaches for commits, merge requests, pipelines and deployments. `file_repositories`
    (paths with namespace, any case): the projects whose merge requests' changed files, and those of the
    default branch's possible direct pushes, are read (the ones where a service owns `paths`,
    ingestion.config.path_repositories); by default none, and the merge request files table is still
    created. `max_concurrency`: the merge requests' and pipelines' lists (notes, approvals, commits, files,
    jobs) read at once, ahead of their use, by all resources together (gitlab.com allows about 2,000
    requests a minute per user: 4 at a few hundred milliseconds each stays well within it).
    `pipeline_jobs`: whether each loaded pipeline's jobs are read (a request a pipeline) into
    `pipeline_jobs`, for SQL of your own on CI; no model reads them, so by default they are not.
    """
    client = make_client(
        base_url,
        token,
        RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds, request_timeout_seconds),
    )
    gl = Reader(
        client,
        start_of(start_date),
        Quarantine("gitlab"),
        frozenset(name.lower() for name in file_repositories),
        max_concurrency,
        pipeline_jobs,
    )
    listed_projects = projects_resource(gl, projects, group)
    merge_requests = merge_requests_resource(gl, listed_projects)
    pipelines = pipelines_resource(gl, listed_projects)
    resources = (
        listed_projects,
        commits_resource(gl, listed_projects, commit_lookback_days),
        commit_files_resource(),
        branches_resource(gl, listed_projects),
        merge_requests,
        merge_request_notes_resource(gl, merge_requests),
        merge_request_approvals_resource(gl, merge_requests),
        merge_request_commits_resource(gl, merge_requests),
        merge_request_files_resource(gl, merge_requests),
        pipelines,
        pipeline_jobs_resource(gl, pipelines),
        environments_resource(gl, listed_projects),
        deployments_resource(gl, listed_projects),
        releases_resource(gl, listed_projects),
        tags_resource(gl, listed_projects),
        quarantine_resource(),
    )
    prepare(resources)
    return resources
