"""Local git repositories as a source: commits, tags, branches and pull request heads, no API, no token;
and, in the repositories where a service owns paths, the files each commit changed.

The quickest way to see one's own numbers is a clone on disk. Everything is read with plain `git`: one
streaming `git log --all` for commits and one `git for-each-ref` for tags, branches and `refs/pull/N/head`.
Rows go to dlt as Arrow batches (a hundred thousand commits load in seconds, memory stays bounded).

Incremental: each repository keeps its ref tips in the resource state. A refresh whose refs did not move
reads nothing but `git for-each-ref`; otherwise `git log` skips everything reachable from the old tips.
Tables merge on their keys; tags and branches deleted upstream are deleted here too.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource, DltSource

from ingestion.cursors import keyed_state
from ingestion.quarantine import Contract, Quarantine, prepare, quarantine_resource

from .helpers import (
    DateStats,
    GitError,
    GitRepository,
    parse_raw_date,
    pr_number_of,
    pull_number_of_ref,
    repository_name,
)
from .settings import BATCH_ROWS

__all__ = ["GitError", "git_local_source", "repository_name"]

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")
COMMIT_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("sha", pa.string(), nullable=False),
        ("parent_shas", pa.list_(pa.string())),
        ("author_name", pa.string()),
        ("author_email", pa.string()),
        ("authored_at", TS),
        ("author_utc_offset", pa.string()),
        ("committer_name", pa.string()),
        ("committer_email", pa.string()),
        ("committed_at", TS),
        ("committer_utc_offset", pa.string()),
        ("subject", pa.string()),
        ("body", pa.string()),
        ("pr_number", pa.int64()),
    ]
)
TAG_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("tag", pa.string(), nullable=False),
        ("sha", pa.string()),
        ("tag_object_sha", pa.string()),
        ("is_annotated", pa.bool_()),
        ("tagged_at", TS),
        ("tagger_utc_offset", pa.string()),
        ("is_deleted", pa.bool_()),
    ]
)
BRANCH_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("branch", pa.string(), nullable=False),
        ("sha", pa.string()),
        ("is_remote", pa.bool_()),
        ("committed_at", TS),
        ("is_deleted", pa.bool_()),
    ]
)
PULL_HEAD_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("pr_number", pa.int64(), nullable=False),
        ("head_sha", pa.string()),
        ("is_deleted", pa.bool_()),
    ]
)
COMMIT_FILE_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("sha", pa.string(), nullable=False),
        pa.field("file_path", pa.string(), nullable=False),
        ("previous_file_path", pa.string()),
        ("change_status", pa.string()),
    ]
)
HARD_DELETE = {"is_deleted": {"data_type": "bool", "hard_delete": True}}

# What each table's rows must hold (ingestion/quarantine.py). Dates are instants already (git stores
# seconds since the epoch); their offsets are checked as git wrote them.
CONTRACTS = {
    "commits": Contract(
        "commits",
        key={"sha": str},
        times=("authored_at", "committed_at"),
        is_graph=True,
        ordered=("authored_at", "committed_at"),
        offset_fields={"authored_at": "author_utc_offset", "committed_at": "committer_utc_offset"},
    ),
    "tags": Contract(
        "tags", key={"tag": str}, times=("tagged_at",), offset_fields={"tagged_at": "tagger_utc_offset"}
    ),
    "branches": Contract("branches", key={"branch": str}, times=("committed_at",)),
    "pull_request_heads": Contract("pull_request_heads", key={"pr_number": int}),
    "commit_files": Contract("commit_files", key={"sha": str, "file_path": str}),
}


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _repo_state(repository: str) -> dict[str, Any]:
    """The running resource's state for one repository (its ref tips, known refs)."""
    return keyed_state("repositories").setdefault(repository, {})


def _commit_row(fields: list[str], repository: str, stats: DateStats) -> dict | None:
    if len(fields) < 9:
        return None
    (
        sha,
        parents,
        author_name,
        author_email,
        author_date,
        committer_name,
        committer_email,
        commit_date,
        msg,
    ) = fields
    authored_at, author_offset = parse_raw_date(author_date, stats)
    committed_at, committer_offset = parse_raw_date(commit_date, stats)
    subject, _, body = msg.strip("\n").partition("\n")
    return {
        "repository": repository,
        "sha": sha.strip("\n"),
        "parent_shas": parents.split(),
        "author_name": author_name,
        "author_email": author_email,
        "authored_at": authored_at,
        "author_utc_offset": author_offset,
        "committer_name": committer_name,
        "committer_email": committer_email,
        "committed_at": committed_at,
        "committer_utc_offset": committer_offset,
        "subject": subject,
        "body": body.strip("\n") or None,
        "pr_number": pr_number_of(subject, body, is_merge=len(parents.split()) > 1),
    }


