"""GitHub Actions: workflow runs and the jobs of the runs deploy rules count.

With deploy rules given, a repository's runs are listed one event at a time, for the events its `workflow`
rules count (`?event=push`, ...): the other runs (most of them pull request CI) are never read, since
nothing downstream reads them, and a repository without such a rule lists no runs at all. Without rules,
one listing reads every run. Each listing (RunListing) keeps its own cursor and ETag.

A listing's runs cursor (section `cursors` of `workflow_runs`, keyed by RunListing.key) is
`{"created_at", "unfinished", "since"}`: the newest run's creation read, the oldest run still unfinished at
that read, and the `created>=` bound the listing was last asked with (kept while it answers 304; narrowed
to the window, with its ETag taken at once, when it lags far behind after an answer). The jobs' state
(section `runs` of `workflow_jobs`) remembers, per repository (per run listing when listed by event), the
runs whose jobs were read. With the GraphQL API, the jobs of many runs are read a query, as their check
suites' check runs (graphql.read_check_runs)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress
from typing import Any

import dlt
from dlt.common.typing import TDataItem
from dlt.sources import DltResource

from ingestion.arrow import arrow_page
from ingestion.cursors import keyed_state
from ingestion.dates import iso_seconds, minus_days, parse_ts
from ingestion.http import ApiError, top_level_value
from ingestion.patterns import RegexEngine
from ingestion.quarantine import newest_wins

from . import graphql
from .columns import WORKFLOW_JOB_COLUMNS, WORKFLOW_RUN_COLUMNS, pick, shape_run
from .helpers import pages
from .reader import Reader, as_list
from .settings import WORKFLOW_RUN_QUERY_LIMIT, WORKFLOW_RUN_REQUERY_DAYS

log = logging.getLogger(__name__)


class DeployRuns:
    """Which Actions runs a repository's `workflow` deploy rules count as deployments, matched as
    int_deployments_unioned matches them (workflow name, head branch, event, head repository; completion
    aside: a run's jobs are read again when it changes). Nothing downstream reads the jobs of other runs,
    and reading them costs a request per run through REST (most runs are pull request CI). Patterns are
    matched by DuckDB (ingestion/patterns.py), each distinct text once."""

    def __init__(self, rules: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.rules = {name.lower(): list(found) for name, found in rules.items()}
        self.engine = RegexEngine()
        self.found: dict[tuple[str, str], bool] = {}

    def _search(self, pattern: str, texts: set[str]) -> None:
        missing = sorted(text for text in texts if (pattern, text) not in self.found)
        if not missing:  # every text known: no query (an empty search would still check the pattern)
            return
        for text, matched in zip(missing, self.engine.search(pattern, missing), strict=True):
            self.found[(pattern, text)] = matched

    def select(self, runs: Sequence[dict]) -> list[bool]:
        """For each run row (as `workflow_runs` loads it), whether some rule of its repository counts it.

        The texts of the whole page are gathered first and each pattern asked once for the texts it has not
        seen: a page of runs costs a DuckDB query per pattern with new texts, not one per run and rule."""
        texts: dict[str, set[str]] = {}
        for run in runs:
            for rule in self.rules.get(str(run.get("repository") or "").lower(), []):
                texts.setdefault(rule["pattern"], set()).add(run.get("name") or "")
                if rule.get("branch_pattern"):
                    texts.setdefault(rule["branch_pattern"], set()).add(run.get("head_branch") or "")
        for pattern, found in texts.items():
            self._search(pattern, found)
        return [
            any(
                self._counts(rule, run)
                for rule in self.rules.get(str(run.get("repository") or "").lower(), [])
            )
            for run in runs
        ]

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


def forget_old_runs(known: dict[str, list], lookback_days: float) -> None:
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


def _total_count(page: Any) -> int:
    """`total_count` of a wrapped list answer (workflow runs), read from the page's response."""
    response = getattr(page, "response", None)
    try:
        return int(top_level_value(response, "total_count") or 0) if response is not None else 0
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class RunListing:
    """One listing of a repository's Actions runs: every run, or the runs of one `event`."""

    repository: str
    event: str | None = None

    @property
    def key(self) -> str:
        """Its key in the resource state (cursor and ETag): the repository's full name for every run."""
        return self.repository if self.event is None else f"{self.repository}?event={self.event}"

    @property
    def path(self) -> str:
        return f"/repos/{self.repository}/actions/runs"

    def params(self, created: str | None) -> dict[str, str]:
        return {
            **({"event": self.event} if self.event else {}),
            **({"created": created} if created else {}),
        }


def run_listings(full_name: str, rules: Sequence[Mapping[str, Any]] | None) -> list[RunListing]:
    """The run listings a repository is read with: one for every run when `rules` is None; else one per
    event its `workflow` rules count (none without a rule). A run of another event is never counted
    (DeployRuns, int_deployments_unioned), so it is not read either."""
    if rules is None:
        return [RunListing(full_name)]
    events = sorted({str(event).lower() for rule in rules for event in rule.get("events") or ()})
    return [RunListing(full_name, event) for event in events]


def workflow_runs_resource(
    gh: Reader,
    repositories: DltResource,
    lookback_days: float,
    deploy_workflows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> DltResource:
    by_name = (
        None
        if deploy_workflows is None
        else {name.lower(): list(found) for name, found in deploy_workflows.items()}
    )

    @dlt.transformer(
        data_from=repositories,
        name="workflow_runs",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(WORKFLOW_RUN_COLUMNS, "updated_at"),
    )
    def workflow_runs(repos: TDataItem) -> Iterator[list[dict]]:
        """Actions runs created since the cursor's look-back, and since the oldest run still unfinished
        at the last read, so every run is read again until it has completed; with `deploy_workflows`, only
        the runs of the events its rules count (run_listings).

        The listing keeps its last query while nothing changes: an idle repository costs one 304. When
        the listing did change, only runs inside the window are loaded (paging stops at the first page
        reaching behind it), and the kept bound moves up to the window once it lags by more than a week,
        as after a first load from the start date: the narrowed query's first page is asked at once for
        its ETag, so the next refresh asks one day's runs, and answers 304 when idle."""
        cursors = keyed_state("cursors", "workflow_runs")
        for repo in as_list(repos):
            full_name = repo["full_name"]
            rules = None if by_name is None else by_name.get(full_name.lower(), [])
            for listing in run_listings(full_name, rules):
                yield from _listed_runs(gh, listing, cursors, lookback_days)

    return workflow_runs


def _listed_runs(
    gh: Reader, listing: RunListing, cursors: dict[str, Any], lookback_days: float
) -> Iterator[list[dict]]:
    # an event's listing not read yet starts from the repository's cursor of every run, when it has one
    # (its runs were read with the others up to there)
    saved = cursors.get(listing.key) or cursors.get(listing.repository) or {}
    cursor, unfinished = parse_ts(saved.get("created_at")), parse_ts(saved.get("unfinished"))
    floor = _run_floor(cursor, unfinished, lookback_days, gh.start)
    asked, repeated = _asked_bound(gh, listing, saved, floor)
    seen: list[dict] = []
    answered: list[bool] = []
    for rows in _runs_since(gh, listing, asked, floor, answered):
        if not isinstance(rows, list):  # the quarantine rows of a page
            yield rows
            continue
        seen.extend(
            {k: r.get(k) for k in ("id", "created_at", "updated_at", "status", "run_attempt")} for r in rows
        )
        yield rows
    if not answered:
        return  # not modified or not available: the saved state stands
    created = [parse_ts(r["created_at"]) for r in seen if r["created_at"]]
    still_open = [parse_ts(r["created_at"]) for r in seen if r["status"] != "completed"]
    newest = max([*created, *([cursor] if cursor else [])], default=None)
    if seen:
        unfinished = min(still_open) if still_open else None
    next_floor = _run_floor(newest, unfinished, lookback_days, gh.start)
    # a bound lagging the window far is narrowed to it (the listing changed, or this was the first read
    # from the start date): the narrowed query's ETag is taken at once, so an idle next refresh answers 304
    kept = next_floor if _lags(asked, next_floor) else asked
    if kept != asked and (keyed_state("etags", "workflow_runs").get(listing.key) or {}).get("etag"):
        _take_etag(gh, listing, kept, seen)  # only where the server answers with ETags
    cursors[listing.key] = {
        "created_at": iso_seconds(newest) if newest else None,
        "unfinished": iso_seconds(unfinished) if unfinished else None,
        "since": iso_seconds(kept) if kept else None,
    }


def _take_etag(gh: Reader, listing: RunListing, since: datetime | None, seen: list[dict]) -> None:
    """Ask the run listing's narrowed query (`created>=since`) once for its first page's ETag, kept only
    when that page holds exactly the runs just read (same update, status and attempt): a run created or
    changed in between is not loaded, and its query must then answer in full next time, not 304."""
    params = listing.params(f">={iso_seconds(since)}" if since else None)
    read = {row["id"]: row for row in seen}
    listed = gh.listing("workflow_runs", listing.key, listing.path, params, data_selector="workflow_runs")
    for page in gh.availability.guard("workflow runs", listing.repository, listed):
        fields = ("updated_at", "status", "run_attempt")
        same = all(
            run.get("id") in read and all(run.get(k) == read[run["id"]].get(k) for k in fields)
            for run in page
        )
        if not same:
            keyed_state("etags", "workflow_runs").pop(listing.key, None)
        return  # the first page's ETag is all a conditional request compares


def _run_floor(
    cursor: datetime | None, unfinished: datetime | None, lookback_days: float, start: datetime | None
) -> datetime | None:
    """The oldest creation time worth reading again: the look-back before the newest run, or the oldest
    run still unfinished at the last read when that is older; `start` before any run."""
    floor = minus_days(cursor, lookback_days) if cursor else start
    if unfinished is not None and (floor is None or unfinished < floor):
        floor = unfinished
    return floor


def _asked_bound(
    gh: Reader, listing: RunListing, saved: dict, floor: datetime | None
) -> tuple[datetime | None, bool]:
    """The `created>=` bound to ask, and whether it is the one asked last time: that one is kept while we
    hold its answer's ETag and it still covers the window (so an unchanged listing answers 304); else the
    window's floor is asked.

    A bound recomputed on every refresh would change the query whenever the cursor moved (or, on the
    first re-poll, from the start date to the look-back), and a changed query cannot be answered 304."""
    etags = dlt.current.resource_state("workflow_runs").get("etags") or {}
    held = bool((etags.get(listing.key) or {}).get("etag"))
    if not (gh.conditional_requests and held and "since" in saved) or floor is None:
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


def _runs_since(
    gh: Reader, listing: RunListing, asked: datetime | None, floor: datetime | None, answered: list[bool]
) -> Iterator[list[dict]]:
    """The runs created at or after `floor`, newest first, from a listing filtered from `asked` (at or
    before `floor`). Paging stops at the first page reaching behind `floor`; `answered` gets an entry
    when the listing answered with content (not 304, not unavailable)."""
    full_name = listing.repository
    params = listing.params(f">={iso_seconds(asked)}" if asked else None)
    listed = gh.listing("workflow_runs", listing.key, listing.path, params, data_selector="workflow_runs")
    total, read, oldest = 0, 0, None
    ids: set[Any] = set()
    for index, raw_page in enumerate(gh.availability.guard("workflow runs", full_name, listed)):
        answered.append(True)
        if index == 0:
            total = _total_count(raw_page)
        read += len(raw_page)
        page = yield from gh.screen("workflow_runs", raw_page, full_name)
        rows, reached = [], False
        for raw in page:
            created = parse_ts(raw.get("created_at"))
            if created is not None and (oldest is None or created < oldest):
                oldest = created
            if floor is not None and created is not None and created < floor:
                reached = True
                continue
            ids.add(raw.get("id"))
            rows.append(shape_run(raw, full_name))
        if rows:
            yield rows
        if reached:  # newest first: every later page lies behind the window too
            return
    capped = total > read or read >= WORKFLOW_RUN_QUERY_LIMIT
    if asked is not None and floor is not None and oldest is not None and capped:
        # GitHub stops a filtered listing at 1,000 runs: read the rest of the window in smaller ranges
        for rows in _runs_between(gh, listing, floor, oldest):
            if not isinstance(rows, list):  # the quarantine rows of a page
                yield rows
                continue
            fresh = [row for row in rows if row["id"] not in ids]
            ids.update(row["id"] for row in fresh)
            if fresh:
                yield fresh


def _runs_between(gh: Reader, listing: RunListing, low: datetime, high: datetime) -> Iterator[list[dict]]:
    full_name = listing.repository
    params = listing.params(f"{iso_seconds(low)}..{iso_seconds(high)}")
    for index, raw_page in enumerate(pages(gh.client, listing.path, params, data_selector="workflow_runs")):
        too_many = _total_count(raw_page) > WORKFLOW_RUN_QUERY_LIMIT
        if index == 0 and too_many and high - low > timedelta(hours=1):
            middle = low + (high - low) / 2
            yield from _runs_between(gh, listing, low, middle)
            yield from _runs_between(gh, listing, middle + timedelta(seconds=1), high)
            return
        page = yield from gh.screen("workflow_runs", raw_page, full_name, f"{listing.key}:{iso_seconds(low)}")
        yield [shape_run(raw, full_name) for raw in page]


def _jobs_through_graphql(gh: Reader, runs: list[dict], failed: list[ApiError]) -> dict[Any, list[dict]]:
    """The jobs of the runs, by run id, read through GraphQL (graphql.read_check_runs) as REST's listing
    gives them; a run is missing when the source reads REST, when its row has no check suite id, when its
    suite did not resolve or when a query failed: its jobs are then listed through REST. A failed query is
    logged and added to `failed`, and GraphQL is not asked again (a server without `nodes(ids:)`)."""
    suites = {run["check_suite_node_id"]: run for run in runs if run.get("check_suite_node_id")}
    if gh.gql is None or not suites or failed:
        return {}
    try:
        found = graphql.read_check_runs(gh.gql, list(suites))
    except ApiError as exc:
        log.warning("GitHub workflow jobs through GraphQL failed (%s): listing them through REST", exc)
        failed.append(exc)
        return {}
    return {
        run["id"]: [graphql.workflow_job(node, run) for node in found[suite] or ()]
        for suite, run in suites.items()
        if found.get(suite) is not None
    }


def workflow_jobs_resource(
    gh: Reader,
    workflow_runs: DltResource,
    lookback_days: float,
    deploy_workflows: Mapping[str, Sequence[Mapping[str, Any]]] | None,
    per_event: bool = False,
) -> DltResource:
    """`per_event`: the runs were listed one event at a time (run_listings), each listing with a window of
    its own; the runs whose jobs were read are then remembered per listing, so each is forgotten behind its
    own listing's window, not behind the repository's newest run (a run of a rare event would otherwise be
    forgotten while its listing still hands it over, and its jobs asked again every day)."""
    deploy_runs = DeployRuns(deploy_workflows) if deploy_workflows is not None else None

    def memory_key(run: Mapping[str, Any]) -> str:
        event = str(run.get("event") or "").lower() if per_event else None
        return RunListing(run["repository"], event).key

    graphql_failed: list[ApiError] = []  # a failed check runs query: REST for the rest of the run

    @dlt.transformer(
        data_from=workflow_runs,
        name="workflow_jobs",
        primary_key="id",
        write_disposition="merge",
        columns=WORKFLOW_JOB_COLUMNS,
    )
    def workflow_jobs(runs: TDataItem) -> Iterator[Any]:
        """The jobs of each run that is new or changed since its jobs were last read (latest attempt),
        with their own timings.

        The runs' look-back hands over unchanged runs again; asking each for its jobs would cost one
        request per run and refresh. So the runs whose jobs were read are remembered per repository (per run
        listing with `per_event`), by
        creation, last update, status and attempt, and forgotten once they fall behind the look-back. With
        `deploy_workflows` given, only the runs its rules count are asked at all. Through GraphQL, the
        page's wanted runs are asked together (100 a query); a run GraphQL cannot read is listed through
        REST (_jobs_through_graphql)."""
        remembered = keyed_state("runs", "workflow_jobs")
        touched: set[str] = set()
        rows: list[dict] = []  # one item for the runs' whole page
        runs = as_list(runs)
        if deploy_runs is not None:
            runs = list(compress(runs, deploy_runs.select(runs)))
        wanted = []
        for run in runs:
            mark = [run.get("updated_at"), run.get("status"), run.get("run_attempt")]
            known: dict[str, list] = remembered.setdefault(memory_key(run), {})
            if (known.get(str(run["id"])) or [None])[1:] != mark:
                wanted.append((run, mark))
        # through GraphQL, the jobs of many runs a query; the others' (or all, through REST) one listing per
        # run, read whole: read a few runs ahead
        through_graphql = _jobs_through_graphql(gh, [run for run, _ in wanted], graphql_failed)
        for run, mark in wanted:
            if run["id"] not in through_graphql:
                continue
            repository = run["repository"]
            page = yield from gh.screen(
                "workflow_jobs", through_graphql[run["id"]], repository, f"{repository}:{run['id']}"
            )
            rows += [pick(job, WORKFLOW_JOB_COLUMNS, repository=repository) for job in page]
            remembered[memory_key(run)][str(run["id"])] = [run.get("created_at"), *mark]
            touched.add(memory_key(run))
        wanted = [(run, mark) for run, mark in wanted if run["id"] not in through_graphql]
        listings = {
            str(n): pages(
                gh.client, f"/repos/{run['repository']}/actions/runs/{run['id']}/jobs", data_selector="jobs"
            )
            for n, (run, _) in enumerate(wanted)
            if not gh.availability.lacks("workflow jobs", run["repository"])
        }
        ahead = gh.read_ahead(listings)
        for n, (run, mark) in enumerate(wanted):
            repository, run_id = run["repository"], run["id"]
            known = remembered[memory_key(run)]
            if str(n) not in listings:
                continue
            while (got := next(ahead)) is None:
                yield None  # not answered yet: dlt goes on with other resources meanwhile
            listed = got[1]
            for raw_page in gh.availability.guard("workflow jobs", repository, listed):
                page = yield from gh.screen("workflow_jobs", raw_page, repository, f"{repository}:{run_id}")
                rows += [pick(job, WORKFLOW_JOB_COLUMNS, repository=repository) for job in page]
            if not gh.availability.lacks("workflow jobs", repository):
                known[str(run_id)] = [run.get("created_at"), *mark]
                touched.add(memory_key(run))
        if rows:
            yield arrow_page(rows, WORKFLOW_JOB_COLUMNS)
        for key in touched:
            forget_old_runs(remembered[key], lookback_days)
        if per_event:  # what a version listing every run remembered per repository is no longer read
            for run in runs:
                remembered.pop(run["repository"], None)

    return workflow_jobs
