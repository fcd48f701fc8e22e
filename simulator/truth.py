"""Ground truth of a simulated organisation, from the simulator's own causal records.

A production deployment of main's head at position k contains every commit that became reachable from main
at or before k (the generator recorded that position when it built main), and a rollback contains what the
deployment it restores contained. The first deployment containing a commit is therefore known without
reading anything the emulator serves. Everything is "as of" a moment: `world.end`, or an earlier `as_of` (what
the APIs serve when the emulator's clock stands there). A deployment's `is_failure` is the simulator's causal
record (it broke something), also when the incident or rollback that reveals it comes after that moment.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.automation import deployer, is_automation, pull_request_size

if TYPE_CHECKING:
    from simulator.world import Deployment, Service, World

TS = pa.timestamp("us", tz="UTC")
SCHEMAS: dict[str, pa.Schema] = {
    "deployments": pa.schema(
        [
            ("deployment_id", pa.string()),
            ("service", pa.string()),
            ("environment", pa.string()),
            ("commit_sha", pa.string()),
            ("deployed_at", TS),
            ("is_failure", pa.bool_()),
            ("recovered_at", TS),
            # the signals the world gave of the failure by then, sorted ([] when it did not fail)
            ("failure_signals", pa.list_(pa.string())),
            ("is_rework", pa.bool_()),  # a rollback, or a fix deployed from a revert or hotfix branch
            # GitHub deployments only (NULL for other sources): who created it (simulator/automation.py)
            # and minutes from its creation to its last status (the pipeline that deployed)
            ("deployed_by", pa.string()),
            ("is_deployed_by_automation", pa.bool_()),
            ("pipeline_duration_minutes", pa.float64()),
        ]
    ),
    "changes": pa.schema(
        [
            ("service", pa.string()),
            ("pr_number", pa.int64()),  # NULL for a direct push
            ("commit_sha", pa.string()),  # the direct push's commit; NULL for a pull request
            ("first_commit_at", TS),
            ("opened_at", TS),
            # when the change started: its first commit, or its opening when the branch was rewritten
            # (squashed and force-pushed) after it opened, leaving only younger commits (docs/metrics.md)
            ("started_at", TS),
            ("is_branch_rewritten", pa.bool_()),
            ("first_review_at", TS),
            ("merged_at", TS),
            ("deployment_id", pa.string()),
            ("deployed_at", TS),
            # pull requests on GitHub only (NULL otherwise): additions + deletions as served; reviewed by an
            # engineer other than the author before the merge (automation's reviews do not count); its first
            # production deployment created by its author (NULL when not deployed)
            ("lines_changed", pa.int64()),
            ("is_reviewed_by_other", pa.bool_()),
            ("is_deployed_by_author", pa.bool_()),
        ]
    ),
    # Which services each change of a monorepo counts for (docs/metrics.md, "Services by path"): one row per
    # change and service, with that service's first production deployment shipping it. A pull request counts
    # for each service it was written for, a direct push for the fallback service; `changes` holds each
    # change once, under the first of them (and every change of a repository of one service, not repeated
    # here).
    "change_services": pa.schema(
        [
            ("service", pa.string()),
            ("repository", pa.string()),
            ("pr_number", pa.int64()),  # NULL for a direct push
            ("commit_sha", pa.string()),  # the direct push's commit; NULL for a pull request
            ("started_at", TS),
            ("merged_at", TS),
            ("deployment_id", pa.string()),
            ("deployed_at", TS),
        ]
    ),
    "incidents": pa.schema(
        [
            ("incident_id", pa.string()),
            ("service", pa.string()),
            ("created_at", TS),
            ("resolved_at", TS),
            ("deployment_id", pa.string()),
        ]
    ),
    "commits": pa.schema(
        [
            ("commit_sha", pa.string()),
            ("service", pa.string()),
            ("authored_at", TS),
            ("deployment_id", pa.string()),
            ("deployed_at", TS),
        ]
    ),
    "promotions": pa.schema(
        [
            ("service", pa.string()),
            ("commit_sha", pa.string()),
            ("upstream_environment", pa.string()),
            ("downstream_environment", pa.string()),
            ("upstream_deployment_id", pa.string()),
            ("reached_upstream_at", TS),
            ("downstream_deployment_id", pa.string()),
            ("reached_downstream_at", TS),
        ]
    ),
}


class _FirstDeployment:
    """Earliest successful deployment (production, or staging with `production=False`) whose SHA contains a
    main position."""

    def __init__(self, svc: Service, end: datetime, production: bool = True):
        deps = [
            d
            for d in svc.deployments
            if d.is_production == production
            and d.deployed_at is not None
            and d.deployed_at <= end
            and (production or d.source_id is not None)  # a staging rollout no source serves is unseen
        ]
        deps.sort(key=lambda d: (d.deployed_at, d.deployment_id))
        self.deps: list[Deployment] = []
        self.reach: list[int] = []  # running maximum of main positions shipped so far
        best = -1
        for dep in deps:
            if dep.main_index > best:
                best = dep.main_index
                self.deps.append(dep)
                self.reach.append(best)

    def of(self, reach_index: int | None) -> Deployment | None:
        if reach_index is None:
            return None
        pos = bisect_left(self.reach, reach_index)
        return self.deps[pos] if pos < len(self.deps) else None


def _deployer_truth(world: World, svc: Service, dep: Deployment, end: datetime) -> dict[str, object]:
    """Who created a GitHub deployment and how long its pipeline ran, as served (NULLs for other sources)."""
    if svc.delivery != "github":
        return {"deployed_by": None, "is_deployed_by_automation": None, "pipeline_duration_minutes": None}
    who = deployer(world, svc, dep)
    last = max(s.created_at for s in dep.statuses if s.created_at <= end and s.state != "inactive")
    return {
        "deployed_by": who.login,
        "is_deployed_by_automation": is_automation(who),
        "pipeline_duration_minutes": (last - dep.created_at).total_seconds() / 60.0,
    }


def _owners(svc: Service) -> list[Service]:
    """The configured services of a repository, each as a Service with its own deployments: the repository's
    service alone, or a monorepo's host and its path services (sharing its commits and pull requests)."""
    if not svc.path_services:
        return [svc]
    views = [replace(svc, deployments=[d for d in svc.deployments if d.service == svc.name])]
    for part in svc.path_services:
        views.append(
            replace(
                svc,
                name=part.name,
                pd_service_id=part.pd_service_id,
                pd_name=part.pd_name,
                staging_env=part.staging_env,
                production_env=part.production_env,
                deployments=[d for d in svc.deployments if d.service == part.name],
                path_services=[],
            )
        )
    return views