def git_local_source(
    path: str | None = None,
    repository: str | None = None,
    repositories: Sequence[dict[str, str]] | None = None,
    file_repositories: Collection[str] = (),
) -> DltSource:
    """Load one repository on disk (`path`, named `repository`, by default its folder name), or several
    (`repositories`: `[{path, name}]`), into tables keyed by `repository`. `file_repositories` (names):
    the repositories whose commits' changed files are read into `commit_files` (those where a service owns
    paths, ingestion.config.path_repositories); by default none.

    A plain function in front of the dlt source: dlt fills source arguments left out from configuration
    and the environment, and `path` would then silently become `$PATH`.
    """
    specs = [dict(spec) for spec in repositories or []]
    if path is not None:
        specs.insert(0, {"path": path, "name": repository})
    if not specs:
        raise ValueError("git_local_source needs a path or a list of repositories")
    repos = [GitRepository(spec["path"], spec.get("name") or repository_name(spec["path"])) for spec in specs]
    for repo in repos:
        repo.check()
    return _git_source(repos, frozenset(file_repositories))


def _screened(
    quarantine: Quarantine, resource: str, rows: list[dict], schema: pa.Schema, scope: str
) -> Iterator[Any]:
    """`rows` screened, as Arrow batches (and their quarantine rows)."""
    for start in range(0, len(rows), BATCH_ROWS):
        good = yield from quarantine.screen(CONTRACTS[resource], rows[start : start + BATCH_ROWS], scope)
        if good:
            yield _table(good, schema)


def _new_commits(repo: GitRepository, quarantine: Quarantine) -> Iterator[Any]:
    """The repository's commits not reachable from the tips of the last run (none if no ref moved)."""
    state = _repo_state(repo.name)
    fingerprint = repo.fingerprint()
    if state.get("fingerprint") == fingerprint:
        log.info("%s: refs unchanged, no new commits", repo.name)
        return
    stats = DateStats()
    batch: list[dict] = []
    count = 0
    for fields in repo.log_records(exclude=state.get("tips") or ()):
        row = _commit_row(fields, repo.name, stats)
        if row is None:
            continue
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            count += len(batch)
            yield from _screened(quarantine, "commits", batch, COMMIT_SCHEMA, repo.name)
            batch = []
    if batch:
        count += len(batch)
        yield from _screened(quarantine, "commits", batch, COMMIT_SCHEMA, repo.name)
    if stats.unparsed_offsets or stats.missing_dates:
        log.warning(
            "%s: %d dates with an unreadable UTC offset (loaded as UTC), %d without a date",
            repo.name,
            stats.unparsed_offsets,
            stats.missing_dates,
        )
    log.info("%s: %d new commits", repo.name, count)
    state["fingerprint"] = fingerprint
    state["tips"] = repo.tips()
    state["unparsed_offsets"] = state.get("unparsed_offsets", 0) + stats.unparsed_offsets


def commits_resource(repos: list[GitRepository], quarantine: Quarantine) -> DltResource:
    @dlt.resource(name="commits", primary_key=("repository", "sha"), write_disposition="merge")
    def commits() -> Iterator[pa.Table]:
        for repo in repos:
            yield from _new_commits(repo, quarantine)

    return commits


def _tag_rows(repo: GitRepository) -> dict[str, dict]:
    stats = DateStats()
    current: dict[str, dict] = {}
    for ref in repo.refs():
        if not ref["ref"].startswith("refs/tags/") or ref["commit_kind"] != "commit":
            continue  # tags of trees or blobs deploy nothing
        annotated = ref["kind"] == "tag"
        tagged_at, offset = parse_raw_date(
            (ref["tagger_date"] if annotated else "") or ref["commit_date"], stats
        )
        name = ref["ref"][len("refs/tags/") :]
        current[name] = {
            "repository": repo.name,
            "tag": name,
            "sha": ref["commit"],
            "tag_object_sha": ref["target"] if annotated else None,
            "is_annotated": annotated,
            "tagged_at": tagged_at,
            "tagger_utc_offset": offset,
            "is_deleted": False,
        }
    return current


def tags_resource(repos: list[GitRepository], quarantine: Quarantine) -> DltResource:
    @dlt.resource(
        name="tags", primary_key=("repository", "tag"), write_disposition="merge", columns=HARD_DELETE
    )
    def tags() -> Iterator[pa.Table]:
        for repo in repos:
            state = _repo_state(repo.name)
            rows = _ref_rows(state, "tags", _tag_rows(repo), TAG_SCHEMA, repo.name, "tag")
            yield from _screened(quarantine, "tags", rows, TAG_SCHEMA, repo.name)

    return tags


def _branch_rows(repo: GitRepository) -> dict[str, dict]:
    stats = DateStats()
    current: dict[str, dict] = {}
    for ref in repo.refs():
        name = ref["ref"]
        if name.startswith("refs/heads/"):
            branch, remote = name[len("refs/heads/") :], False
        elif name.startswith("refs/remotes/") and not name.endswith("/HEAD"):
            branch, remote = name[len("refs/remotes/") :], True
        else:
            continue
        if ref["commit_kind"] != "commit":
            continue
        committed_at, _ = parse_raw_date(ref["commit_date"], stats)
        current[branch] = {
            "repository": repo.name,
            "branch": branch,
            "sha": ref["commit"],
            "is_remote": remote,
            "committed_at": committed_at,
            "is_deleted": False,
        }
    return current


