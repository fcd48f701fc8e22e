"""Contract tests for the emulated GitLab and Jenkins: every key a real server sent in Perceval's recorded
payloads (GitLab: a project, merge requests, notes, commits; Jenkins: jobs, a job's builds, one build) is
served by the emulator too, nested objects included. Read in place from the shared data folder; skipped
with a reason when it is absent."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
import requests

from simulator import Emulator, generate_org

pytestmark = pytest.mark.shared

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ARCHIVE = SHARED / "data" / "recorded" / "perceval-jenkins-gitlab-github.tar.gz"
END = datetime(2026, 11, 2, tzinfo=UTC)
GL = {"PRIVATE-TOKEN": "gl-demo-token"}
JK = ("deploybot", "jenkins-demo-token")


@cache
def _recorded(name: str) -> dict:
    if not ARCHIVE.exists():
        pytest.skip(
            f"recorded GitLab/Jenkins payloads not found ({ARCHIVE.name} missing from the shared data)"
        )
    with tarfile.open(ARCHIVE) as tar:
        body = json.loads(tar.extractfile(f"data/{name}").read())
    if isinstance(body, dict) and "backend_name" in body:  # Perceval's envelope around the raw item
        body = body["data"]
    return body[0] if isinstance(body, list) else body


@pytest.fixture(scope="module")
def served():
    world = generate_org("mixed", seed=7, end=END)
    emu = Emulator(world).start()
    try:
        svc = next(s for s in world.services if s.delivery == "gitlab")
        pr = next(p for p in svc.pulls if p.merged_at and p.reviews)
        base = f"{emu.url}/gitlab/api/v4/projects/{svc.gitlab_id}"
        job_svc = next(s for s in world.services if s.delivery == "jenkins")
        job = f"deploy-{job_svc.name}-{job_svc.production_env}"
        jenkins = f"{emu.url}/jenkins"

        def get(url: str, **kwargs):
            response = requests.get(url, timeout=10, **kwargs)
            assert response.status_code == 200, url
            body = response.json()
            return body[0] if isinstance(body, list) else body

        yield {
            "gitlab/project": get(base, headers=GL),
            "gitlab/merge_page_1": get(f"{base}/merge_requests", headers=GL),
            "gitlab/merge_1": get(f"{base}/merge_requests/{pr.number}", headers=GL),
            "gitlab/notes_1": get(f"{base}/merge_requests/{pr.number}/notes", headers=GL),
            "gitlab/commits_1": get(f"{base}/repository/commits", headers=GL),
            "gitlab/diffs_1": get(f"{base}/merge_requests/{pr.number}/diffs", headers=GL),
            "gitlab/commit_diff_1": get(f"{base}/repository/commits/{svc.main[0]}/diff", headers=GL),
            "gitlab/branch_main": get(f"{base}/repository/branches/main", headers=GL),
            "jenkins/jenkins_jobs.json": get(f"{jenkins}/api/json", auth=JK),
            "jenkins/jenkins_job_builds.json": get(
                f"{jenkins}/job/{job}/api/json", auth=JK, params={"tree": "builds[number,result]"}
            ),
            "jenkins/jenkins_build.json": get(f"{jenkins}/job/{job}/1/api/json", auth=JK),
        }
    finally:
        emu.stop()


# Keys real servers sent that the emulator leaves out on purpose, with the reason.
NOT_SERVED = {
    # job configuration and UI state: nothing a delivery analysis reads
    "jenkins/jenkins_job_builds.json": {
        "actions",
        "displayNameOrNull",
        "firstBuild",
        "healthReport",
        "inQueue",
        "keepDependencies",
        "lastCompletedBuild",
        "lastFailedBuild",
        "lastStableBuild",
        "lastSuccessfulBuild",
        "lastUnstableBuild",
        "lastUnsuccessfulBuild",
        "nextBuildNumber",
        "property",
        "queueItem",
        "concurrentBuild",
        "downstreamProjects",
        "scm",
        "upstreamProjects",
        "displayName",
        "lastBuild",
        "fullDisplayName",
        "labelExpression",
        "disabled",
    },
}
# Nested objects whose depth a `tree=` selector decides: served shallow.
SHALLOW = {"lastBuild", "firstBuild"}
NAMES = [
    "gitlab/project",
    "gitlab/merge_page_1",
    "gitlab/merge_1",
    "gitlab/notes_1",
    "gitlab/commits_1",
    "jenkins/jenkins_jobs.json",
    "jenkins/jenkins_job_builds.json",
    "jenkins/jenkins_build.json",
]


@pytest.mark.parametrize("name", NAMES)
def test_served_keys_cover_recorded_real_responses(served, name):
    recorded = _recorded(name)
    body = served[name]
    missing = set(recorded) - set(body) - NOT_SERVED.get(name, set())
    assert missing == set(), f"{name}: keys a real server sent that we do not"
    for key, value in body.items():
        theirs = recorded.get(key)
        if isinstance(value, dict) and isinstance(theirs, dict) and key not in SHALLOW:
            assert set(theirs) - set(value) == set(), f"{name}.{key}: nested keys missing"


def test_jenkins_job_and_build_items_carry_what_real_ones_do(served):
    job = _recorded("jenkins/jenkins_jobs.json")
    theirs = set(job) if "jobs" not in job else set().union(*(set(j) for j in job["jobs"][:2]))
    ours = set(served["jenkins/jenkins_jobs.json"]["jobs"][1])
    assert theirs - ours - {"_class"} == set()
    build = _recorded("jenkins/jenkins_job_builds.json")["builds"][0]
    assert set(build) - set(served["jenkins/jenkins_job_builds.json"]["builds"][0]) == set()


# The keys of one entry of `GET /projects/:id/merge_requests/:iid/diffs` in GitLab's API reference (not in
# the recording), with their JSON types: the source reads the paths and the three flags.
DIFF_KEYS = {
    "old_path": str,
    "new_path": str,
    "a_mode": str,
    "b_mode": str,
    "diff": str,
    "new_file": bool,
    "renamed_file": bool,
    "deleted_file": bool,
}


def test_merge_request_diffs_are_served_in_gitlabs_shape(served):
    entry = served["gitlab/diffs_1"]
    assert set(DIFF_KEYS) <= set(entry)
    assert {key: type(entry[key]) for key in DIFF_KEYS} == DIFF_KEYS


def test_commit_diffs_are_served_in_gitlabs_shape(served):
    """`GET /projects/:id/repository/commits/:sha/diff` lists the same entries as a merge request's diffs."""
    entry = served["gitlab/commit_diff_1"]
    assert set(DIFF_KEYS) <= set(entry)
    assert {key: type(entry[key]) for key in DIFF_KEYS} == DIFF_KEYS


def test_a_branch_is_served_by_name(served):
    """`GET /projects/:id/repository/branches/:branch`: the branch as the listing has it, its tip included."""
    branch = served["gitlab/branch_main"]
    assert (branch["name"], branch["default"]) == ("main", True)
    assert isinstance(branch["commit"]["id"], str)