def build_truth(world: World, as_of: datetime | None = None) -> dict[str, pd.DataFrame]:
    """Compute the truth tables as DataFrames with tz-aware UTC timestamps, as of `as_of` (default the
    world's end; later moments are the end)."""
    from simulator.git_export import git_shas

    end = world.end if as_of is None else min(as_of, world.end)
    # Services whose code is a local clone (`git` delivery) are read from git: their SHAs as git wrote them.
    git_sha = git_shas(world)
    rows: dict[str, list[dict]] = {name: [] for name in SCHEMAS}
    incidents_by_cause: dict[int, list] = {}
    for inc in world.incidents:
        if inc.created_at > end:
            continue
        resolved = inc.resolved_at if inc.resolved_at is not None and inc.resolved_at <= end else None
        if inc.cause is not None:
            incidents_by_cause.setdefault(id(inc.cause), []).append(resolved)
        rows["incidents"].append(
            {
                "incident_id": inc.incident_id,
                "service": inc.service,
                "created_at": inc.created_at,
                "resolved_at": resolved,
                "deployment_id": inc.cause.source_id if inc.cause else None,
            }
        )

    for repo, svc in ((host, view) for host in world.services for view in _owners(host)):
        # fix branches deployed by then: their commit's deployment (off main: not in _FirstDeployment)
        fix_deployments = {
            dep.sha: dep
            for dep in svc.deployments
            if dep.fix_kind is not None and dep.deployed_at is not None and dep.deployed_at <= end
        }
        for dep in svc.deployments:
            deployed = dep.deployed_at
            if deployed is None or deployed > end or dep.source_id is None:
                continue  # (no source serves a tag-released service's staging rollouts)
            recovered = None
            signals: list[str] = []
            if dep.is_failure:
                candidates = [r for r in incidents_by_cause.get(id(dep), []) if r is not None]
                if id(dep) in incidents_by_cause:
                    signals.append("incident")
                if dep.rollback is not None and dep.rollback.deployed_at and dep.rollback.deployed_at <= end:
                    candidates.append(dep.rollback.deployed_at)
                    signals.append("rollback")
                fix = dep.fixed_by
                if fix is not None and fix.sha in fix_deployments:
                    candidates.append(fix.deployed_at)
                    signals.append(fix.fix_kind)
                elif fix is not None and fix.fix_kind == "revert" and svc.commits[fix.sha].authored_at <= end:
                    signals.append("revert")  # a revert blames once it is made, deployed or not
                recovered = min(candidates) if candidates else None
            rows["deployments"].append(
                {
                    "deployment_id": dep.source_id,
                    "service": svc.name,
                    "environment": dep.environment,
                    "commit_sha": git_sha.get(dep.sha, dep.sha),
                    "deployed_at": deployed,
                    "is_failure": dep.is_failure,
                    "recovered_at": recovered,
                    "failure_signals": sorted(signals),
                    "is_rework": dep.is_production
                    and (dep.description.startswith("Rollback") or dep.fix_kind is not None),
                    **_deployer_truth(world, repo, dep, end),
                }
            )

        first = _FirstDeployment(svc, end)
        # A commit exists at `end` when main reached it by then, or when it is on a PR opened by then: a
        # branch commit whose PR is opened only after `end` is invisible to anyone reading the APIs.
        opened_pr_commits = {
            sha for pr in svc.pulls if pr.opened_at <= end for sha in pr.shas_at(end, svc.commits)
        }
        for commit in svc.commits.values():
            if commit.committed_at > end:
                continue
            on_main = (
                commit.reach_index is not None
                and svc.commits[svc.main[commit.reach_index]].committed_at <= end
            )
            if not on_main and commit.sha not in opened_pr_commits:
                continue
            dep = fix_deployments.get(commit.sha) or first.of(commit.reach_index)
            rows["commits"].append(
                {
                    "commit_sha": git_sha.get(commit.sha, commit.sha),
                    "service": svc.name,
                    "authored_at": commit.authored_at,
                    "deployment_id": dep.source_id if dep else None,
                    "deployed_at": dep.deployed_at if dep else None,
                }
            )
        # Promotion staging -> production: when each main commit first reached each environment (the first
        # deployment there whose main position contains it). Services no staging rollout is seen for have
        # one environment, so no pair and no rows.
        staging = _FirstDeployment(svc, end, production=False)
        if staging.deps:
            for commit in svc.commits.values():
                if commit.reach_index is None or svc.commits[svc.main[commit.reach_index]].committed_at > end:
                    continue
                upstream = staging.of(commit.reach_index)
                if upstream is None:
                    continue
                downstream = first.of(commit.reach_index)
                rows["promotions"].append(
                    {
                        "service": svc.name,
                        "commit_sha": git_sha.get(commit.sha, commit.sha),
                        "upstream_environment": "staging",
                        "downstream_environment": "production",
                        "upstream_deployment_id": upstream.source_id,
                        "reached_upstream_at": upstream.deployed_at,
                        "downstream_deployment_id": downstream.source_id if downstream else None,
                        "reached_downstream_at": downstream.deployed_at if downstream else None,
                    }
                )
        for pr in svc.pulls:
            if pr.merged_at is None or pr.merged_at > end:
                continue
            owners = repo.owners(pr)
            if svc.name not in owners:
                continue
            merge_commit = svc.commits[pr.merge_commit_sha]
            dep = first.of(merge_commit.reach_index)
            reviews = [
                r.submitted_at
                for r in pr.reviews
                if r.reviewer.login != pr.author.login and r.submitted_at <= end
            ]
            sized = svc.on_github  # GitHub serves its size and reviews
            reviewed = any(
                r.reviewer.login != pr.author.login and r.submitted_at <= pr.merged_at for r in pr.reviews
            )
            started = (
                pr.opened_at
                if pr.rewritten_at is not None
                else min(svc.commits[s].authored_at for s in pr.commit_shas)
            )
            if repo.path_services:  # (one service: `changes` holds its rows already)
                rows["change_services"].append(
                    {
                        "service": svc.name,
                        "repository": repo.repository,
                        "pr_number": pr.number,
                        "commit_sha": None,
                        "started_at": started,
                        "merged_at": pr.merged_at,
                        "deployment_id": dep.source_id if dep else None,
                        "deployed_at": dep.deployed_at if dep else None,
                    }
                )
            if svc.name != owners[0]:
                continue  # a change is one row of `changes`, under the first of its services
            rows["changes"].append(
                {
                    "lines_changed": sum(pull_request_size(pr, len(pr.commit_shas))) if sized else None,
                    "is_reviewed_by_other": reviewed if sized else None,
                    "is_deployed_by_author": (
                        deployer(world, repo, dep).login == pr.author.login
                        if svc.delivery == "github" and dep
                        else None
                    ),
                    "service": svc.name,
                    "pr_number": pr.number,
                    "first_commit_at": min(svc.commits[s].authored_at for s in pr.commit_shas),
                    "opened_at": pr.opened_at,
                    "started_at": started,
                    "is_branch_rewritten": pr.rewritten_at is not None,
                    "first_review_at": min(reviews) if reviews else None,
                    "merged_at": pr.merged_at,
                    "deployment_id": dep.source_id if dep else None,
                    "deployed_at": dep.deployed_at if dep else None,
                }
            )
        # Direct pushes: main commits no pull request landed (single parent, not a squash commit), the
        # initial commit included. Each is its own change, "merged" when committed.
        # In a monorepo each counts for the services whose folders its files are in (Service.commit_owners).
        landed = {pr.merge_commit_sha for pr in svc.pulls if pr.merged_at is not None}
        for sha in svc.main:
            commit = svc.commits[sha]
            if sha in landed or len(commit.parents) > 1 or commit.committed_at > end:
                continue
            owners = repo.commit_owners(sha)
            if svc.name not in owners:
                continue
            dep = first.of(commit.reach_index)
            if repo.path_services:  # (one service: `changes` holds its rows already)
                rows["change_services"].append(
                    {
                        "service": svc.name,
                        "repository": repo.repository,
                        "pr_number": None,
                        "commit_sha": git_sha.get(sha, sha),
                        "started_at": commit.authored_at,
                        "merged_at": commit.committed_at,
                        "deployment_id": dep.source_id if dep else None,
                        "deployed_at": dep.deployed_at if dep else None,
                    }
                )
            if svc.name != owners[0]:
                continue  # a change is one row of `changes`, under the first of its services
            rows["changes"].append(
                {
                    "service": svc.name,
                    "pr_number": None,
                    "commit_sha": git_sha.get(sha, sha),
                    "first_commit_at": commit.authored_at,
                    "opened_at": None,
                    "started_at": commit.authored_at,
                    "is_branch_rewritten": False,
                    "first_review_at": None,
                    "merged_at": commit.committed_at,
                    # nobody could review a direct push
                    "is_reviewed_by_other": False if svc.on_github else None,
                    "deployment_id": dep.source_id if dep else None,
                    "deployed_at": dep.deployed_at if dep else None,
                }
            )

    frames = {}
    for name, schema in SCHEMAS.items():
        table = pa.Table.from_pylist(rows[name], schema=schema)
        frames[name] = table.to_pandas()
    return frames


def write_truth(world: World, folder: Path, as_of: datetime | None = None) -> list[Path]:
    """Write `<table>.parquet` for each truth table as of `as_of` into `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in build_truth(world, as_of).items():
        path = folder / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMAS[name], preserve_index=False), path)
        written.append(path)
    return written
