"""GitHub REST object shapes, built the way api.github.com serves them.

Field names, nesting and null-ness follow GitHub's published OpenAPI description (`minimal-repository`,
`pull-request-simple`, `pull-request`, `commit`, `short-branch`, `pull-request-review`, `deployment`,
`deployment-status`);
the contract tests hold us to it. Every object is rendered "as of" a moment, so a PR merged later is served
open, and a deployment's `updated_at` moves with its latest visible status.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from simulator.automation import DEPLOY_BOT, deployer, is_automation, pull_request_size
from simulator.clock import iso
from simulator.world import (
    Commit,
    Deployment,
    DeploymentStatus,
    Developer,
    ForkHead,
    PullRequest,
    Review,
    Service,
    WorkflowRun,
    World,
)

HTML = "https://github.com"
WEB_FLOW = Developer("web-flow", 19864447, "GitHub", "noreply@github.com")


def branch_tips(svc: Service, now: datetime) -> list[tuple[str, Commit]]:
    """The repository's branches at `now`, by name, with their tips: `main` (its newest first-parent commit
    committed by then) and the branch of every pull request opened and neither merged nor closed by then
    (its newest commit by then); merged branches are deleted, as teams set GitHub and GitLab to do."""
    tips: dict[str, Commit] = {}
    main = [svc.commits[sha] for sha in svc.main if svc.commits[sha].committed_at <= now]
    if main:
        tips["main"] = main[-1]
    for pr in svc.pulls:
        ended = any(at is not None and at <= now for at in (pr.merged_at, pr.closed_at))
        if pr.opened_at > now or ended:
            continue
        shas = pr.shas_at(now, svc.commits)
        if shas:
            tips[pr.branch] = svc.commits[shas[-1]]
    return sorted(tips.items())


def node_id(kind: str, value: Any) -> str:
    """An opaque global node id, stable per object."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def commit_filenames(svc: Service, commit: Commit) -> list[str]:
    """The files a commit changes as its detail serves them: a monorepo's commits those the world recorded,
    any other commit one file of its own."""
    return svc.files.get(commit.sha) or [
        f"src/{svc.name.replace('-', '_')}/module_{int(commit.sha[2:4], 16) % 12}.py"
    ]


