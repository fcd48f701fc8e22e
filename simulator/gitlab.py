"""GitLab REST v4 as gitlab.com serves it, for the services of a world that host their code on GitLab.

Merge requests are the world's pull requests (iid = number), their reviews become notes and approvals,
and every rollout is a pipeline with one deploy job and a deployment to its environment. Objects are
rendered "as of" a moment, like the GitHub side: a deployment still rolling out is `running` with no
`finished_at`, a merge request merged later is served `opened`.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from simulator.clock import parse_iso
from simulator.faults import current_listing_fault, shift_listing
from simulator.github import branch_tips, commit_filenames
from simulator.world import Commit, Deployment, Developer, PullRequest, Review, Service, World

WEB = "https://gitlab.example.com"
MAX_PER_PAGE = 100
# query parameters that page a listing rather than choose its rows; listings kept while clients page them
PAGING = ("page", "per_page", "id_after", "id_before")
LISTINGS_KEPT = 32


class GitLabError(Exception):
    """A GitLab error answer: status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.status = status
        self.body = {"message": message}


def _ms(ts: datetime) -> str:
    """GitLab writes timestamps with milliseconds and an explicit zone."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class GitLabApi:
    """Routes `/api/v4/...` requests to rendered objects; headers carry GitLab's pagination."""

    def __init__(self, world: World, root: str):
        self.world = world
        self.root = root.rstrip("/")  # the emulator's `.../gitlab`
        self.projects = [svc for svc in world.services if svc.delivery == "gitlab"]
        self.group_id = 9_000_000 + world.seed % 1000
        self.by_id = {svc.gitlab_id: svc for svc in self.projects}
        self.by_path = {svc.repository.lower(): svc for svc in self.projects}
        self._lock = threading.Lock()
        self._listings: OrderedDict[tuple, list] = OrderedDict()

    # ------------------------------------------------------------- rendering
    def user(self, dev: Developer) -> dict[str, Any]:
        return {
            "id": dev.user_id,
            "username": dev.login,
            "name": dev.name,
            "state": "active",
            "locked": False,
            "avatar_url": f"{WEB}/uploads/-/system/user/avatar/{dev.user_id}/avatar.png",
            "web_url": f"{WEB}/{dev.login}",
        }

    def project(self, svc: Service) -> dict[str, Any]:
        return {
            "id": svc.gitlab_id,
            "description": f"{svc.pd_name} ({svc.team} team)",
            "name": svc.name,
            "name_with_namespace": f"{self.world.org} / {svc.name}",
            "path": svc.name,
            "path_with_namespace": svc.repository,
            "created_at": _ms(svc.created_at),
            "default_branch": "main",
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@gitlab.example.com:{svc.repository}.git",
            "http_url_to_repo": f"{WEB}/{svc.repository}.git",
            "web_url": f"{WEB}/{svc.repository}",
            "readme_url": f"{WEB}/{svc.repository}/-/blob/main/README.md",
            "forks_count": 0,
            "avatar_url": None,
            "star_count": 0,
            "last_activity_at": _ms(self.world.end),
            "namespace": {
                "id": self.group_id,
                "name": self.world.org,
                "path": self.world.org,
                "kind": "group",
                "full_path": self.world.org,
                "parent_id": None,
                "avatar_url": None,
                "web_url": f"{WEB}/groups/{self.world.org}",
            },
            "visibility": "private",
            "archived": False,
            "empty_repo": False,
            "merge_method": "merge",
            "squash_option": "default_off",
            "_links": {
                "self": f"{self.root}/api/v4/projects/{svc.gitlab_id}",
                "merge_requests": f"{self.root}/api/v4/projects/{svc.gitlab_id}/merge_requests",
                "issues": f"{self.root}/api/v4/projects/{svc.gitlab_id}/issues",
                "repo_branches": f"{self.root}/api/v4/projects/{svc.gitlab_id}/repository/branches",
                "labels": f"{self.root}/api/v4/projects/{svc.gitlab_id}/labels",
                "events": f"{self.root}/api/v4/projects/{svc.gitlab_id}/events",
                "members": f"{self.root}/api/v4/projects/{svc.gitlab_id}/members",
            },
            "permissions": {
                "project_access": {"access_level": 30, "notification_level": 3},
                "group_access": None,
            },
            "creator_id": svc.developers[0].user_id,
            "import_status": "none",
            "open_issues_count": 0,
            "ci_config_path": None,
            "shared_with_groups": [],
            "approvals_before_merge": 1,
            "only_allow_merge_if_pipeline_succeeds": True,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "printing_merge_request_link_enabled": True,
            "request_access_enabled": False,
            "resolve_outdated_diff_discussions": False,
            "public_jobs": False,
            "shared_runners_enabled": True,
            "lfs_enabled": True,
            "container_registry_enabled": False,
            **{
                f"{feature}_enabled": feature in ("issues", "merge_requests", "jobs")
                for feature in ("issues", "merge_requests", "jobs", "wiki", "snippets")
            },
        }

    def _message(self, svc: Service, commit: Commit) -> str:
        """GitLab's merge commit message, where the world wrote GitHub's."""
        m = re.match(r"Merge pull request #(\d+) from \S+?/(\S+)\n\n(.*)", commit.message, re.S)
        if not m:
            return commit.message
        number, branch, title = m.groups()
        return (
            f"Merge branch '{branch}' into 'main'\n\n{title}\n\nSee merge request {svc.repository}!{number}"
        )

    def commit(self, svc: Service, commit: Commit) -> dict[str, Any]:
        committer = commit.committer or Developer("gitlab", 1, "GitLab", "noreply@gitlab.example.com")
        message = self._message(svc, commit)
        return {
            "id": commit.sha,
            "short_id": commit.sha[:8],
            "created_at": _ms(commit.committed_at),
            "parent_ids": list(commit.parents),
            "title": message.splitlines()[0],
            "message": message,
            "author_name": commit.author.name,
            "author_email": commit.author.email,
            "authored_date": _ms(commit.authored_at),
            "committer_name": committer.name,
            "committer_email": committer.email,
            "committed_date": _ms(commit.committed_at),
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{WEB}/{svc.repository}/-/commit/{commit.sha}",
        }

    def branch(self, svc: Service, name: str, tip: Commit) -> dict[str, Any]:
        """A branch as `/repository/branches` serves it; `main` is the protected default branch."""
        main = name == "main"
        return {
            "name": name,
            "commit": self.commit(svc, tip),
            "merged": False,
            "protected": main,
            "developers_can_push": False,
            "developers_can_merge": False,
            "can_push": True,
            "default": main,
            "web_url": f"{WEB}/{svc.repository}/-/tree/{name}",
        }

    def _mr_state(self, pr: PullRequest, now: datetime) -> str:
        if pr.merged_at is not None and pr.merged_at <= now:
            return "merged"
        if pr.closed_at is not None and pr.closed_at <= now:
            return "closed"
        return "opened"

    def _mr_updated(self, pr: PullRequest, now: datetime) -> datetime:
        times = [pr.opened_at] + [r.submitted_at for r in pr.reviews if r.submitted_at <= now]
        times += [t for t in (pr.merged_at, pr.closed_at, pr.rewritten_at) if t is not None and t <= now]
        return max(times)

    def merge_request(self, svc: Service, pr: PullRequest, now: datetime) -> dict[str, Any]:
        state = self._mr_state(pr, now)
        merged = state == "merged"
        head = pr.shas_at(now, svc.commits) or pr.commit_shas[:1]
        reviewers = {r.reviewer.login: r.reviewer for r in pr.reviews if r.reviewer.login != pr.author.login}
        notes = [r for r in pr.reviews if r.submitted_at <= now]
        squash = pr.merge_method == "squash"
        return {
            "id": pr.pr_id,
            "iid": pr.number,
            "project_id": svc.gitlab_id,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "created_at": _ms(pr.opened_at),
            "updated_at": _ms(self._mr_updated(pr, now)),
            "merged_by": self.user(pr.merged_by) if merged and pr.merged_by else None,
            "merge_user": self.user(pr.merged_by) if merged and pr.merged_by else None,
            "merged_at": _ms(pr.merged_at) if merged and pr.merged_at else None,
            "closed_by": self.user(pr.author) if state == "closed" else None,
            "closed_at": _ms(pr.closed_at) if state == "closed" and pr.closed_at else None,
            "target_branch": "main",
            "source_branch": pr.branch,
            "user_notes_count": len(notes),
            "upvotes": 0,
            "downvotes": 0,
            "author": self.user(pr.author),
            "assignees": [],
            "assignee": None,
            "reviewers": [self.user(dev) for dev in reviewers.values()],
            "source_project_id": svc.gitlab_id,
            "target_project_id": svc.gitlab_id,
            "labels": [],
            "draft": False,
            "work_in_progress": False,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "not_open" if state != "opened" else "mergeable",
            "sha": head[-1],
            "merge_commit_sha": pr.merge_commit_sha if merged and not squash else None,
            "squash_commit_sha": pr.merge_commit_sha if merged and squash else None,
            "discussion_locked": None,
            "should_remove_source_branch": True,
            "force_remove_source_branch": True,
            "reference": f"!{pr.number}",
            "references": {
                "short": f"!{pr.number}",
                "relative": f"!{pr.number}",
                "full": f"{svc.repository}!{pr.number}",
            },
            "web_url": f"{WEB}/{svc.repository}/-/merge_requests/{pr.number}",
            "squash": squash,
            "squash_on_merge": squash,
            "has_conflicts": False,
            "blocking_discussions_resolved": True,
            "allow_collaboration": False,
            "allow_maintainer_to_push": False,
            "subscribed": False,
            "changes_count": str(len(pr.commit_shas)),
            "diff_refs": {"base_sha": pr.base_sha, "head_sha": head[-1], "start_sha": pr.base_sha},
            "pipeline": None,  # merge request pipelines are not modelled; deploy pipelines run on main
            "latest_build_started_at": None,
            "latest_build_finished_at": None,
            # GitLab fills this from its own deployment tracking; left null so nothing downstream leans on
            # a field that GitLab's list endpoints do not serve
            "first_deployed_to_production_at": None,
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
        }

    def note(self, svc: Service, pr: PullRequest, review: Review) -> dict[str, Any]:
        approved = review.state == "APPROVED"
        return {
            "id": review.review_id,
            "type": None if approved else "DiscussionNote",
            "body": "approved this merge request" if approved else review.body,
            "attachment": None,
            "author": self.user(review.reviewer),
            "created_at": _ms(review.submitted_at),
            "updated_at": _ms(review.submitted_at),
            "system": approved,
            "noteable_id": pr.pr_id,
            "noteable_type": "MergeRequest",
            "project_id": svc.gitlab_id,
            "resolvable": not approved,
            "resolved": False if not approved else None,
            "confidential": False,
            "internal": False,
            "noteable_iid": pr.number,
            "commands_changes": {},
        }

    def diffs(self, svc: Service, pr: PullRequest, now: datetime) -> list[dict[str, Any]]:
        """The files a merge request changes as of `now`, as `/merge_requests/:iid/diffs` lists them: every
        file its commits change, once, by path (the same files GitHub's `/pulls/{n}/files` serves)."""
        paths = sorted(
            {name for sha in pr.shas_at(now, svc.commits) for name in commit_filenames(svc, svc.commits[sha])}
        )
        return [
            {
                "old_path": path,
                "new_path": path,
                "a_mode": "100644",
                "b_mode": "100644",
                "new_file": False,
                "renamed_file": False,
                "deleted_file": False,
                "generated_file": False,
                "diff": "@@ -1,3 +1,4 @@\n-old\n+new\n",
            }
            for path in paths
        ]

    def commit_diff(self, svc: Service, commit: Commit) -> list[dict[str, Any]]:
        """The files a commit changes, as `/repository/commits/:sha/diff` lists them: those GitHub's commit
        detail serves for it (a monorepo's commits the world's recorded files)."""
        return [
            {
                "old_path": path,
                "new_path": path,
                "a_mode": "100644",
                "b_mode": "100644",
                "new_file": False,
                "renamed_file": False,
                "deleted_file": False,
                "generated_file": False,
                "diff": "@@ -1,3 +1,4 @@\n-old\n+new\n",
            }
            for path in commit_filenames(svc, commit)
        ]

    def approvals(self, svc: Service, pr: PullRequest, now: datetime) -> dict[str, Any]:
        approvals = [
            r
            for r in pr.reviews
            if r.state == "APPROVED" and r.submitted_at <= now and r.reviewer.login != pr.author.login
        ]
        return {
            "id": pr.pr_id,
            "iid": pr.number,
            "project_id": svc.gitlab_id,
            "title": pr.title,
            "description": pr.body,
            "state": self._mr_state(pr, now),
            "created_at": _ms(pr.opened_at),
            "updated_at": _ms(self._mr_updated(pr, now)),
            "merge_status": "can_be_merged",
            "approved": bool(approvals),
            "approvals_required": 1,
            "approvals_left": 0 if approvals else 1,
            "require_password_to_approve": False,
            "approved_by": [
                {"user": self.user(r.reviewer), "approved_at": _ms(r.submitted_at)} for r in approvals
            ],
            "suggested_approvers": [],
            "approvers": [],
            "approver_groups": [],
            "user_has_approved": False,
            "user_can_approve": False,
            "approval_rules_left": [],
            "has_approval_rules": True,
            "merge_request_approvers_available": True,
            "multiple_approval_rules_available": True,
            "invalid_approvers_rules": [],
        }

    @staticmethod
    def pipeline_id(dep: Deployment) -> int:
        """Pipelines are numbered with their deployments (both in creation order)."""
        return int(dep.source_id or 0) * 2 + 1_000_000

    @staticmethod
    def job_id(dep: Deployment) -> int:
        return int(dep.source_id or 0) * 11 + 5_000_000_000

    def environment_id(self, svc: Service, name: str) -> int:
        return svc.gitlab_id % 1_000_000 * 10 + (2 if name == svc.production_env else 1)

    def _status(self, dep: Deployment, now: datetime) -> tuple[str, datetime, datetime | None]:
        """(status, updated_at, finished_at) as of `now`."""
        if dep.finished_at <= now:
            return ("success" if dep.deployed_at else "failed"), dep.finished_at, dep.finished_at
        if dep.statuses[0].created_at <= now:
            return "running", dep.statuses[0].created_at, None
        return "created", dep.created_at, None

    def pipeline(self, svc: Service, dep: Deployment, now: datetime) -> dict[str, Any]:
        status, updated, _ = self._status(dep, now)
        pid = self.pipeline_id(dep)
        return {
            "id": pid,
            "iid": dep.source_number,
            "project_id": svc.gitlab_id,
            "sha": dep.sha,
            "ref": "main",
            "status": status,
            "source": "push" if dep.ref == "main" else "web",
            "created_at": _ms(dep.created_at),
            "updated_at": _ms(updated),
            "web_url": f"{WEB}/{svc.repository}/-/pipelines/{pid}",
            "name": None,
        }

    def job(self, svc: Service, dep: Deployment, now: datetime) -> dict[str, Any]:
        status, _, finished = self._status(dep, now)
        started = dep.statuses[0].created_at if dep.statuses[0].created_at <= now else None
        jid = self.job_id(dep)
        commit = self.commit(svc, svc.commits[dep.sha])
        return {
            "id": jid,
            "status": status,
            "stage": "deploy",
            "name": f"deploy-{dep.environment}",
            "ref": "main",
            "tag": False,
            "coverage": None,
            "allow_failure": False,
            "created_at": _ms(dep.created_at),
            "started_at": _ms(started) if started else None,
            "finished_at": _ms(finished) if finished else None,
            "erased_at": None,
            "duration": (finished - started).total_seconds() if finished and started else None,
            "queued_duration": (started - dep.created_at).total_seconds() if started else None,
            "user": self.user(svc.developers[0]),
            "commit": commit,
            "pipeline": self.pipeline(svc, dep, now),
            "web_url": f"{WEB}/{svc.repository}/-/jobs/{jid}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": [],
            "runner": None,
            "artifacts_expire_at": None,
            "archived": False,
            "tag_list": [],
            **({"failure_reason": "script_failure"} if status == "failed" else {}),
        }

    def environment(self, svc: Service, name: str) -> dict[str, Any]:
        return {
            "id": self.environment_id(svc, name),
            "name": name,
            "slug": name,
            "external_url": f"https://{name}.{svc.name}.acme.example",
            "state": "available",
            "tier": "production" if name == svc.production_env else "staging",
            "created_at": _ms(self.world.start),
            "updated_at": _ms(self.world.start),
        }

    def deployment(self, svc: Service, dep: Deployment, now: datetime) -> dict[str, Any]:
        status, updated, finished = self._status(dep, now)
        deployable = self.job(svc, dep, now)
        return {
            "id": int(dep.source_id or 0),
            "iid": dep.source_number,
            "ref": "main",
            "sha": dep.sha,
            "created_at": _ms(dep.created_at),
            "updated_at": _ms(updated),
            "finished_at": _ms(finished) if finished else None,
            "status": status,
            "user": deployable["user"],
            "environment": self.environment(svc, dep.environment),
            "deployable": deployable,
        }

    # --------------------------------------------------------------- routing
    def _project(self, key: str) -> Service:
        key = unquote(key)
        svc = self.by_id.get(int(key)) if key.isdigit() else self.by_path.get(key.lower())
        if svc is None:
            raise GitLabError(404, "404 Project Not Found")
        return svc

    def route(self, path: str, target: str, now: datetime) -> tuple[Any, dict[str, str]]:
        """Answer `path` (below `/api/v4`); returns the JSON payload and extra headers."""
        params = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
        if path == "/projects":
            projects = sorted(self.projects, key=lambda s: s.gitlab_id)
            if params.get("sort", "desc") == "desc":
                projects.reverse()
            return self._page([self.project(s) for s in projects], params, target)
        m = re.fullmatch(r"/groups/([^/]+)/projects", path)
        if m:
            group = unquote(m.group(1))
            if group.lower() != self.world.org.lower() and group != str(self.group_id):
                raise GitLabError(404, "404 Group Not Found")
            projects = sorted(self.projects, key=lambda s: s.gitlab_id)
            if params.get("sort", "asc") == "desc":
                projects.reverse()
            return self._page([self.project(s) for s in projects], params, target)
        m = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        if not m:
            raise GitLabError(404, "404 Not Found")
        svc = self._project(m.group(1))
        rest = m.group(2) or ""
        if rest == "":
            return self.project(svc), {}
        if rest == "/repository/commits":
            rows = self._listed(("commits", svc.name, now, params), lambda: self._commits(svc, params, now))
            return self._page(rows, params, target)
        if rest == "/repository/branches":
            tips = branch_tips(svc, now)
            if "search" in params:
                tips = [(name, tip) for name, tip in tips if params["search"].lower() in name.lower()]
            return self._page([self.branch(svc, name, tip) for name, tip in tips], params, target)
        m = re.fullmatch(r"/repository/branches/(.+)", rest)
        if m:
            tip = dict(branch_tips(svc, now)).get(unquote(m.group(1)))
            if tip is None:
                raise GitLabError(404, "404 Branch Not Found")
            return self.branch(svc, unquote(m.group(1)), tip), {}
        m = re.fullmatch(r"/repository/commits/([0-9a-f]+)/diff", rest)
        if m:
            commit = svc.commits.get(m.group(1))
            if commit is None or commit.committed_at > now:
                raise GitLabError(404, "404 Commit Not Found")
            return self._page(self.commit_diff(svc, commit), params, target)
        if rest == "/merge_requests":
            rows = self._listed(
                ("mrs", svc.name, now, params), lambda: self._merge_requests(svc, params, now)
            )
            return self._page(rows, params, target)
        m = re.fullmatch(r"/merge_requests/(\d+)(/notes|/approvals|/commits|/diffs)?", rest)
        if m:
            number = int(m.group(1))
            pr = svc.pulls[number - 1] if 0 < number <= len(svc.pulls) else None
            if pr is None or pr.opened_at > now:
                raise GitLabError(404, "404 Not found")
            if m.group(2) is None:
                return self.merge_request(svc, pr, now), {}
            if m.group(2) == "/approvals":
                return self.approvals(svc, pr, now), {}
            if m.group(2) == "/notes":
                notes = sorted((r for r in pr.reviews if r.submitted_at <= now), key=lambda r: r.submitted_at)
                if params.get("sort", "desc") == "desc":
                    notes.reverse()
                return self._page([self.note(svc, pr, r) for r in notes], params, target)
            if m.group(2) == "/diffs":
                return self._page(self.diffs(svc, pr, now), params, target)
            commits = [svc.commits[s] for s in pr.shas_at(now, svc.commits)]
            commits.reverse()  # newest first, as GitLab lists them
            return self._page([self.commit(svc, c) for c in commits], params, target)
        # deployments are kept in creation order: those created by `now` are a prefix
        deps = svc.deployments[: bisect_right(svc.deployments, now, key=lambda d: d.created_at)]
        if rest == "/pipelines":
            rows = self._listed(
                ("pipelines", svc.name, now, params),
                lambda: self._changed([self.pipeline(svc, d, now) for d in deps], params, "id"),
            )
            return self._page(rows, params, target)
        m = re.fullmatch(r"/pipelines/(\d+)(/jobs)?", rest)
        if m:
            dep = next((d for d in deps if self.pipeline_id(d) == int(m.group(1))), None)
            if dep is None:
                raise GitLabError(404, "404 Not found")
            if m.group(2) is None:
                return self.pipeline(svc, dep, now), {}
            return self._page([self.job(svc, dep, now)], params, target)
        if rest == "/environments":
            names = [svc.staging_env, svc.production_env]
            return self._page([self.environment(svc, n) for n in names], params, target)
        if rest == "/deployments":
            return self._page(
                self._listed(
                    ("deployments", svc.name, now, params), lambda: self._deployments(svc, deps, params, now)
                ),
                params,
                target,
            )
        m = re.fullmatch(r"/deployments/(\d+)", rest)
        if m:
            dep = next((d for d in deps if d.source_id == m.group(1)), None)
            if dep is None:
                raise GitLabError(404, "404 Not found")
            return self.deployment(svc, dep, now), {}
        if rest in ("/releases", "/repository/tags"):
            return self._page([], params, target)  # GitLab teams here deploy through environments
        raise GitLabError(404, "404 Not Found")

    def _deployments(self, svc: Service, deps: list[Deployment], params: dict[str, str], now: datetime):
        rendered = [self.deployment(svc, d, now) for d in deps]
        if "environment" in params:
            rendered = [r for r in rendered if r["environment"]["name"] == params["environment"]]
        if "status" in params:
            rendered = [r for r in rendered if r["status"] == params["status"]]
        return self._changed(rendered, params, "id")

    def _listed(self, key: tuple, produce: Callable[[], list]) -> list:
        """A listing's rows as of `now` (in `key`, with the filters), produced once while a client pages
        through it: a page then costs the page, not a pass over the project's whole history."""
        name, project, now, params = key
        key = (name, project, now, tuple(sorted((k, v) for k, v in params.items() if k not in PAGING)))
        with self._lock:
            rows = self._listings.get(key)
            if rows is not None:
                self._listings.move_to_end(key)
                return rows
        rows = produce()
        with self._lock:
            self._listings[key] = rows
            while len(self._listings) > LISTINGS_KEPT:
                self._listings.popitem(last=False)
        return rows

    def _changed(self, rows: list[dict], params: dict[str, str], default_order: str) -> list[dict]:
        """`updated_after`/`updated_before` (inclusive, as GitLab compares), `order_by`, `sort`."""
        if "updated_after" in params:
            after = parse_iso(params["updated_after"])
            rows = [r for r in rows if parse_iso(r["updated_at"]) >= after]
        if "updated_before" in params:
            before = parse_iso(params["updated_before"])
            rows = [r for r in rows if parse_iso(r["updated_at"]) <= before]
        order = params.get("order_by", default_order)
        if order not in ("id", "iid", "created_at", "updated_at", "finished_at"):
            raise GitLabError(400, "order_by does not have a valid value")
        rows.sort(key=lambda r: (r.get(order) or "", r["id"]), reverse=params.get("sort", "desc") == "desc")
        return rows

    def _commits(self, svc: Service, params: dict[str, str], now: datetime) -> list[dict[str, Any]]:
        """`all=true`: every branch's commits; else those reachable from `ref_name` (default: main)."""
        visible_prs = {s for pr in svc.pulls if pr.opened_at <= now for s in pr.shas_at(now, svc.commits)}
        on_main = set(svc.main)
        ref = params.get("ref_name", "main")
        everything = params.get("all", "false").lower() == "true"
        reachable: set[str] | None = None
        if not everything and ref != "main":
            tip = dict(branch_tips(svc, now)).get(ref)
            if tip is None and re.fullmatch(r"[0-9a-f]{40}", ref) and ref in svc.commits:
                tip = svc.commits[ref]
            if tip is None:
                raise GitLabError(404, "404 Reference Not Found")
            reachable, stack = set(), [tip.sha]
            while stack:
                sha = stack.pop()
                if sha not in reachable and sha in svc.commits:
                    reachable.add(sha)
                    stack.extend(svc.commits[sha].parents)
        commits = []
        for commit in svc.commits.values():
            if commit.committed_at > now:
                continue
            reached = (
                commit.reach_index is not None
                and svc.commits[svc.main[commit.reach_index]].committed_at <= now
            )
            if everything:
                if reached or commit.sha in visible_prs:
                    commits.append(commit)
            elif reachable is not None:
                if commit.sha in reachable:
                    commits.append(commit)
            elif reached or commit.sha in on_main:
                commits.append(commit)
        if "since" in params:
            since = parse_iso(params["since"])
            commits = [c for c in commits if c.committed_at >= since]
        if "until" in params:
            until = parse_iso(params["until"])
            commits = [c for c in commits if c.committed_at <= until]
        commits.sort(key=lambda c: (c.committed_at, c.reach_index or 0), reverse=True)
        return [self.commit(svc, c) for c in commits]

    def _merge_requests(self, svc: Service, params: dict[str, str], now: datetime) -> list[dict[str, Any]]:
        pulls = [pr for pr in svc.pulls if pr.opened_at <= now]
        state = params.get("state", "all")
        if state in ("opened", "merged", "closed"):
            pulls = [pr for pr in pulls if self._mr_state(pr, now) == state]
        elif state not in ("all",):
            raise GitLabError(400, "state does not have a valid value")
        rendered = [self.merge_request(svc, pr, now) for pr in pulls]
        if "created_after" in params:
            after = parse_iso(params["created_after"])
            rendered = [r for r in rendered if parse_iso(r["created_at"]) >= after]
        return self._changed(rendered, params, "created_at")

    def _page(self, items: list, params: dict[str, str], target: str) -> tuple[list, dict[str, str]]:
        """Offset pagination with GitLab's headers, or keyset (`pagination=keyset`, ordered by id)."""
        try:
            per_page = max(1, min(MAX_PER_PAGE, int(params.get("per_page", 20))))
            page = max(1, int(params.get("page", 1)))
        except ValueError:
            raise GitLabError(400, "per_page is invalid") from None
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}

        def link(**changes: str) -> str:
            return f"{self.root}{parts.path[len('/gitlab') :]}?{urlencode({**query, **changes})}"

        if params.get("pagination") == "keyset":
            descending = params.get("sort", "asc") == "desc"
            after = int(params.get("id_before" if descending else "id_after", 0) or 0)
            rest = [i for i in items if (i["id"] < after if descending and after else i["id"] > after)]
            chunk = rest[:per_page]
            headers = {}
            if len(rest) > per_page:
                key = "id_before" if descending else "id_after"
                headers["Link"] = f'<{link(**{key: str(chunk[-1]["id"])})}>; rel="next"'
            return chunk, headers
        items = shift_listing(items, per_page, current_listing_fault())  # keyset paging cannot shift
        total = len(items)
        pages = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        rels = []
        if page > 1:
            rels.append(f'<{link(page=str(page - 1), per_page=str(per_page))}>; rel="prev"')
        if page < pages:
            rels.append(f'<{link(page=str(page + 1), per_page=str(per_page))}>; rel="next"')
        rels.append(f'<{link(page="1", per_page=str(per_page))}>; rel="first"')
        rels.append(f'<{link(page=str(pages), per_page=str(per_page))}>; rel="last"')
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "Link": ", ".join(rels),
        }
        return chunk, headers
