"""GitHub source: repositories, pull requests (with detail, commits, reviews, review comments and files),
commits, branches, deployments, releases, tags and Actions workflow runs with their jobs.

Every per-repository table carries `repository` (the full name) and merges on its key, so re-reading an
overlap never duplicates rows. Cursors are kept per repository in the resource state: a repository added
to the organisation later still gets its whole history on its first run, which one cursor shared by all
repositories would skip. List endpoints polled per repository are asked conditionally (ETag), so an
unchanged repository costs one request per endpoint (the run listing keeps its query for that, and a
run's jobs are read only when the run is new or changed). Releases, tags, branches, Actions and pull
request files and comments are optional: a repository (or server) without them loads none, and the refresh
goes on. Commits are those of the default branch, plus those of the branches a `branch_push` deploy rule
names (`deploy_branches`), so the first-parent chain of a deploy branch can be walked. With the GraphQL API,
a repository's first load reads its default branch's commits through GraphQL (graphql.py); a run's jobs are
read only for the runs a `workflow` deploy rule counts when the rules are given (`deploy_workflows`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import compress
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.dates import iso_seconds, minus_days, parse_ts, start_of
from ingestion.http import ApiError, ApiUsage, RetryBudgetExhausted, RetryPolicy
from ingestion.patterns import RegexEngine
from ingestion.quarantine import Contract, Quarantine, newest_wins, prepare, quarantine_resource

from . import graphql
from .helpers import Availability, conditional_pages, make_client, pages, trim
from .settings import (
    COMMIT_LOOKBACK_DAYS,
    DEFAULT_BASE_URL,
    DEPLOYMENT_LOOKBACK_DAYS,
    RELEASE_LOOKBACK_DAYS,
    UNAVAILABLE_STATUSES,
    WORKFLOW_RUN_LOOKBACK_DAYS,
    WORKFLOW_RUN_QUERY_LIMIT,
    WORKFLOW_RUN_REQUERY_DAYS,
)

log = logging.getLogger(__name__)


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
    # from the pull request's own page (GET /pulls/{n}); absent when details are switched off
    "additions": _hint("bigint"),
    "deletions": _hint("bigint"),
    "changed_files": _hint("bigint"),
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
    # `Bot` for an app's account: its reviews are no colleague picking the change up
    "user__type": _hint("text"),
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
    # `Bot` when an app (a CI or deploy bot) created the deployment, not a person
    "creator__type": _hint("text"),
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
PULL_REQUEST_FILE_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "pull_number": _hint("bigint"),
    "filename": _hint("text"),
    "previous_filename": _hint("text"),
    "status": _hint("text"),
    "additions": _hint("bigint"),
    "deletions": _hint("bigint"),
    "changes": _hint("bigint"),
}
REVIEW_COMMENT_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "pull_number": _hint("bigint"),
    "id": _hint("bigint"),
    "pull_request_review_id": _hint("bigint"),
    "in_reply_to_id": _hint("bigint"),
    "user__login": _hint("text"),
    "user__type": _hint("text"),
    "author_association": _hint("text"),
    "path": _hint("text"),
    "commit_id": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
}
RELEASE_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "id": _hint("bigint"),
    "tag_name": _hint("text"),
    "target_commitish": _hint("text"),
    "name": _hint("text"),
    "draft": _hint("bool"),
    "prerelease": _hint("bool"),
    "created_at": _hint("timestamp"),
    "published_at": _hint("timestamp"),
    "author__login": _hint("text"),
    "html_url": _hint("text"),
}
BRANCH_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "name": _hint("text"),
    "commit_sha": _hint("text"),
    "protected": _hint("bool"),
    # a branch gone upstream arrives once with is_deleted and is deleted here too
    "is_deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
TAG_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "name": _hint("text"),
    "ref": _hint("text"),
    "object_sha": _hint("text"),
    "object_type": _hint("text"),
    "commit_sha": _hint("text"),
    "tagger_name": _hint("text"),
    "tagger_email": _hint("text"),
    "tagged_at": _hint("timestamp"),
    "message": _hint("text"),
}
WORKFLOW_RUN_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "id": _hint("bigint"),
    "name": _hint("text"),
    "path": _hint("text"),
    "display_title": _hint("text"),
    "workflow_id": _hint("bigint"),
    "run_number": _hint("bigint"),
    "run_attempt": _hint("bigint"),
    "event": _hint("text"),
    "status": _hint("text"),
    "conclusion": _hint("text"),
    "head_sha": _hint("text"),
    "head_branch": _hint("text"),
    # the repository the head commit lives in: a fork's, for pull requests from forks
    "head_repository__full_name": _hint("text"),
    "environment": _hint("text"),
    "actor__login": _hint("text"),
    "triggering_actor__login": _hint("text"),
    "pull_requests": _hint("json"),
    "created_at": _hint("timestamp"),
    "run_started_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "html_url": _hint("text"),
}
WORKFLOW_JOB_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "id": _hint("bigint"),
    "run_id": _hint("bigint"),
    "run_attempt": _hint("bigint"),
    "workflow_name": _hint("text"),
    "name": _hint("text"),
    "head_sha": _hint("text"),
    "head_branch": _hint("text"),
    "status": _hint("text"),
    "conclusion": _hint("text"),
    "created_at": _hint("timestamp"),
    "started_at": _hint("timestamp"),
    "completed_at": _hint("timestamp"),
    "runner_name": _hint("text"),
    "labels": _hint("json"),
    "html_url": _hint("text"),
}


# What each resource's records must hold (ingestion/quarantine.py). Enumerations are those of GitHub's
# REST reference (docs.github.com/en/rest); the models branch on them.
_COMMIT_TIMES = ("commit.author.date", "commit.committer.date")
_COMMIT = {
    "key": {"sha": str},
    "times": _COMMIT_TIMES,
    "is_graph": True,
    "ordered": _COMMIT_TIMES,
}
_RUN_STATUSES = frozenset(
    {"requested", "in_progress", "completed", "queued", "pending", "waiting", "action_required"}
)
_CONCLUSIONS = frozenset(
    {"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", "stale"}
    | {"startup_failure"}
)
CONTRACTS = {
    contract.resource: contract
    for contract in (
        Contract(
            "repositories",
            key={"id": int, "full_name": str},
            times=("created_at", "updated_at", "pushed_at"),
        ),
        Contract(
            "pull_requests",
            key={"id": int, "number": int},
            times=("created_at", "updated_at", "closed_at", "merged_at"),
            required_times=("updated_at",),
            enums={"state": frozenset({"open", "closed"})},
            version="updated_at",
        ),
        Contract("pull_request_commits", **_COMMIT),
        Contract(
            "pull_request_reviews",
            key={"id": int},
            times=("submitted_at",),
            enums={
                "state": frozenset({"approved", "changes_requested", "commented", "dismissed", "pending"})
            },
        ),
        Contract("pull_request_review_comments", key={"id": int}, times=("created_at", "updated_at")),
        Contract("pull_request_files", key={"filename": str}),
        Contract("commits", **_COMMIT),
        Contract("branches", key={"name": str}),
        Contract(
            "deployments",
            key={"id": int},
            times=("created_at", "updated_at"),
            required_times=("created_at",),
            version="updated_at",
        ),
        Contract(
            "deployment_statuses",
            key={"id": int},
            times=("created_at", "updated_at"),
            required_times=("created_at",),
            enums={
                "state": frozenset(
                    {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
                )
            },
        ),
        Contract("releases", key={"id": int}, times=("created_at", "published_at")),
        Contract("tags", key={"ref": str}),
        Contract(
            "workflow_runs",
            key={"id": int},
            times=("created_at", "run_started_at", "updated_at"),
            required_times=("created_at",),
            enums={"status": _RUN_STATUSES, "conclusion": _CONCLUSIONS},
            version="updated_at",
        ),
        Contract(
            "workflow_jobs",
            key={"id": int},
            times=("created_at", "started_at", "completed_at"),
            enums={"status": _RUN_STATUSES, "conclusion": _CONCLUSIONS},
        ),
    )
}


def _pick(raw: dict, columns: dict[str, Any], **extra: Any) -> dict:
    """The hinted columns of a GitHub object, nested ones (`actor__login`) read from the nested dicts.

    The newer resources keep only what analytics need: step logs, release notes, patches and comment
    bodies are large and (for comments) personal."""
    row: dict[str, Any] = dict(extra)
    for column in columns:
        if column in row:
            continue
        value: Any = raw
        for part in column.split("__"):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            row[column] = value
    return row


def _shape_run(raw: dict, repository: str) -> dict:
    row = _pick(raw, WORKFLOW_RUN_COLUMNS, repository=repository)
    # the pull requests a run belongs to, by number (same-repository pull requests only, GitHub's rule)
    row["pull_requests"] = [pr.get("number") for pr in raw.get("pull_requests") or []]
    return row


def _total_count(page: Any) -> int:
    """`total_count` of a wrapped list answer (workflow runs), read from the page's response."""
    response = getattr(page, "response", None)
    try:
        return int(response.json().get("total_count") or 0) if response is not None else 0
    except ValueError:
        return 0


