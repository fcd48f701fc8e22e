"""Jenkins source: jobs (walking folders and multibranch projects) and their builds.

Builds merge on (job full name, build number). Each job keeps its own cursor in the resource state: the
highest build number loaded and the builds that were still running then. A refresh reads only the
newest range of builds until it reaches that number, then re-reads each still-running build by number,
so a finished build's result lands without re-reading a job's whole history. A job whose `lastBuild` in
the listing is already loaded, with nothing running, costs no request at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from ingestion.cursors import keyed_state
from ingestion.dates import epoch_ms, start_of
from ingestion.http import ApiError, RetryPolicy
from ingestion.quarantine import Contract, Quarantine, prepare, quarantine_resource

from .helpers import build_pages, get_build, list_jobs, make_client, shape_build
from .settings import DEFAULT_PAGE_SIZE


def _hint(data_type: str) -> dict[str, Any]:
    # a fresh dict per column: dlt writes the column name into the hint it is given
    return {"data_type": data_type, "nullable": True}


JOB_COLUMNS: dict[str, Any] = {
    "full_name": _hint("text"),
    "name": _hint("text"),
    "folder": _hint("text"),
    "job_class": _hint("text"),
    "url": _hint("text"),
    "color": _hint("text"),
    "description": _hint("text"),
    "buildable": _hint("bool"),
    "last_build_number": _hint("bigint"),
    "path": _hint("text"),
}
BUILD_COLUMNS: dict[str, Any] = {
    "job_full_name": _hint("text"),
    "number": _hint("bigint"),
    "build_id": _hint("text"),
    "display_name": _hint("text"),
    "description": _hint("text"),
    "result": _hint("text"),
    "building": _hint("bool"),
    "timestamp": _hint("bigint"),
    "duration": _hint("bigint"),
    "estimated_duration": _hint("bigint"),
    "url": _hint("text"),
    "built_on": _hint("text"),
    "queue_id": _hint("bigint"),
    "commit_sha": _hint("text"),
    "branch": _hint("text"),
    "revisions": _hint("json"),
    "parameters": _hint("json"),
    "causes": _hint("json"),
    "changes": _hint("json"),
}


# What each resource's records must hold (ingestion/quarantine.py): jobs as listed (full name derived),
# builds as the JSON API sends them. Results are Jenkins' `hudson.model.Result` values (null while
# running); the models branch on them.
JOB_CONTRACT = Contract("jobs", key={"full_name": str})
BUILD_CONTRACT = Contract(
    "builds",
    key={"number": int},
    times=("timestamp",),
    required_times=("timestamp",),
    epoch_ms=True,
    enums={"result": frozenset({"success", "failure", "unstable", "aborted", "not_built"})},
)


def _start_ms(start_date: str | None) -> int | None:
    """The configured backfill start (ISO date or timestamp) as Jenkins' epoch milliseconds."""
    start = start_of(start_date)
    return epoch_ms(start) if start is not None else None


@dataclass(frozen=True)
class _Reader:
    """What the Jenkins resources read with: the client, the backfill start and the quarantine."""

    client: RESTClient
    start_ms: int | None
    page_size: int
    quarantine: Quarantine

    def screened(self, raw_builds: list[dict], job: dict, held: list[Any]) -> list[dict]:
        """The good builds; their quarantine rows go to `held`."""
        good, rows = self.quarantine.split(BUILD_CONTRACT, raw_builds, job["full_name"])
        if rows is not None:
            held.append(rows)
        return good

    def new_builds(self, job: dict, cursor: dict, held: list[Any]) -> Iterator[dict]:
        """The job's builds to load: those numbered past the cursor and those running at the last read;
        the quarantine rows of what was read go to `held`."""
        last = cursor.get("last_number")
        running = set(cursor.get("building") or [])
        if last is not None and not running and job.get("last_build_number") == last:
            return  # nothing new, nothing running: no request
        seen: set[int] = set()
        for listed in build_pages(self.client, job["path"], self.page_size):
            reached = False
            for raw in self.screened(listed, job, held):
                number = raw["number"]
                if self.start_ms is not None and (raw.get("timestamp") or 0) < self.start_ms:
                    reached = True
                    continue
                if last is not None and number <= last:
                    reached = True
                    if number not in running:
                        continue
                seen.add(number)
                yield shape_build(raw, job)
            # Jenkins numbers builds in order: a build started while we page moves the others down a range
            # (read twice, merged once), never up past where we stop
            if reached:
                break
        for number in sorted(running - seen):
            try:
                raw = get_build(self.client, job["path"], number)
            except ApiError as exc:
                if exc.status == 404:
                    continue
                raise
            for good in self.screened([raw], job, held):
                yield shape_build(good, job)


def jobs_resource(jk: _Reader, patterns: list[str] | None) -> DltResource:
    @dlt.resource(name="jobs", primary_key="full_name", write_disposition="merge", columns=JOB_COLUMNS)
    def job_list() -> Iterator[Any]:
        listed = yield from jk.quarantine.screen(JOB_CONTRACT, list(list_jobs(jk.client, patterns)), "jobs")
        yield from listed

    return job_list


def builds_resource(jk: _Reader, jobs: DltResource) -> DltResource:
    @dlt.transformer(
        data_from=jobs,
        name="builds",
        primary_key=("job_full_name", "number"),
        write_disposition="merge",
        columns=BUILD_COLUMNS,
    )
    def builds(items: TDataItem) -> Iterator[list[dict]]:
        # per job: the highest build number loaded and the builds still running then
        cursors = keyed_state("jobs", "builds")
        for job in items if isinstance(items, list) else [items]:
            cursor = cursors.get(job["full_name"]) or {}
            listed = job.get("last_build_number")
            if listed is not None and listed < (cursor.get("last_number") or 0):
                # the job was deleted and recreated (or its history reset): numbering starts again at 1,
                # and the new builds replace the old ones with the same numbers
                cursor = {}
            held: list[Any] = []
            rows = list(jk.new_builds(job, cursor, held))
            yield from held
            if rows:
                yield rows
            # every build running last time was re-read (it is in `rows`) or is gone (404): forget it
            cursors[job["full_name"]] = {
                "last_number": max([cursor.get("last_number") or 0, *(row["number"] for row in rows)]),
                "building": sorted(row["number"] for row in rows if row.get("building")),
            }

    return builds


@dlt.source(name="jenkins")
def jenkins_source(
    base_url: str = dlt.config.value,
    user: str | None = None,
    token: str | None = dlt.secrets.value,
    jobs: list[str] | None = None,
    start_date: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_retries: int = 5,
    max_retry_wait_seconds: float = 60.0,
    backoff_factor: float = 1.0,
    request_timeout_seconds: float = 60.0,
) -> Sequence[DltResource]:
    """Load a Jenkins controller's jobs and builds through its JSON API.

    `user` and `token` are a Jenkins user and one of its API tokens (basic auth); leave `user` empty for
    an anonymous read of a public controller. `jobs` selects jobs by shell-style patterns on their full
    name (`deploy-*`, `payments/*`); folders that cannot hold a match are not walked. `start_date` (ISO)
    leaves out builds started before it.
    """
    policy = RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds, request_timeout_seconds)
    client = make_client(base_url, user, token, policy)
    jk = _Reader(client, _start_ms(start_date), page_size, Quarantine("jenkins"))
    job_list = jobs_resource(jk, list(jobs) if jobs else None)
    resources = (job_list, builds_resource(jk, job_list), quarantine_resource())
    prepare(resources)
    return resources