class Renderer:
    """Builds GitHub JSON objects whose URLs point back at the emulator's base URL."""

    def __init__(self, world: World, api: str):
        self.world = world
        self.api = api.rstrip("/")
        self._repo_cache: dict[str, dict[str, Any]] = {}
        # a user's object depends on its login, id and kind only: rendered once, copied on every use
        self._users: dict[tuple[str, int, bool], dict[str, Any]] = {}
        # per service: (its pull requests' count when built, its first pull request by head SHA)
        self._heads: dict[str, tuple[int, dict[str, PullRequest]]] = {}

    # ------------------------------------------------------------------ users
    def user(self, dev: Developer, bot: bool = False) -> dict[str, Any]:
        key = (dev.login, dev.user_id, bot)
        rendered = self._users.get(key)
        if rendered is None:
            rendered = self._users[key] = self._user(dev.login, dev.user_id, bot)
        return dict(rendered)

    def _user(self, login: str, user_id: int, bot: bool) -> dict[str, Any]:
        api = self.api
        return {
            "login": login,
            "id": user_id,
            "node_id": node_id("User", user_id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": f"{api}/users/{login}",
            "html_url": f"{HTML}/{login}",
            "followers_url": f"{api}/users/{login}/followers",
            "following_url": f"{api}/users/{login}/following{{/other_user}}",
            "gists_url": f"{api}/users/{login}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{login}/subscriptions",
            "organizations_url": f"{api}/users/{login}/orgs",
            "repos_url": f"{api}/users/{login}/repos",
            "events_url": f"{api}/users/{login}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{login}/received_events",
            "type": "Bot" if bot or login.endswith("[bot]") else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def org_owner(self) -> dict[str, Any]:
        owner = self.user(Developer(self.world.org, 90000001, self.world.org, ""))
        owner["type"] = "Organization"
        return owner

    # ------------------------------------------------------------ repositories
    def repository(self, svc: Service) -> dict[str, Any]:
        """The full repository object; lists serve the same keys (a superset of minimal-repository)."""
        cached = self._repo_cache.get(svc.name)
        if cached is not None:
            return cached
        api, full = self.api, svc.repository
        base = f"{api}/repos/{full}"
        repo = {
            "id": svc.repo_id,
            "node_id": node_id("Repository", svc.repo_id),
            "name": svc.name,
            "full_name": full,
            "private": True,
            "owner": self.org_owner(),
            "html_url": f"{HTML}/{full}",
            "description": f"{svc.pd_name} ({svc.team} team)",
            "fork": False,
            "url": base,
            "forks_url": f"{base}/forks",
            "keys_url": f"{base}/keys{{/key_id}}",
            "collaborators_url": f"{base}/collaborators{{/collaborator}}",
            "teams_url": f"{base}/teams",
            "hooks_url": f"{base}/hooks",
            "issue_events_url": f"{base}/issues/events{{/number}}",
            "events_url": f"{base}/events",
            "assignees_url": f"{base}/assignees{{/user}}",
            "branches_url": f"{base}/branches{{/branch}}",
            "tags_url": f"{base}/tags",
            "blobs_url": f"{base}/git/blobs{{/sha}}",
            "git_tags_url": f"{base}/git/tags{{/sha}}",
            "git_refs_url": f"{base}/git/refs{{/sha}}",
            "trees_url": f"{base}/git/trees{{/sha}}",
            "statuses_url": f"{base}/statuses/{{sha}}",
            "languages_url": f"{base}/languages",
            "stargazers_url": f"{base}/stargazers",
            "contributors_url": f"{base}/contributors",
            "subscribers_url": f"{base}/subscribers",
            "subscription_url": f"{base}/subscription",
            "commits_url": f"{base}/commits{{/sha}}",
            "git_commits_url": f"{base}/git/commits{{/sha}}",
            "comments_url": f"{base}/comments{{/number}}",
            "issue_comment_url": f"{base}/issues/comments{{/number}}",
            "contents_url": f"{base}/contents/{{+path}}",
            "compare_url": f"{base}/compare/{{base}}...{{head}}",
            "merges_url": f"{base}/merges",
            "archive_url": f"{base}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{base}/downloads",
            "issues_url": f"{base}/issues{{/number}}",
            "pulls_url": f"{base}/pulls{{/number}}",
            "milestones_url": f"{base}/milestones{{/number}}",
            "notifications_url": f"{base}/notifications{{?since,all,participating}}",
            "labels_url": f"{base}/labels{{/name}}",
            "releases_url": f"{base}/releases{{/id}}",
            "deployments_url": f"{base}/deployments",
            "created_at": iso(svc.created_at),
            "updated_at": iso(self.world.end),
            "pushed_at": iso(self.world.end),
            "git_url": f"git://github.com/{full}.git",
            "ssh_url": f"git@github.com:{full}.git",
            "clone_url": f"{HTML}/{full}.git",
            "svn_url": f"{HTML}/{full}",
            "homepage": None,
            "size": 1000 + svc.repo_id % 9000,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": "main",
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        }
        self._repo_cache[svc.name] = repo
        return repo

    # ----------------------------------------------------------- pull requests
    @staticmethod
    def _pull_at(svc: Service, pr: PullRequest, now: datetime) -> tuple[bool, bool, list[str], datetime]:
        """A pull request as of `now`: merged, closed, its visible commits, its last update."""
        merged = pr.merged_at is not None and pr.merged_at <= now
        closed = pr.closed_at is not None and pr.closed_at <= now
        visible_commits = pr.shas_at(now, svc.commits)
        events = [pr.opened_at] + [svc.commits[s].committed_at for s in visible_commits]
        events += [r.submitted_at for r in pr.reviews if r.submitted_at <= now]
        if closed:
            events.append(pr.closed_at)
        return merged, closed, visible_commits, max(events)

    def pull_order(self, svc: Service, pr: PullRequest, now: datetime) -> dict[str, Any]:
        """The fields of `pull` a listing sorts and filters by (`created_at`, `updated_at`, `state`,
        `merged_at`), without rendering the rest: a listing ordered by update ranks every pull request of
        the repository."""
        merged, closed, _, updated = self._pull_at(svc, pr, now)
        return {
            "created_at": iso(pr.opened_at),
            "updated_at": iso(updated),
            "state": "closed" if closed else "open",
            "merged_at": iso(pr.merged_at) if merged else None,
        }

    def pull(self, svc: Service, pr: PullRequest, now: datetime, full: bool = False) -> dict[str, Any]:
        api, full_name = self.api, svc.repository
        base = f"{api}/repos/{full_name}"
        merged, closed, visible_commits, updated = self._pull_at(svc, pr, now)
        head_sha = visible_commits[-1] if visible_commits else pr.commit_shas[0]
        html = f"{HTML}/{full_name}/pull/{pr.number}"
        author = self.user(pr.author)
        repo = self.repository(svc)
        if merged:
            merge_sha = pr.merge_commit_sha
        elif closed:
            merge_sha = None
        else:
            merge_sha = pr.test_merge_sha
        obj: dict[str, Any] = {
            "url": f"{base}/pulls/{pr.number}",
            "id": pr.pr_id,
            "node_id": node_id("PullRequest", pr.pr_id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{base}/issues/{pr.number}",
            "number": pr.number,
            "state": "closed" if closed else "open",
            "locked": False,
            "title": pr.title,
            "user": author,
            "body": pr.body,
            "created_at": iso(pr.opened_at),
            "updated_at": iso(updated),
            "closed_at": iso(pr.closed_at) if closed else None,
            "merged_at": iso(pr.merged_at) if merged else None,
            "merge_commit_sha": merge_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [],
            "milestone": None,
            "draft": False,
            "commits_url": f"{base}/pulls/{pr.number}/commits",
            "review_comments_url": f"{base}/pulls/{pr.number}/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}",
            "comments_url": f"{base}/issues/{pr.number}/comments",
            "statuses_url": f"{base}/statuses/{head_sha}",
            "head": {
                "label": f"{self.world.org}:{pr.branch}",
                "ref": pr.branch,
                "sha": head_sha,
                "user": self.org_owner(),
                "repo": repo,
            },
            "base": {
                "label": f"{self.world.org}:main",
                "ref": "main",
                "sha": pr.base_sha,
                "user": self.org_owner(),
                "repo": repo,
            },
            "_links": {
                "self": {"href": f"{base}/pulls/{pr.number}"},
                "html": {"href": html},
                "issue": {"href": f"{base}/issues/{pr.number}"},
                "comments": {"href": f"{base}/issues/{pr.number}/comments"},
                "review_comments": {"href": f"{base}/pulls/{pr.number}/comments"},
                "review_comment": {"href": f"{base}/pulls/comments{{/number}}"},
                "commits": {"href": f"{base}/pulls/{pr.number}/commits"},
                "statuses": {"href": f"{base}/statuses/{head_sha}"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            n_reviews = sum(1 for r in pr.reviews if r.submitted_at <= now)
            obj.update(
                {
                    "merged": merged,
                    "mergeable": None if closed else True,
                    "rebaseable": None if closed else True,
                    "mergeable_state": "unknown" if closed else "clean",
                    "merged_by": self.user(pr.merged_by) if merged and pr.merged_by else None,
                    "comments": 0,
                    "review_comments": n_reviews,
                    "maintainer_can_modify": False,
                    "commits": len(visible_commits),
                    "additions": pull_request_size(pr, len(visible_commits))[0],
                    "deletions": pull_request_size(pr, len(visible_commits))[1],
                    # the files `/pulls/{n}/files` serves: every file the visible commits change, once
                    "changed_files": len(
                        {name for sha in visible_commits for name in commit_filenames(svc, svc.commits[sha])}
                    ),
                }
            )
        return obj

    def review(self, svc: Service, pr: PullRequest, review: Review) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        html = f"{HTML}/{svc.repository}/pull/{pr.number}#pullrequestreview-{review.review_id}"
        return {
            "id": review.review_id,
            "node_id": node_id("PullRequestReview", review.review_id),
            "user": self.user(review.reviewer),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": f"{base}/pulls/{pr.number}",
            "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": f"{base}/pulls/{pr.number}"}},
            "submitted_at": iso(review.submitted_at),
            "commit_id": review.commit_id,
        }

    def review_comments(
        self, svc: Service, pr: PullRequest, reviews: list[Review], path: str, now: datetime
    ) -> list[dict[str, Any]]:
        """Line comments, served only when the emulator is asked for them: each engineer's review that
        is no approval ("A few comments inline.") opens a thread on `path` (the first file the pull
        request touches) as it is submitted, and the pull request's author replies a minute later;
        comments created after `now` are not there yet. Oldest first, as GitHub lists them."""
        base = f"{self.api}/repos/{svc.repository}"
        comments = []
        for review in reviews:
            if review.state == "APPROVED" or is_automation(review.reviewer):
                continue
            first = review.review_id * 10 + 1
            thread = [
                (first, review.reviewer, review.submitted_at, None, "Could this be simpler?"),
                (first + 1, pr.author, review.submitted_at + timedelta(minutes=1), first, "Done."),
            ]
            for comment_id, who, at, reply_to, body in thread:
                if at > now:
                    continue
                comment = {
                    "id": comment_id,
                    "node_id": node_id("PullRequestReviewComment", comment_id),
                    "url": f"{base}/pulls/comments/{comment_id}",
                    "pull_request_review_id": review.review_id,
                    "user": self.user(who),
                    "author_association": "MEMBER",
                    "path": path,
                    "commit_id": review.commit_id,
                    "original_commit_id": review.commit_id,
                    "body": body,
                    "created_at": iso(at),
                    "updated_at": iso(at),
                    "html_url": f"{HTML}/{svc.repository}/pull/{pr.number}#discussion_r{comment_id}",
                    "pull_request_url": f"{base}/pulls/{pr.number}",
                }
                if reply_to is not None:
                    comment["in_reply_to_id"] = reply_to
                comments.append(comment)
        return sorted(comments, key=lambda c: (c["created_at"], c["id"]))

    # ----------------------------------------------------------------- commits
    def commit(self, svc: Service, commit: Commit, detail: bool = False) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        committer = commit.committer or WEB_FLOW
        tree = hashlib.sha1(f"tree|{commit.sha}".encode()).hexdigest()
        obj: dict[str, Any] = {
            "sha": commit.sha,
            "node_id": node_id("Commit", commit.sha),
            "commit": {
                "author": {
                    "name": commit.author.name,
                    "email": commit.author.email,
                    "date": iso(commit.authored_at),
                },
                "committer": {
                    "name": committer.name,
                    "email": committer.email,
                    "date": iso(commit.committed_at),
                },
                "message": commit.message,
                "tree": {"sha": tree, "url": f"{base}/git/trees/{tree}"},
                "url": f"{base}/git/commits/{commit.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": commit.committer is None,
                    "reason": "valid" if commit.committer is None else "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": iso(commit.committed_at) if commit.committer is None else None,
                },
            },
            "url": f"{base}/commits/{commit.sha}",
            "html_url": f"{HTML}/{svc.repository}/commit/{commit.sha}",
            "comments_url": f"{base}/commits/{commit.sha}/comments",
            "author": self.user(commit.author),
            "committer": self.user(committer),
            "parents": [
                {"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{HTML}/{svc.repository}/commit/{p}"}
                for p in commit.parents
            ],
        }
        if detail:
            size = int(commit.sha[:2], 16) % 60 + 1
            filenames = commit_filenames(svc, commit)
            blob = hashlib.sha1(f"blob|{commit.sha}".encode()).hexdigest()
            total = size * len(filenames)
            obj["stats"] = {"total": total + total // 3, "additions": total, "deletions": total // 3}
            obj["files"] = [
                {
                    "sha": blob
                    if len(filenames) == 1
                    else hashlib.sha1(f"blob|{commit.sha}|{filename}".encode()).hexdigest(),
                    "filename": filename,
                    "status": "modified",
                    "additions": size,
                    "deletions": size // 3,
                    "changes": size + size // 3,
                    "blob_url": f"{HTML}/{svc.repository}/blob/{commit.sha}/{filename}",
                    "raw_url": f"{HTML}/{svc.repository}/raw/{commit.sha}/{filename}",
                    "contents_url": f"{base}/contents/{filename}?ref={commit.sha}",
                    "patch": "@@ -1,3 +1,4 @@\n-old\n+new",
                }
                for filename in filenames
            ]
        return obj

    # ------------------------------------------------------------- deployments
    def branch(self, svc: Service, name: str, tip: Commit) -> dict[str, Any]:
        """A branch as the branch listing serves it (`short-branch`); `main` is protected."""
        return {
            "name": name,
            "commit": {"sha": tip.sha, "url": f"{self.api}/repos/{svc.repository}/commits/{tip.sha}"},
            "protected": name == "main",
        }

    def deployment(self, svc: Service, dep: Deployment, now: datetime) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        visible = [s for s in dep.statuses if s.created_at <= now]
        updated = max([dep.created_at] + [s.created_at for s in visible])
        return {
            "url": f"{base}/deployments/{dep.deployment_id}",
            "id": dep.deployment_id,
            "node_id": node_id("Deployment", dep.deployment_id),
            "sha": dep.sha,
            "ref": dep.ref,
            "task": "deploy",
            "payload": {},
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description,
            "creator": self._creator(svc, dep),
            "created_at": iso(dep.created_at),
            "updated_at": iso(updated),
            "statuses_url": f"{base}/deployments/{dep.deployment_id}/statuses",
            "repository_url": base,
            "transient_environment": False,
            "production_environment": dep.is_production,
            "performed_via_github_app": None,
        }

    def _creator(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        """The deploy bot, or the engineer who started the deployment (simulator/automation.py)."""
        who = deployer(self.world, svc, dep)
        return self.user(who, bot=who is DEPLOY_BOT)

    def deployment_status(self, svc: Service, dep: Deployment, status: DeploymentStatus) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        log_url = f"{HTML}/{svc.repository}/actions/runs/{dep.deployment_id}"
        return {
            "url": f"{base}/deployments/{dep.deployment_id}/statuses/{status.status_id}",
            "id": status.status_id,
            "node_id": node_id("DeploymentStatus", status.status_id),
            "state": status.state,
            "creator": self._creator(svc, dep),
            "description": status.description,
            "environment": dep.environment,
            "target_url": log_url,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.created_at),
            "deployment_url": f"{base}/deployments/{dep.deployment_id}",
            "repository_url": base,
            "environment_url": f"https://{dep.environment}.{svc.name}.acme.example",
            "log_url": log_url,
            "performed_via_github_app": None,
        }


# ------------------------------------------------------------------ extras (Actions, releases, tags)
def _workflow_id(svc: Service, name: str) -> int:
    return 60_000_000 + int(hashlib.sha1(f"{svc.name}|{name}".encode()).hexdigest()[:6], 16)


def tag_sha(svc: Service, tag: str) -> str:
    """The SHA of an annotated tag object (not the commit it points at)."""
    return hashlib.sha1(f"tag|{svc.repository}|{tag}".encode()).hexdigest()


class ExtrasRenderer(Renderer):
    """GitHub Actions runs and jobs, releases, git refs, annotated tags and `/tags`, as api.github.com
    serves them (OpenAPI `workflow-run`, `job`, `release`, `git-ref`, `git-tag`, `tag`)."""

    def _pull_by_head(self, svc: Service) -> dict[str, PullRequest]:
        """The service's first pull request by its head SHA (a run names its pull request by that), built
        once per service instead of a scan of every pull request for each run."""
        heads = self._heads
        known = heads.get(svc.name)
        if known is None or known[0] != len(svc.pulls):
            by_head: dict[str, PullRequest] = {}
            for pr in svc.pulls:
                by_head.setdefault(pr.commit_shas[-1], pr)
            known = heads[svc.name] = (len(svc.pulls), by_head)
        return known[1]

    def _run_state(self, run: WorkflowRun, now: datetime) -> tuple[str, str | None, datetime]:
        if run.completed_at <= now:
            return "completed", run.conclusion, run.completed_at
        if run.started_at <= now:
            return "in_progress", None, run.started_at
        return "queued", None, run.created_at

    def _head_commit(self, svc: Service, sha: str, now: datetime) -> dict[str, Any]:
        commit = svc.commits[sha]
        committer = commit.committer or WEB_FLOW
        return {
            "id": sha,
            "tree_id": hashlib.sha1(f"tree|{sha}".encode()).hexdigest(),
            "message": commit.message,
            "timestamp": iso(commit.committed_at),
            "author": {"name": commit.author.name, "email": commit.author.email},
            "committer": {"name": committer.name, "email": committer.email},
        }

    def _fork_head_commit(self, fork: ForkHead) -> dict[str, Any]:
        author = {"name": fork.owner.name, "email": fork.owner.email}
        return {
            "id": fork.sha,
            "tree_id": hashlib.sha1(f"tree|{fork.sha}".encode()).hexdigest(),
            "message": fork.message,
            "timestamp": iso(fork.committed_at),
            "author": author,
            "committer": author,
        }

    def fork_repository(self, svc: Service, fork: ForkHead) -> dict[str, Any]:
        """A contributor's public fork of the service's repository, as a run's `head_repository` names it
        (OpenAPI `minimal-repository`: the same keys as the repository's own)."""
        api, full = self.api, fork.repository
        own = self.repository(svc)
        repo = {
            key: value.replace(f"{api}/repos/{svc.repository}", f"{api}/repos/{full}").replace(
                f"{HTML}/{svc.repository}", f"{HTML}/{full}"
            )
            if isinstance(value, str)
            else value
            for key, value in own.items()
        }
        repo.update(
            {
                "id": fork.repo_id,
                "node_id": node_id("Repository", fork.repo_id),
                "full_name": full,
                "private": False,
                "owner": self.user(fork.owner),
                "fork": True,
                "description": own.get("description"),
                "git_url": f"git://github.com/{full}.git",
                "ssh_url": f"git@github.com:{full}.git",
                "clone_url": f"{HTML}/{full}.git",
            }
        )
        return repo

    def workflow_run(self, svc: Service, run: WorkflowRun, now: datetime) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        url = f"{base}/actions/runs/{run.run_id}"
        status, conclusion, updated = self._run_state(run, now)
        workflow_id = _workflow_id(svc, run.name)
        fork = run.fork
        actor = self.user(fork.owner if fork else svc.commits[run.head_sha].author)
        pulls = []
        if run.event == "pull_request":
            pr = self._pull_by_head(svc).get(run.head_sha)
            if pr is not None:
                repo_ref = {"id": svc.repo_id, "url": base, "name": svc.name}
                pulls.append(
                    {
                        "id": pr.pr_id,
                        "number": pr.number,
                        "url": f"{base}/pulls/{pr.number}",
                        "head": {"ref": pr.branch, "sha": run.head_sha, "repo": repo_ref},
                        "base": {"ref": "main", "sha": pr.base_sha, "repo": repo_ref},
                    }
                )
        title = (fork.message if fork else svc.commits[run.head_sha].message).splitlines()[0]
        head_commit = self._fork_head_commit(fork) if fork else self._head_commit(svc, run.head_sha, now)
        if run.deployment is not None:
            title = run.deployment.description
        repo = self.repository(svc)
        return {
            "id": run.run_id,
            "name": run.name,
            "node_id": node_id("WorkflowRun", run.run_id),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": f".github/workflows/{run.name}.yml",
            "display_title": title,
            "run_number": run.run_number,
            "event": run.event,
            "status": status,
            "conclusion": conclusion,
            "workflow_id": workflow_id,
            "check_suite_id": run.run_id * 3 + 1,
            "check_suite_node_id": node_id("CheckSuite", run.run_id * 3 + 1),
            "url": url,
            "html_url": f"{HTML}/{svc.repository}/actions/runs/{run.run_id}",
            "pull_requests": pulls,
            "created_at": iso(run.created_at),
            "updated_at": iso(updated),
            "actor": actor,
            "run_attempt": 1,
            "referenced_workflows": [],
            "run_started_at": iso(run.started_at if run.started_at <= now else run.created_at),
            "triggering_actor": actor,
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": f"{base}/check-suites/{run.run_id * 3 + 1}",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "previous_attempt_url": None,
            "workflow_url": f"{base}/actions/workflows/{workflow_id}",
            "head_commit": head_commit,
            "repository": repo,
            "head_repository": self.fork_repository(svc, fork) if fork else repo,
        }

    def workflow_job(self, svc: Service, run: WorkflowRun, now: datetime) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        status, conclusion, _ = self._run_state(run, now)
        name = "test" if run.name == "ci" else (run.deployment.environment if run.deployment else run.name)
        started = run.started_at if run.started_at <= now else None
        return {
            "id": run.job_id,
            "run_id": run.run_id,
            "workflow_name": run.name,
            "head_branch": run.head_branch,
            "run_url": f"{base}/actions/runs/{run.run_id}",
            "run_attempt": 1,
            "node_id": node_id("CheckRun", run.job_id),
            "head_sha": run.head_sha,
            "url": f"{base}/actions/jobs/{run.job_id}",
            "html_url": f"{HTML}/{svc.repository}/actions/runs/{run.run_id}/job/{run.job_id}",
            "status": status,
            "conclusion": conclusion,
            "created_at": iso(run.created_at),
            "started_at": iso(started or run.created_at),
            "completed_at": iso(run.completed_at) if status == "completed" else None,
            "name": name,
            "steps": [],
            "check_run_url": f"{base}/check-runs/{run.job_id}",
            "labels": ["ubuntu-latest"],
            "runner_id": 1 if started else None,
            "runner_name": "GitHub Actions 1" if started else None,
            "runner_group_id": 2 if started else None,
            "runner_group_name": "GitHub Actions" if started else None,
        }

    def release(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        release_id = 180_000_000 + int(tag_sha(svc, dep.tag or "")[:7], 16)
        at = iso(dep.deployed_at) if dep.deployed_at else None
        return {
            "url": f"{base}/releases/{release_id}",
            "html_url": f"{HTML}/{svc.repository}/releases/tag/{dep.tag}",
            "assets_url": f"{base}/releases/{release_id}/assets",
            "upload_url": f"https://uploads.github.com/repos/{svc.repository}/releases/{release_id}/assets"
            "{?name,label}",
            "tarball_url": f"{base}/tarball/{dep.tag}",
            "zipball_url": f"{base}/zipball/{dep.tag}",
            "id": release_id,
            "node_id": node_id("Release", release_id),
            "tag_name": dep.tag,
            "target_commitish": "main",
            "name": dep.tag,
            "body": dep.description,
            "draft": False,
            "prerelease": False,
            "immutable": False,
            "created_at": at,
            "published_at": at,
            "updated_at": at,
            "author": self.user(DEPLOY_BOT, bot=True),
            "assets": [],
        }

    def git_ref(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        sha = tag_sha(svc, dep.tag or "")
        return {
            "ref": f"refs/tags/{dep.tag}",
            "node_id": node_id("Ref", f"{svc.repository}|{dep.tag}"),
            "url": f"{base}/git/refs/tags/{dep.tag}",
            "object": {"sha": sha, "type": "tag", "url": f"{base}/git/tags/{sha}"},
        }

    def git_tag(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        sha = tag_sha(svc, dep.tag or "")
        return {
            "node_id": node_id("Tag", sha),
            "tag": dep.tag,
            "sha": sha,
            "url": f"{base}/git/tags/{sha}",
            "message": f"Release {dep.tag}\n",
            "tagger": {
                "name": DEPLOY_BOT.name,
                "email": DEPLOY_BOT.email,
                "date": iso(dep.deployed_at) if dep.deployed_at else None,
            },
            "object": {"sha": dep.sha, "type": "commit", "url": f"{base}/git/commits/{dep.sha}"},
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def tag(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        base = f"{self.api}/repos/{svc.repository}"
        return {
            "name": dep.tag,
            "commit": {"sha": dep.sha, "url": f"{base}/commits/{dep.sha}"},
            "zipball_url": f"{base}/zipball/refs/tags/{dep.tag}",
            "tarball_url": f"{base}/tarball/refs/tags/{dep.tag}",
            "node_id": node_id("Ref", f"{svc.repository}|{dep.tag}"),
        }