def _as_list(items: TDataItem) -> list[dict]:
    return items if isinstance(items, list) else [items]


def _shape_commit(raw: dict, repository: str) -> dict:
    """A commit's hinted columns, on both paths (REST's listing, GraphQL's history)."""
    row = _pick(raw, COMMIT_COLUMNS, repository=repository)
    row["parents"] = [{"sha": parent.get("sha")} for parent in raw.get("parents") or []]
    return row


def _shape_pull_request(raw: dict, repository: str) -> dict:
    row = _pick(raw, PULL_REQUEST_COLUMNS, repository=repository)
    row["labels"] = [label.get("name") for label in raw.get("labels") or []]
    return row


# Pull requests and their nested lists, and deployments with their statuses, keep only their hinted columns:
# the GraphQL path (graphql.py) loads exactly the same columns, so staging cannot tell the two apart.
def _shape_pull_request_commit(raw: dict, repository: str, number: int) -> dict:
    row = _pick(raw, PULL_REQUEST_COMMIT_COLUMNS, repository=repository, pull_number=number)
    row["parents"] = [{"sha": parent.get("sha")} for parent in raw.get("parents") or []]
    return row


def _shape_review(raw: dict, repository: str, number: int) -> dict:
    return _pick(raw, REVIEW_COLUMNS, repository=repository, pull_number=number)


def _shape_deployment(raw: dict, repository: str) -> dict:
    return _pick(raw, DEPLOYMENT_COLUMNS, repository=repository)


def _shape_deployment_status(raw: dict, repository: str, deployment_id: int) -> dict:
    return _pick(raw, DEPLOYMENT_STATUS_COLUMNS, repository=repository, deployment_id=deployment_id)


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


