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

Each resource is built by a small function of its own module (repos.py: repositories, commits, branches,
tags, releases; pulls.py: pull requests and their lists; deployments.py; actions.py: workflow runs and
jobs) from the `Reader` (reader.py) holding what they share; `github_source` only wires them. Cursors are
kept per repository with ingestion/cursors.py, in the resource-state layout the source has always written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.dates import start_of
from ingestion.http import ApiUsage, RetryPolicy
from ingestion.quarantine import prepare, quarantine_resource

from . import graphql
from .actions import DeployRuns, forget_old_runs, workflow_jobs_resource, workflow_runs_resource
from .deployments import deployment_statuses_resource, deployments_resource
from .helpers import make_client
from .pulls import (
    pull_request_commits_resource,
    pull_request_files_resource,
    pull_request_review_comments_resource,
    pull_request_reviews_resource,
    pull_requests_resource,
)
from .reader import Reader
from .repos import (
    branch_rows,
    branches_resource,
    branches_to_load,
    commit_files_resource,
    commits_resource,
    releases_resource,
    repositories_resource,
    tags_resource,
)
from .settings import (
    COMMIT_LOOKBACK_DAYS,
    DEFAULT_BASE_URL,
    DEPLOYMENT_LOOKBACK_DAYS,
    RELEASE_LOOKBACK_DAYS,
    WORKFLOW_RUN_LOOKBACK_DAYS,
)

__all__ = ["DeployRuns", "forget_old_runs", "branch_rows", "branches_to_load", "github_source"]


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
    workflow_runs: str = "deploy",
    api: str = "rest",
    max_concurrency: int = 4,
    usage: ApiUsage | None = None,
    file_repositories: Collection[str] | None = None,
    commit_file_repositories: Collection[str] = (),
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
    (ingestion.config.workflow_rules): Actions runs are then listed only for the events those rules count
    (a repository without such a rule lists none), and jobs read only for the runs they count (DeployRuns);
    None reads every run and its jobs. `workflow_runs` "all" lists every run even with rules (jobs are
    still read for the counted runs only); "deploy" (the default) lists what the rules can count.
    `api` "graphql" reads pull requests (with their commits, reviews, comments and files) and deployments
    (with their statuses) through GitHub's GraphQL API, many to a request, `max_concurrency` repositories
    at a time; "rest" reads them one REST request per list. Listings read to their end (a later load's
    commits since the cursor, tag refs) are read `max_concurrency` repositories ahead on both. `usage`
    (ingestion/http.py) counts the requests and GraphQL points spent, and paces them to the rate limit.
    `file_repositories` (full names, any case) are the repositories whose pull requests' changed files are
    read (None: every repository); the others load none, and the table is still created.
    `commit_file_repositories` (full names, any case) are the repositories whose default branch's possible
    direct pushes (commits no pull request names, on the branch's first-parent chain) have their changed
    files read into `commit_files`, one commit detail request each (repos.direct_push_candidates); by
    default none.
    """
    if api not in ("rest", "graphql"):
        raise ValueError(f"github api must be 'rest' or 'graphql', not {api!r}")
    if workflow_runs not in ("deploy", "all"):
        raise ValueError(f"github workflow_runs must be 'deploy' or 'all', not {workflow_runs!r}")
    client = make_client(
        base_url,
        token,
        RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds, request_timeout_seconds),
        usage,
    )
    gql = graphql.GraphQLClient(client, graphql.graphql_url(base_url), usage) if api == "graphql" else None
    gh = Reader(
        client,
        gql,
        start_of(start_date),
        conditional_requests=conditional_requests,
        pull_request_details=pull_request_details,
        max_concurrency=max_concurrency,
        file_repositories=(
            None if file_repositories is None else frozenset(name.lower() for name in file_repositories)
        ),
        commit_file_repositories=frozenset(name.lower() for name in commit_file_repositories),
        branch_push_repositories=frozenset(name.lower() for name in (deploy_branches or {})),
    )
    listed = repositories_resource(gh, organization, repositories)
    pull_requests = pull_requests_resource(gh, listed)
    deployments = deployments_resource(gh, listed, deployment_lookback_days)
    runs_listed = deploy_workflows if workflow_runs == "deploy" else None
    workflow_runs_read = workflow_runs_resource(gh, listed, workflow_run_lookback_days, runs_listed)
    commits = commits_resource(gh, listed, commit_lookback_days, deploy_branches)
    if gql is not None:
        # the pull requests' commits take their parents from the histories the commits resource reads,
        # when both run in this load
        gh.history_parents = graphql.HistoryParents(_pull_requests_and_commits_selected)
    resources = (
        listed,
        pull_requests,
        pull_request_commits_resource(gh, pull_requests),
        pull_request_reviews_resource(gh, pull_requests),
        pull_request_review_comments_resource(gh, pull_requests),
        pull_request_files_resource(gh, pull_requests),
        commits,
        commit_files_resource(),
        branches_resource(gh, listed),
        deployments,
        deployment_statuses_resource(gh, deployments),
        releases_resource(gh, listed, release_lookback_days),
        tags_resource(gh, listed),
        workflow_runs_read,
        workflow_jobs_resource(
            gh,
            workflow_runs_read,
            workflow_run_lookback_days,
            deploy_workflows,
            per_event=runs_listed is not None,
        ),
        quarantine_resource(),
    )
    prepare(resources)
    return resources


def _pull_requests_and_commits_selected() -> bool:
    """Whether the source being extracted loads both pull requests and commits (a load may select some
    resources only); False outside an extraction."""
    try:
        selected = dlt.current.source().selected_resources
    except Exception:  # noqa: BLE001 (no source being extracted: iterated directly)
        return False
    return "pull_requests" in selected and "commits" in selected
