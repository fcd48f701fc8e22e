"""Jenkins' JSON API (`api/json` with `tree=`) for the services of a world that deploy through Jenkins.

Each such service has two freestyle jobs, `deploy-<service>-<environment>`; every rollout is a build whose
git BuildData names the deployed SHA, with result SUCCESS or FAILURE (null while building). A folder of
maintenance jobs that never deploy sits next to them, as on real controllers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulator.faults import current_listing_fault, shift_listing
from simulator.world import Deployment, Service, World

FOLDER = "maintenance"
FOLDER_JOBS = ("rotate-credentials",)


class JenkinsError(Exception):
    """A Jenkins error answer (status and a short text)."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.status = status
        self.message = message


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


class JenkinsApi:
    """Routes `/jenkins/...` requests; `root` is the controller's URL as it reports it."""

    def __init__(self, world: World, root: str):
        self.world = world
        self.root = root.rstrip("/")
        self.jobs: dict[str, tuple[Service, str]] = {}
        for svc in world.services:
            if svc.delivery == "jenkins":
                for env in (svc.staging_env, svc.production_env):
                    self.jobs[f"deploy-{svc.name}-{env}"] = (svc, env)

    def builds(self, name: str, now: datetime) -> list[Deployment]:
        """A job's builds started by `now`, newest first."""
        svc, env = self.jobs[name]
        deps = [d for d in svc.deployments if d.environment == env and d.created_at <= now]
        return sorted(deps, key=lambda d: d.source_number, reverse=True)

    def build(self, name: str, dep: Deployment, now: datetime) -> dict[str, Any]:
        svc, env = self.jobs[name]
        done = dep.finished_at <= now
        result = ("SUCCESS" if dep.deployed_at else "FAILURE") if done else None
        duration = _ms(dep.finished_at) - _ms(dep.created_at) if done else 0
        trigger = svc.developers[dep.source_number % len(svc.developers)]
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "number": dep.source_number,
            "id": str(dep.source_number),
            "displayName": f"#{dep.source_number}",
            "description": dep.description,
            "result": result,
            "building": not done,
            "timestamp": _ms(dep.created_at),
            "duration": duration,
            "estimatedDuration": 600_000,
            "url": f"{self.root}/job/{name}/{dep.source_number}/",
            "builtOn": "agent-2",
            "queueId": 40_000 + dep.source_number,
            "actions": [
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {"_class": "hudson.model.StringParameterValue", "name": "GIT_REF", "value": dep.ref},
                        {"_class": "hudson.model.StringParameterValue", "name": "ENVIRONMENT", "value": env},
                    ],
                },
                {
                    "_class": "hudson.model.CauseAction",
                    "causes": [
                        {
                            "_class": "hudson.model.Cause$UserIdCause",
                            "shortDescription": f"Started by user {trigger.name}",
                            "userId": trigger.login,
                            "userName": trigger.name,
                        }
                    ],
                },
                {
                    "_class": "hudson.plugins.git.util.BuildData",
                    "lastBuiltRevision": {
                        "SHA1": dep.sha,
                        "branch": [{"SHA1": dep.sha, "name": "refs/remotes/origin/main"}],
                    },
                    "remoteUrls": [f"https://github.com/{svc.repository}.git"],
                },
                {},
            ],
            "changeSet": {"_class": "hudson.plugins.git.GitChangeSetList", "kind": "git", "items": []},
            "artifacts": [],
            "culprits": [],
            "executor": {} if not done else None,
            "fullDisplayName": f"{name} #{dep.source_number}",
            "keepLog": False,
        }

    def job(self, name: str, now: datetime) -> dict[str, Any]:
        builds = self.builds(name, now)
        color = "notbuilt"
        if builds:
            last = builds[0]
            if last.finished_at > now:
                color = "blue_anime"
            else:
                color = "blue" if last.deployed_at else "red"
        return {
            "_class": "hudson.model.FreeStyleProject",
            "name": name,
            "fullName": name,
            "url": f"{self.root}/job/{name}/",
            "color": color,
            "description": f"Deploys {self.jobs[name][0].name} to {self.jobs[name][1]}",
            "buildable": True,
            "lastBuild": {"_class": "hudson.model.FreeStyleBuild", "number": builds[0].source_number}
            if builds
            else None,
        }

    def _folder_job(self, name: str) -> dict[str, Any]:
        return {
            "_class": "hudson.model.FreeStyleProject",
            "name": name,
            "fullName": f"{FOLDER}/{name}",
            "url": f"{self.root}/job/{FOLDER}/job/{name}/",
            "color": "notbuilt",
            "description": "Maintenance, never deploys",
            "buildable": True,
            "lastBuild": None,
        }

    def route(self, path: str, target: str, now: datetime) -> Any:
        """Answer `path` (below the controller root); `tree` ranges on `allBuilds` are honoured."""
        tree = parse_qs(urlsplit(target).query).get("tree", [""])[-1]
        if path == "/api/json":
            jobs = [self.job(name, now) for name in sorted(self.jobs)]
            folder = {
                "_class": "com.cloudbees.hudson.plugins.folder.Folder",
                "name": FOLDER,
                "fullName": FOLDER,
                "url": f"{self.root}/job/{FOLDER}/",
                "description": None,
                "jobs": [{"_class": "hudson.model.FreeStyleProject", "name": n} for n in FOLDER_JOBS],
            }
            return {"_class": "hudson.model.Hudson", "description": None, "jobs": [folder, *jobs]}
        if path == f"/job/{FOLDER}/api/json":
            return {
                "_class": "com.cloudbees.hudson.plugins.folder.Folder",
                "jobs": [self._folder_job(n) for n in FOLDER_JOBS],
            }
        m = re.fullmatch(rf"/job/{FOLDER}/job/([^/]+)/api/json", path)
        if m and unquote(m.group(1)) in FOLDER_JOBS:
            return {**self._folder_job(unquote(m.group(1))), "allBuilds": [], "builds": []}
        m = re.fullmatch(r"/job/([^/]+)(?:/(\d+|lastBuild))?/api/json", path)
        if not m or unquote(m.group(1)) not in self.jobs:
            raise JenkinsError(404, "Not Found")
        name = unquote(m.group(1))
        builds = self.builds(name, now)
        if m.group(2) is not None:
            number = builds[0].source_number if m.group(2) == "lastBuild" and builds else int(m.group(2) or 0)
            dep = next((d for d in builds if d.source_number == number), None)
            if dep is None:
                raise JenkinsError(404, "Not Found")
            return self.build(name, dep, now)
        job = self.job(name, now)
        rendered = builds
        key = "allBuilds" if "allBuilds" in tree else "builds"
        if key == "builds":
            rendered = builds[:100]  # `builds` stops at the newest 100
        span = re.search(r"allBuilds\[.*\]\{(\d*),?(\d*)\}", tree)
        if span:
            low = int(span.group(1) or 0)
            high = int(span.group(2)) if span.group(2) else len(rendered)
            rendered = shift_listing(rendered, max(1, high - low), current_listing_fault())[low:high]
        job[key] = [self.build(name, d, now) for d in rendered]
        return job