class DeployRuns:
    """Which Actions runs a repository's `workflow` deploy rules count as deployments, matched as
    int_deployments_unioned matches them (workflow name, head branch, event, head repository; completion
    aside: a run's jobs are read again when it changes). Nothing downstream reads the jobs of other runs,
    and reading them costs one request per run (most runs are pull request CI). Patterns are matched by
    DuckDB (ingestion/patterns.py), each distinct text once."""

    def __init__(self, rules: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.rules = {name.lower(): list(found) for name, found in rules.items()}
        self.engine = RegexEngine()
        self.found: dict[tuple[str, str], bool] = {}

    def _search(self, pattern: str, texts: set[str]) -> None:
        missing = sorted(text for text in texts if (pattern, text) not in self.found)
        for text, matched in zip(missing, self.engine.search(pattern, missing), strict=True):
            self.found[(pattern, text)] = matched

    def select(self, runs: Sequence[dict]) -> list[bool]:
        """For each run row (as `workflow_runs` loads it), whether some rule of its repository counts it."""
        chosen = []
        for run in runs:
            rules = self.rules.get(str(run.get("repository") or "").lower(), [])
            for rule in rules:
                self._search(rule["pattern"], {run.get("name") or ""})
                if rule.get("branch_pattern"):
                    self._search(rule["branch_pattern"], {run.get("head_branch") or ""})
            chosen.append(any(self._counts(rule, run) for rule in rules))
        return chosen

    def _counts(self, rule: Mapping[str, Any], run: dict) -> bool:
        if not self.found[(rule["pattern"], run.get("name") or "")]:
            return False
        branch = rule.get("branch_pattern")
        if branch and not self.found[(branch, run.get("head_branch") or "")]:
            return False
        if str(run.get("event") or "").lower() not in (rule.get("events") or ()):
            return False
        head = run.get("head_repository__full_name")
        return bool(rule.get("include_forks")) or head is None or head.lower() == run["repository"].lower()

    def close(self) -> None:
        self.engine.close()


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


def _new_since(rows_at_cursor: Sequence[tuple[datetime, Any]]) -> tuple[datetime | None, list[Any]]:
    """The newest timestamp among rows and the ids that share it (to skip exactly those next time)."""
    if not rows_at_cursor:
        return None, []
    newest = max(ts for ts, _ in rows_at_cursor)
    return newest, sorted({key for ts, key in rows_at_cursor if ts == newest})


def _forget_old_runs(known: dict[str, list], lookback_days: float) -> None:
    """Drop remembered runs the runs' listing will not hand over again: those created before both the
    look-back behind the newest remembered run and the oldest run not yet completed."""
    created = {key: parse_ts(entry[0]) for key, entry in known.items()}
    newest = max((at for at in created.values() if at is not None), default=None)
    if newest is None:
        return
    floor = minus_days(newest, lookback_days)
    for key, entry in known.items():
        at = created[key]
        if entry[2] != "completed" and at is not None and at < floor:
            floor = at
    for key in [key for key, at in created.items() if at is not None and at < floor]:
        del known[key]


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
    request_timeout_seconds: float = 60.0,
    deployment_lookback_days: float = DEPLOYMENT_LOOKBACK_DAYS,
    commit_lookback_days: float = COMMIT_LOOKBACK_DAYS,
    release_lookback_days: float = RELEASE_LOOKBACK_DAYS,
    workflow_run_lookback_days: float = WORKFLOW_RUN_LOOKBACK_DAYS,
    pull_request_details: bool = True,
    conditional_requests: bool = True,
    deploy_branches: Mapping[str, Sequence[str]] | None = None,
    deploy_workflows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    api: str = "rest",
    max_concurrency: int = 4,
    usage: ApiUsage | None = None,
) -> Sequence[DltResource]:
    """Load an organisation's delivery history from GitHub REST (or GitHub Enterprise, or an emulator).

    `repositories` narrows the load to those repositories (names within the organisation, or full
    names); by default every repository the token can see in the organisation is loaded. `start_date`
    (ISO date) bounds how far back the first run reaches. `pull_request_details` reads each changed pull
    request's own page for its size (additions, deletions, changed files): one request per pull request.
    `conditional_requests` sends the previous run's ETag with each repository's list requests.
    `deploy_branches` maps a repository's full name (any case) to the branch patterns of its `branch_push`
    deploy rules: the commits of the branches they match are loaded besides the default branch's.
    `deploy_workflows` maps a repository's full name (any case) to its `workflow` deploy rules
    (ingestion.config.workflow_rules): Actions jobs are then read only for the runs those rules count
    (DeployRuns); None reads every run's jobs.
    `api` "graphql" reads pull requests (with their commits, reviews, comments and files) and deployments
    (with their statuses) through GitHub's GraphQL API, many to a request, `max_concurrency` repositories
    at a time; "rest" reads them one REST request per list. `usage` (ingestion/http.py) counts the
    requests and GraphQL points spent, and paces them to the rate limit.
    """
    if api not in ("rest", "graphql"):
        raise ValueError(f"github api must be 'rest' or 'graphql', not {api!r}")
    client = make_client(
        base_url,
        token,
        RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds, request_timeout_seconds),
        usage,
    )
    gql = graphql.GraphQLClient(client, graphql.graphql_url(base_url), usage) if api == "graphql" else None
    # nested lists the GraphQL path read with their parent, by (resource, repository, parent key), until
    # the resource's transformer takes them; None marks a list too long for one page (read via REST)
    nested: dict[tuple[str, str, int], list[dict] | None] = {}

    def take_nested(resource: str, repository: str, key: int) -> list[dict] | None:
        return nested.pop((resource, repository, key), None)

    start = start_of(start_date)
    availability = Availability()
    quarantine = Quarantine("github")

    def screen(resource: str, records: Any, scope: str, listing: str | None = None) -> Iterator[Any]:
        return quarantine.screen(CONTRACTS[resource], records, scope, listing)

    patterns_by_repository = {name.lower(): list(p) for name, p in (deploy_branches or {}).items()}
    # each repository's branch listing of this run, read once for the branches and commits resources:
    # (current branches by name, or None when unchanged or unavailable; the branches known before)
    listed_branches: dict[str, tuple[dict[str, dict] | None, dict[str, Any]]] = {}

    def listing(
        resource: str, full_name: str, path: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[list[dict]]:
        """A repository's list endpoint, asked conditionally when that is switched on."""
        if not conditional_requests:
            return pages(client, path, params, **kwargs)
        etags = dlt.current.resource_state(resource).setdefault("etags", {})
        return conditional_pages(client, path, params, etags, full_name, **kwargs)

    def branch_listing(full_name: str) -> tuple[dict[str, dict] | None, dict[str, Any]]:
        """The repository's branches if the listing changed since the last run (else None), and the
        branches known from the last run (name to tip). Read at most once per run."""
        if full_name in listed_branches:
            return listed_branches[full_name]
        known = dlt.current.resource_state("branches").setdefault("known", {})
        previous = dict(known.get(full_name) or {})
        current: dict[str, dict] | None = None
        listed = listing("branches", full_name, f"/repos/{full_name}/branches")
        for page in availability.guard("branches", full_name, listed):
            current = current if current is not None else {}
            current.update((branch.get("name"), branch) for branch in page)
        if current is not None:
            known[full_name] = {name: (b.get("commit") or {}).get("sha") for name, b in current.items()}
        listed_branches[full_name] = (current, previous)
        return current, previous

    def branch_names(full_name: str) -> list[str]:
        """The repository's branch names now: as listed, or as known when the listing did not change."""
        current, previous = branch_listing(full_name)
        if current is None and availability.lacks("branches", full_name):
            return []
        return sorted(current if current is not None else previous)

    def _detail(full_name: str, pr: dict) -> dict:
        """The pull request's own page (a superset of its list entry, with its size), when available."""
        what = "pull request detail"
        if not pull_request_details or availability.lacks(what, full_name):
            return pr
        number = pr["number"]

        def fetch() -> Iterator[dict]:
            yield client.get(f"/repos/{full_name}/pulls/{number}").json()

        return next(availability.guard(what, full_name, fetch()), pr)

    @dlt.resource(
        name="repositories", primary_key="id", write_disposition="merge", columns=REPOSITORY_COLUMNS
    )
    def repositories_resource() -> Iterator[list[dict]]:
        if repositories:
            # Asked-for repositories are read one by one: works across owners and for tokens that
            # may not list the organisation. They are handed on together, so the GraphQL reads of the
            # transformers run `max_concurrency` repositories at a time.
            found = []
            for name in repositories:
                full_name = name if "/" in name else f"{organization}/{name}"
                page = yield from screen("repositories", [client.get(f"/repos/{full_name}").json()], name)
                found += [trim(repo) for repo in page]
            if found:
                yield found
            return
        for listed in pages(client, f"/orgs/{organization}/repos", {"type": "all", "sort": "full_name"}):
            page = yield from screen("repositories", listed, organization)
            if page:
                yield [trim(repo) for repo in page]

    def _pull_requests_graphql(repos: list[dict], state: dict[str, Any]) -> Iterator[Any]:
        """The GraphQL path of `pull_requests`: repositories read `max_concurrency` at a time, loaded in
        their listed order; each pull request's nested lists wait in `nested` for their transformers."""
        assert gql is not None
        cursors = {}
        incremental = {
            repo["full_name"] for repo in repos if (state.get(repo["full_name"]) or {}).get("updated_at")
        }
        for repo in repos:
            saved = state.get(repo["full_name"]) or {}
            cursors[repo["full_name"]] = (
                parse_ts(saved.get("updated_at")) or start,
                set(saved.get("ids") or []),
            )

        def behind(full_name: str, pr: dict) -> bool:
            cursor, seen_at_cursor = cursors[full_name]
            updated = parse_ts(pr["updated_at"] if "updated_at" in pr else pr["updatedAt"])
            key = pr["id"] if "id" in pr else pr["databaseId"]
            return cursor is not None and (updated < cursor or (updated == cursor and key in seen_at_cursor))

        def fetch(full_name: str) -> list[list[dict]]:
            return graphql.read_pull_requests(
                gql, full_name, lambda node: behind(full_name, node), full_name in incremental
            )

        names = [repo["full_name"] for repo in repos]
        for full_name, pages_read in graphql.in_order(names, fetch, max_concurrency):
            cursor, seen_at_cursor = cursors[full_name]
            fresh: list[tuple[datetime, Any]] = []
            for nodes in pages_read:
                kept = [node for node in nodes if not behind(full_name, node)]
                lists = {node["number"]: graphql.children(node) for node in kept}
                page = yield from screen("pull_requests", [graphql.pull_request(n) for n in kept], full_name)
                for pr in page:
                    fresh.append((parse_ts(pr["updated_at"]), pr["id"]))
                    for resource, listed in lists[pr["number"]].items():
                        nested[(resource, full_name, pr["number"])] = listed
                if page:
                    yield [_shape_pull_request(pr, full_name) for pr in page]
            newest, ids = _new_since(fresh)
            if newest is not None:
                if cursor is not None and newest == cursor:
                    ids = sorted(seen_at_cursor | set(ids))
                state[full_name] = {"updated_at": iso_seconds(newest), "ids": ids}

    @dlt.transformer(
        data_from=repositories_resource,
        name="pull_requests",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(PULL_REQUEST_COLUMNS, "updated_at"),
    )
    def pull_requests(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest-updated first; stop at the first page that reaches behind the repository's cursor."""
        state = dlt.current.resource_state("pull_requests").setdefault("cursors", {})
        if gql is not None:
            yield from _pull_requests_graphql(_as_list(repos), state)
            return
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            saved = state.get(full_name) or {}
            cursor = parse_ts(saved.get("updated_at")) or start
            seen_at_cursor = set(saved.get("ids") or [])
            fresh: list[tuple[datetime, Any]] = []
            params = {"state": "all", "sort": "updated", "direction": "desc"}
            for listed in listing("pull_requests", full_name, f"/repos/{full_name}/pulls", params):
                page = yield from screen("pull_requests", listed, full_name)
                rows, behind = [], 0
                for pr in page:
                    updated = parse_ts(pr["updated_at"])
                    if cursor is not None and (
                        updated < cursor or (updated == cursor and pr["id"] in seen_at_cursor)
                    ):
                        behind += 1
                        continue
                    fresh.append((updated, pr["id"]))
                    rows.append(_shape_pull_request(_detail(full_name, pr), full_name))
                if rows:
                    yield rows
                # a listing that shifts while we page can carry a record across a page boundary: stop
                # only after a page lying wholly behind the cursor
                if behind and behind == len(page):
                    break
            newest, ids = _new_since(fresh)
            if newest is not None:
                if cursor is not None and newest == cursor:
                    ids = sorted(seen_at_cursor | set(ids))
                state[full_name] = {"updated_at": iso_seconds(newest), "ids": ids}

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
            read = take_nested("pull_request_commits", repository, number)
            listing = (
                [read] if read is not None else pages(client, f"/repos/{repository}/pulls/{number}/commits")
            )
            for listed in listing:
                page = yield from screen("pull_request_commits", listed, repository, f"{repository}#{number}")
                yield [_shape_pull_request_commit(c, repository, number) for c in page]

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
            read = take_nested("pull_request_reviews", repository, number)
            listing = (
                [read] if read is not None else pages(client, f"/repos/{repository}/pulls/{number}/reviews")
            )
            for listed in listing:
                page = yield from screen("pull_request_reviews", listed, repository, f"{repository}#{number}")
                yield [_shape_review(r, repository, number) for r in page]

    @dlt.transformer(
        data_from=repositories_resource,
        name="commits",
        primary_key=("repository", "sha"),
        write_disposition="merge",
        columns=COMMIT_COLUMNS,
    )
    def commits(repos: TDataItem) -> Iterator[list[dict]]:
        """Default-branch commits since the cursor (committer date) minus a short look-back, then those of
        the branches the repository's `branch_push` rules match, each branch with its own cursor."""
        state = dlt.current.resource_state("commits")
        cursors = state.setdefault("cursors", {})
        branch_cursors = state.setdefault("branch_cursors", {})
        repos = _as_list(repos)
        # a repository's first load reads its default branch's history through GraphQL, a few
        # repositories at a time; later loads list what is new through REST (an unchanged listing
        # answers 304, which costs nothing)
        first_loads = [
            repo["full_name"] for repo in repos if gql is not None and not cursors.get(repo["full_name"])
        ]
        histories = iter(
            graphql.in_order(
                first_loads, lambda name: graphql.read_history(gql, name, None, start), max_concurrency
            )
        )
        for repo in repos:
            full_name = repo["full_name"]
            if full_name in first_loads:
                name, read = next(histories)
                assert name == full_name
                yield from _commits_from_history(full_name, read, cursors)
            else:
                yield from _commits_since(full_name, None, cursors, full_name)
            patterns = patterns_by_repository.get(full_name.lower())
            if not patterns:
                continue
            names = branch_names(full_name)
            wanted = branches_to_load(names, repo.get("default_branch"), patterns)
            saved = branch_cursors.setdefault(full_name, {})
            for gone in set(saved) - set(names):
                del saved[gone]
            for branch in wanted:
                yield from _commits_since(full_name, branch, saved, branch)

    def _commits_from_history(
        full_name: str, read: list[list[dict]], cursors: dict[str, Any]
    ) -> Iterator[list[dict]]:
        """GraphQL history pages as the REST listing's commits; the cursor moves as REST's does. A commit
        with more parents than GraphQL's page gave is read through REST."""
        newest = None
        for listed in read:
            listed = [
                client.get(f"/repos/{full_name}/commits/{raw['sha']}").json()
                if raw.get("parents_cut")
                else raw
                for raw in listed
            ]
            page = yield from screen("commits", listed, full_name, full_name)
            for raw in page:
                committed = parse_ts(((raw.get("commit") or {}).get("committer") or {}).get("date"))
                if committed and (newest is None or committed > newest):
                    newest = committed
            yield [_shape_commit(c, full_name) for c in page]
        if newest is not None:
            cursors[full_name] = iso_seconds(newest)

    def _commits_since(
        full_name: str, branch: str | None, cursors: dict[str, Any], key: str
    ) -> Iterator[list[dict]]:
        """Commits reachable from `branch` (None: the default branch), committed since `cursors[key]`
        minus the look-back (or since the start); the cursor moves to the newest committer date read."""
        cursor = parse_ts(cursors.get(key))
        since = minus_days(cursor, commit_lookback_days) if cursor else start
        if cursor and start and since < start:
            since = start
        params = {"since": iso_seconds(since)} if since else {}
        if branch is not None:
            params["sha"] = branch
        newest = cursor
        owner = full_name if branch is None else f"{full_name}@{branch}"  # one ETag per listing
        try:
            for listed in listing("commits", owner, f"/repos/{full_name}/commits", params):
                page = yield from screen("commits", listed, full_name, owner)
                for raw in page:
                    committed = parse_ts(((raw.get("commit") or {}).get("committer") or {}).get("date"))
                    if committed and (newest is None or committed > newest):
                        newest = committed
                yield [_shape_commit(c, full_name) for c in page]
        except ApiError as exc:
            # 409: the repository is empty; 404/422: the branch went away since it was listed
            if exc.status != 409 and (branch is None or exc.status not in (404, 422)):
                raise
        if newest is not None:
            cursors[key] = iso_seconds(newest)

    @dlt.transformer(
        data_from=repositories_resource,
        name="branches",
        primary_key=("repository", "name"),
        write_disposition="merge",
        columns=BRANCH_COLUMNS,
    )
    def branches(repos: TDataItem) -> Iterator[list[dict]]:
        """Each branch with its tip. An unchanged listing (304) loads nothing; a changed one loads every
        branch, and deletes the branches gone since the last run."""
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            current, previous = branch_listing(full_name)
            if current is not None:
                named = yield from screen("branches", list(current.values()), full_name)
                current = {branch["name"]: branch for branch in named}
                rows = branch_rows(full_name, current, previous)
                if rows:
                    yield rows

    def _deployment_pages(full_name: str, read: list[list[dict]]) -> Iterator[list[dict]]:
        """GraphQL deployment pages as REST objects; their statuses wait in `nested`. A deployment whose
        ref is gone (a deleted branch: GraphQL then has no ref) is read again through REST for its name."""
        for nodes in read:
            page = []
            for node in nodes:
                raw = graphql.deployment(node)
                if raw["ref"] is None:
                    raw = client.get(f"/repos/{full_name}/deployments/{raw['id']}").json()
                nested[("deployment_statuses", full_name, raw["id"])] = graphql.statuses(node)
                page.append(raw)
            yield page

    @dlt.transformer(
        data_from=repositories_resource,
        name="deployments",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(DEPLOYMENT_COLUMNS, "updated_at"),
    )
    def deployments(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest first. Deployments created within the look-back before the cursor are read again,
        because their statuses (success, failure, inactive) arrive after they were created."""
        state = dlt.current.resource_state("deployments").setdefault("cursors", {})
        repos = _as_list(repos)
        windows = {}
        for repo in repos:
            cursor = parse_ts(state.get(repo["full_name"]))
            windows[repo["full_name"]] = (
                cursor,
                minus_days(cursor, deployment_lookback_days) if cursor else start,
            )
        if gql is not None:
            names = list(windows)

            def fetch(full_name: str) -> list[list[dict]]:
                return graphql.read_deployments(gql, full_name, windows[full_name][1])

            listings: Iterator[tuple[str, Any]] = (
                (name, _deployment_pages(name, read))
                for name, read in graphql.in_order(names, fetch, max_concurrency)
            )
        else:
            listings = (
                (name, listing("deployments", name, f"/repos/{name}/deployments")) for name in windows
            )
        for full_name, listed_pages in listings:
            cursor, floor = windows[full_name]
            newest = cursor
            for listed in listed_pages:
                page = yield from screen("deployments", listed, full_name)
                rows = []
                for raw in page:
                    created, updated = parse_ts(raw["created_at"]), parse_ts(raw.get("updated_at"))
                    updated = updated or created
                    if newest is None or updated > newest:
                        newest = updated
                    recent = floor is None or created >= floor
                    changed = cursor is not None and updated > cursor
                    if recent or changed:
                        rows.append(_shape_deployment(raw, full_name))
                if rows:
                    yield rows
                # newest first: once a page lies wholly behind the floor, every later page does too (a
                # page only partly behind may have lost a record across its boundary to the next one)
                if floor is not None and page and all(parse_ts(raw["created_at"]) < floor for raw in page):
                    break
            if newest is not None:
                state[full_name] = iso_seconds(newest)

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
            path = f"/repos/{repository}/deployments/{deployment_id}/statuses"
            read = take_nested("deployment_statuses", repository, deployment_id)
            for listed in [read] if read is not None else pages(client, path):
                page = yield from screen("deployment_statuses", listed, repository, f"{path}")
                yield [_shape_deployment_status(status, repository, deployment_id) for status in page]

    @dlt.transformer(
        data_from=pull_requests,
        name="pull_request_review_comments",
        primary_key="id",
        write_disposition="merge",
        columns=REVIEW_COMMENT_COLUMNS,
    )
    def pull_request_review_comments(prs: TDataItem) -> Iterator[list[dict]]:
        """Comments on the diff. With reviews they decide pickup: a reviewer's first comment may come
        before (or instead of) a submitted review."""
        for pr in _as_list(prs):
            repository, number = pr["repository"], pr["number"]
            read = take_nested("pull_request_review_comments", repository, number)
            listed = (
                iter([read])
                if read is not None
                else pages(client, f"/repos/{repository}/pulls/{number}/comments")
            )
            for raw_page in availability.guard("pull request review comments", repository, listed):
                page = yield from screen(
                    "pull_request_review_comments", raw_page, repository, f"{repository}#{number}"
                )
                yield [
                    _pick(c, REVIEW_COMMENT_COLUMNS, repository=repository, pull_number=number) for c in page
                ]

    @dlt.transformer(
        data_from=pull_requests,
        name="pull_request_files",
        primary_key=("repository", "pull_number", "filename"),
        write_disposition="merge",
        columns=PULL_REQUEST_FILE_COLUMNS,
    )
    def pull_request_files(prs: TDataItem) -> Iterator[list[dict]]:
        """The paths each pull request touches (GitHub lists at most 3,000), for mapping monorepo paths
        to services. Patches are left out."""
        for pr in _as_list(prs):
            repository, number = pr["repository"], pr["number"]
            read = take_nested("pull_request_files", repository, number)
            listed = (
                iter([read])
                if read is not None
                else pages(client, f"/repos/{repository}/pulls/{number}/files")
            )
            for raw_page in availability.guard("pull request files", repository, listed):
                page = yield from screen("pull_request_files", raw_page, repository, f"{repository}#{number}")
                yield [
                    _pick(f, PULL_REQUEST_FILE_COLUMNS, repository=repository, pull_number=number)
                    for f in page
                ]

    @dlt.transformer(
        data_from=repositories_resource,
        name="releases",
        primary_key="id",
        write_disposition="merge",
        columns=RELEASE_COLUMNS,
    )
    def releases(repos: TDataItem) -> Iterator[list[dict]]:
        """Newest first; paging stops after the first page reaching behind the cursor's look-back."""
        state = dlt.current.resource_state("releases").setdefault("cursors", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            cursor = parse_ts(state.get(full_name))
            floor = minus_days(cursor, release_lookback_days) if cursor else start
            newest = cursor
            listed = listing("releases", full_name, f"/repos/{full_name}/releases")
            for raw_page in availability.guard("releases", full_name, listed):
                page = yield from screen("releases", raw_page, full_name)
                rows = []
                for raw in page:
                    created = parse_ts(raw.get("created_at"))
                    if created and (newest is None or created > newest):
                        newest = created
                    # drafts have no publication yet; a draft published later moves into the window
                    stamp = parse_ts(raw.get("published_at")) or created
                    if floor is None or stamp is None or stamp >= floor:
                        rows.append(_pick(raw, RELEASE_COLUMNS, repository=full_name))
                if rows:
                    yield rows
                if floor is not None and page and not rows:  # a page wholly behind the window
                    break
            if newest is not None:
                state[full_name] = iso_seconds(newest)

    @dlt.transformer(
        data_from=repositories_resource,
        name="tags",
        primary_key=("repository", "name"),
        write_disposition="merge",
        columns=TAG_COLUMNS,
    )
    def tags(repos: TDataItem) -> Iterator[list[dict]]:
        """Tag refs, peeled to the commit they mark. Annotated tags are read once each for their tagger
        date (the moment the release was cut); tags whose target did not move are not read again."""
        state = dlt.current.resource_state("tags").setdefault("known", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            known: dict[str, str] = state.setdefault(full_name, {})
            listed = listing("tags", full_name, f"/repos/{full_name}/git/matching-refs/tags")
            for raw_page in availability.guard("tags", full_name, listed):
                page = yield from screen("tags", raw_page, full_name)
                rows = []
                for ref in page:
                    name = ref["ref"].removeprefix("refs/tags/")
                    target = ref.get("object") or {}
                    if known.get(name) == target.get("sha"):
                        continue
                    rows.append(_peel_tag(full_name, name, ref["ref"], target))
                    known[name] = target.get("sha")
                if rows:
                    yield rows

    def _peel_tag(full_name: str, name: str, ref: str, target: dict) -> dict:
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
                tag = client.get(f"/repos/{full_name}/git/tags/{obj['sha']}").json()
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

    def _run_floor(cursor: datetime | None, unfinished: datetime | None) -> datetime | None:
        """The oldest creation time worth reading again: the look-back before the newest run, or the
        oldest run still unfinished at the last read when that is older; `start` before any run."""
        floor = minus_days(cursor, workflow_run_lookback_days) if cursor else start
        if unfinished is not None and (floor is None or unfinished < floor):
            floor = unfinished
        return floor

    def _asked_bound(full_name: str, saved: dict, floor: datetime | None) -> tuple[datetime | None, bool]:
        """The `created>=` bound to ask, and whether it is the one asked last time: that one is kept while
        we hold its answer's ETag and it still covers the window (so an unchanged listing answers 304);
        else the window's floor is asked.

        A bound recomputed on every refresh would change the query whenever the cursor moved (or, on
        the first re-poll, from the start date to the look-back), and a changed query cannot be
        answered 304."""
        etags = dlt.current.resource_state("workflow_runs").get("etags") or {}
        held = bool((etags.get(full_name) or {}).get("etag"))
        if not (conditional_requests and held and "since" in saved) or floor is None:
            return floor, False
        previous = parse_ts(saved["since"])
        if previous is None or previous <= floor:
            return previous, True
        return floor, False

    def _lags(asked: datetime | None, floor: datetime | None) -> bool:
        """Whether a kept bound reaches so far behind the window that the query should be narrowed."""
        if floor is None:
            return False
        return asked is None or floor - asked > timedelta(days=WORKFLOW_RUN_REQUERY_DAYS)

    @dlt.transformer(
        data_from=repositories_resource,
        name="workflow_runs",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(WORKFLOW_RUN_COLUMNS, "updated_at"),
    )
    def workflow_runs(repos: TDataItem) -> Iterator[list[dict]]:
        """Actions runs created since the cursor's look-back, and since the oldest run still unfinished
        at the last read, so every run is read again until it has completed.

        The listing keeps its last query while nothing changes: an idle repository costs one 304. When
        the listing did change, only runs inside the window are loaded, and the kept bound moves up to
        the window once it lags by more than a week (one full answer, then 304s again)."""
        state = dlt.current.resource_state("workflow_runs").setdefault("cursors", {})
        for repo in _as_list(repos):
            full_name = repo["full_name"]
            saved = state.get(full_name) or {}
            cursor, unfinished = parse_ts(saved.get("created_at")), parse_ts(saved.get("unfinished"))
            floor = _run_floor(cursor, unfinished)
            asked, repeated = _asked_bound(full_name, saved, floor)
            seen: list[dict] = []
            answered: list[bool] = []
            for rows in _runs_since(full_name, asked, floor, answered):
                if not isinstance(rows, list):  # the quarantine rows of a page
                    yield rows
                    continue
                seen.extend({"created_at": r.get("created_at"), "status": r.get("status")} for r in rows)
                yield rows
            if not answered:
                continue  # not modified or not available: the saved state stands
            created = [parse_ts(r["created_at"]) for r in seen if r["created_at"]]
            still_open = [parse_ts(r["created_at"]) for r in seen if r["status"] != "completed"]
            newest = max([*created, *([cursor] if cursor else [])], default=None)
            if seen:
                unfinished = min(still_open) if still_open else None
            next_floor = _run_floor(newest, unfinished)
            # a repeated query that answered has changed: narrowing it then costs one full answer more
            kept = next_floor if repeated and _lags(asked, next_floor) else asked
            state[full_name] = {
                "created_at": iso_seconds(newest) if newest else None,
                "unfinished": iso_seconds(unfinished) if unfinished else None,
                "since": iso_seconds(kept) if kept else None,
            }

    def _runs_since(
        full_name: str, asked: datetime | None, floor: datetime | None, answered: list[bool]
    ) -> Iterator[list[dict]]:
        """The runs created at or after `floor`, newest first, from a listing filtered from `asked`
        (at or before `floor`). Paging stops at the first page reaching behind `floor`; `answered` gets
        an entry when the listing answered with content (not 304, not unavailable)."""
        path = f"/repos/{full_name}/actions/runs"
        params = {"created": f">={iso_seconds(asked)}"} if asked else {}
        listed = listing("workflow_runs", full_name, path, params, data_selector="workflow_runs")
        total, read, oldest = 0, 0, None
        ids: set[Any] = set()
        for index, raw_page in enumerate(availability.guard("workflow runs", full_name, listed)):
            answered.append(True)
            if index == 0:
                total = _total_count(raw_page)
            read += len(raw_page)
            page = yield from screen("workflow_runs", raw_page, full_name)
            rows, reached = [], False
            for raw in page:
                created = parse_ts(raw.get("created_at"))
                if created is not None and (oldest is None or created < oldest):
                    oldest = created
                if floor is not None and created is not None and created < floor:
                    reached = True
                    continue
                ids.add(raw.get("id"))
                rows.append(_shape_run(raw, full_name))
            if rows:
                yield rows
            if reached and not rows:  # newest first: past a page wholly behind the window, every page is
                return
        capped = total > read or read >= WORKFLOW_RUN_QUERY_LIMIT
        if asked is not None and floor is not None and oldest is not None and capped:
            # GitHub stops a filtered listing at 1,000 runs: read the rest of the window in smaller ranges
            for rows in _runs_between(full_name, floor, oldest):
                if not isinstance(rows, list):  # the quarantine rows of a page
                    yield rows
                    continue
                fresh = [row for row in rows if row["id"] not in ids]
                ids.update(row["id"] for row in fresh)
                if fresh:
                    yield fresh

    def _runs_between(full_name: str, low: datetime, high: datetime) -> Iterator[list[dict]]:
        path = f"/repos/{full_name}/actions/runs"
        params = {"created": f"{iso_seconds(low)}..{iso_seconds(high)}"}
        for index, raw_page in enumerate(pages(client, path, params, data_selector="workflow_runs")):
            too_many = _total_count(raw_page) > WORKFLOW_RUN_QUERY_LIMIT
            if index == 0 and too_many and high - low > timedelta(hours=1):
                middle = low + (high - low) / 2
                yield from _runs_between(full_name, low, middle)
                yield from _runs_between(full_name, middle + timedelta(seconds=1), high)
                return
            page = yield from screen("workflow_runs", raw_page, full_name, f"{full_name}:{iso_seconds(low)}")
            yield [_shape_run(raw, full_name) for raw in page]

    @dlt.transformer(
        data_from=workflow_runs,
        name="workflow_jobs",
        primary_key="id",
        write_disposition="merge",
        columns=WORKFLOW_JOB_COLUMNS,
    )
    def workflow_jobs(runs: TDataItem) -> Iterator[list[dict]]:
        """The jobs of each run that is new or changed since its jobs were last read (latest attempt),
        with their own timings.

        The runs' look-back hands over unchanged runs again; asking each for its jobs would cost one
        request per run and refresh. So the runs whose jobs were read are remembered per repository, by
        creation, last update, status and attempt, and forgotten once they fall behind the look-back. With
        `deploy_workflows` given, only the runs its rules count are asked at all."""
        remembered = dlt.current.resource_state("workflow_jobs").setdefault("runs", {})
        touched: set[str] = set()
        runs = _as_list(runs)
        if deploy_runs is not None:
            runs = list(compress(runs, deploy_runs.select(runs)))
        for run in runs:
            repository, run_id = run["repository"], run["id"]
            known: dict[str, list] = remembered.setdefault(repository, {})
            mark = [run.get("updated_at"), run.get("status"), run.get("run_attempt")]
            if (known.get(str(run_id)) or [None])[1:] == mark:
                continue
            listed = pages(client, f"/repos/{repository}/actions/runs/{run_id}/jobs", data_selector="jobs")
            for raw_page in availability.guard("workflow jobs", repository, listed):
                page = yield from screen("workflow_jobs", raw_page, repository, f"{repository}:{run_id}")
                yield [_pick(job, WORKFLOW_JOB_COLUMNS, repository=repository) for job in page]
            if not availability.lacks("workflow jobs", repository):
                known[str(run_id)] = [run.get("created_at"), *mark]
                touched.add(repository)
        for repository in touched:
            _forget_old_runs(remembered[repository], workflow_run_lookback_days)

    deploy_runs = DeployRuns(deploy_workflows) if deploy_workflows is not None else None
    resources = (
        repositories_resource,
        pull_requests,
        pull_request_commits,
        pull_request_reviews,
        pull_request_review_comments,
        pull_request_files,
        commits,
        branches,
        deployments,
        deployment_statuses,
        releases,
        tags,
        workflow_runs,
        workflow_jobs,
        quarantine_resource(),
    )
    prepare(resources)
    return resources
