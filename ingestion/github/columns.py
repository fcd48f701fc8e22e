"""The GitHub source's raw tables: each resource's column hints, the contract its records must hold
(ingestion/quarantine.py), and the shaping of GitHub objects (REST's, or GraphQL's as graphql.py renders
them) into those columns."""

from __future__ import annotations

from typing import Any

from ingestion.arrow import quiet_json_hints
from ingestion.quarantine import Contract


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
# The files a direct push changed (its commit's detail), for mapping monorepo paths to services.
COMMIT_FILES = "commit_files"
COMMIT_FILE_COLUMNS: dict[str, Any] = {
    "repository": _hint("text"),
    "sha": _hint("text"),
    "filename": _hint("text"),
    "previous_filename": _hint("text"),
    "status": _hint("text"),
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
    # the global id of the run's check suite: its jobs are read through GraphQL by it (graphql.py)
    "check_suite_node_id": _hint("text"),
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
        Contract("commit_files", key={"filename": str}),
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


def pick(raw: dict, columns: dict[str, Any], **extra: Any) -> dict:
    """The hinted columns of a GitHub object, nested ones (`actor__login`) read from the nested dicts.

    The newer resources keep only what analytics need: step logs, release notes, patches and comment
    bodies are large and (for comments) personal."""
    row: dict[str, Any] = dict(extra)
    for column, first, rest in _paths(columns):
        if column in row:
            continue
        value: Any = raw.get(first)
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            row[column] = value
    return row


# each column set's names split into their nested parts once (pick runs for every record)
_PATHS: dict[int, tuple[dict[str, Any], list[tuple[str, str, tuple[str, ...]]]]] = {}


def _paths(columns: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    known = _PATHS.get(id(columns))
    if known is not None and known[0] is columns and len(known[1]) == len(columns):
        return known[1]
    paths = []
    for column in columns:
        first, *rest = column.split("__")
        paths.append((column, first, tuple(rest)))
    _PATHS[id(columns)] = (columns, paths)
    return paths


def shape_run(raw: dict, repository: str) -> dict:
    row = pick(raw, WORKFLOW_RUN_COLUMNS, repository=repository)
    # the pull requests a run belongs to, by number (same-repository pull requests only, GitHub's rule)
    row["pull_requests"] = [pr.get("number") for pr in raw.get("pull_requests") or []]
    return row


def shape_commit(raw: dict, repository: str) -> dict:
    """A commit's hinted columns, on both paths (REST's listing, GraphQL's history)."""
    row = pick(raw, COMMIT_COLUMNS, repository=repository)
    row["parents"] = [{"sha": parent.get("sha")} for parent in raw.get("parents") or []]
    return row


def shape_pull_request(raw: dict, repository: str) -> dict:
    row = pick(raw, PULL_REQUEST_COLUMNS, repository=repository)
    row["labels"] = [label.get("name") for label in raw.get("labels") or []]
    return row


# Pull requests and their nested lists, and deployments with their statuses, keep only their hinted columns:
# the GraphQL path (graphql.py) loads exactly the same columns, so staging cannot tell the two apart.
def shape_pull_request_commit(raw: dict, repository: str, number: int) -> dict:
    row = pick(raw, PULL_REQUEST_COMMIT_COLUMNS, repository=repository, pull_number=number)
    row["parents"] = [{"sha": parent.get("sha")} for parent in raw.get("parents") or []]
    return row


def shape_review(raw: dict, repository: str, number: int) -> dict:
    return pick(raw, REVIEW_COLUMNS, repository=repository, pull_number=number)


def shape_deployment(raw: dict, repository: str) -> dict:
    return pick(raw, DEPLOYMENT_COLUMNS, repository=repository)


def shape_deployment_status(raw: dict, repository: str, deployment_id: int) -> dict:
    return pick(raw, DEPLOYMENT_STATUS_COLUMNS, repository=repository, deployment_id=deployment_id)


# the resources whose pages go through arrow_page (ingestion/arrow.py)
ARROW_RESOURCES = frozenset(
    {
        "commits",
        "pull_requests",
        "pull_request_commits",
        "pull_request_reviews",
        "pull_request_review_comments",
        "pull_request_files",
        "deployments",
        "deployment_statuses",
        "workflow_jobs",
    }
)

quiet_json_hints(ARROW_RESOURCES)