def branches_resource(repos: list[GitRepository], quarantine: Quarantine) -> DltResource:
    @dlt.resource(
        name="branches", primary_key=("repository", "branch"), write_disposition="merge", columns=HARD_DELETE
    )
    def branches() -> Iterator[pa.Table]:
        for repo in repos:
            state = _repo_state(repo.name)
            rows = _ref_rows(state, "branches", _branch_rows(repo), BRANCH_SCHEMA, repo.name, "branch")
            yield from _screened(quarantine, "branches", rows, BRANCH_SCHEMA, repo.name)

    return branches


def _pull_head_rows(repo: GitRepository) -> dict[str, dict]:
    current: dict[str, dict] = {}
    for ref in repo.refs():
        number = pull_number_of_ref(ref["ref"])
        if number is None or ref["commit_kind"] != "commit":
            continue
        current[str(number)] = {
            "repository": repo.name,
            "pr_number": number,
            "head_sha": ref["commit"],
            "is_deleted": False,
        }
    return current


def pull_request_heads_resource(repos: list[GitRepository], quarantine: Quarantine) -> DltResource:
    @dlt.resource(
        name="pull_request_heads",
        primary_key=("repository", "pr_number"),
        write_disposition="merge",
        columns=HARD_DELETE,
    )
    def pull_request_heads() -> Iterator[pa.Table]:
        for repo in repos:
            state = _repo_state(repo.name)
            current = _pull_head_rows(repo)
            rows = _ref_rows(
                state, "pull_heads", current, PULL_HEAD_SCHEMA, repo.name, "pr_number", "head_sha"
            )
            yield from _screened(quarantine, "pull_request_heads", rows, PULL_HEAD_SCHEMA, repo.name)

    return pull_request_heads


def _new_commit_files(repo: GitRepository, quarantine: Quarantine) -> Iterator[Any]:
    """The files changed by the repository's non-merge commits not reachable from the tips of the last run
    (its own tips, kept apart from the commits resource's: the two are read independently)."""
    state = _repo_state(repo.name)
    fingerprint = repo.fingerprint()
    if state.get("files_fingerprint") == fingerprint:
        return
    batch: list[dict] = []
    for sha, status, file_path, previous in repo.file_records(exclude=state.get("files_tips") or ()):
        batch.append(
            {
                "repository": repo.name,
                "sha": sha,
                "file_path": file_path,
                "previous_file_path": previous,
                "change_status": status,
            }
        )
        if len(batch) >= BATCH_ROWS:
            yield from _screened(quarantine, "commit_files", batch, COMMIT_FILE_SCHEMA, repo.name)
            batch = []
    if batch:
        yield from _screened(quarantine, "commit_files", batch, COMMIT_FILE_SCHEMA, repo.name)
    state["files_fingerprint"] = fingerprint
    state["files_tips"] = repo.tips()


def commit_files_resource(
    repos: list[GitRepository], file_repositories: frozenset[str], quarantine: Quarantine
) -> DltResource:
    """The paths each non-merge commit changes, in the repositories where a service owns paths: a direct
    push there counts for the services whose paths its files touch (docs/metrics.md, "Services by path").
    One `git log --name-status` a repository, incremental as the commits are."""

    @dlt.resource(
        name="commit_files", primary_key=("repository", "sha", "file_path"), write_disposition="merge"
    )
    def commit_files() -> Iterator[pa.Table]:
        for repo in repos:
            if repo.name in file_repositories:
                yield from _new_commit_files(repo, quarantine)

    return commit_files


@dlt.source(name="git")
def _git_source(repos: list[GitRepository], file_repositories: frozenset[str]) -> Sequence[DltResource]:
    """Commits, their changed files (path repositories only), tags, branches and pull request heads of
    repositories on disk."""
    quarantine = Quarantine("git")
    resources = [
        commits_resource(repos, quarantine),
        commit_files_resource(repos, file_repositories, quarantine),
        tags_resource(repos, quarantine),
        branches_resource(repos, quarantine),
        pull_request_heads_resource(repos, quarantine),
        quarantine_resource(),
    ]
    prepare(resources)
    return resources


def _ref_rows(
    state: dict,
    key: str,
    current: dict[str, dict],
    schema: pa.Schema,
    repository: str,
    name_column: str,
    sha_column: str = "sha",
) -> list[dict]:
    """Rows for refs added or moved since the last run, and deletion rows for refs that disappeared."""
    previous: dict[str, str] = state.get(key) or {}
    rows = [row for name, row in current.items() if previous.get(name) != row[sha_column]]
    for name in previous:
        if name not in current:
            gone: dict[str, Any] = {field.name: None for field in schema}
            key_value: Any = int(name) if schema.field(name_column).type == pa.int64() else name
            gone.update({"repository": repository, name_column: key_value, "is_deleted": True})
            rows.append(gone)
    state[key] = {name: row[sha_column] for name, row in current.items()}
    return rows
