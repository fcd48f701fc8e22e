"""Contracts for the endpoints the other contract tests leave out: every PagerDuty endpoint, GitLab
deployments, pipelines, pipeline jobs, approvals and environments, GitHub pull request files and review
comments.

GitLab and PagerDuty schemas are written here (`tests/contracts/*.json`) from the vendors' public API
references, each citing its page; GitHub's come from its OpenAPI description in the shared data folder.
Formats are checked, not only key sets: `date-time` (RFC 3339, with a time zone) and `uri` (absolute),
with checkers of our own, since jsonschema checks neither without optional packages and would then pass
anything silently.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from test_emulator_contract import FORMATS, _components

from simulator import Emulator, generate_org

CONTRACTS = Path(__file__).resolve().parent / "contracts"
END = datetime(2026, 11, 2, tzinfo=UTC)
GH = {"Authorization": "Bearer gh-demo-token"}
GL = {"PRIVATE-TOKEN": "gl-demo-token"}
PD = {"Authorization": "Token token=pd-demo-token"}


def _errors(body: Any, schema: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    found = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in found[:5]]


@cache
def _contract(name: str) -> dict:
    return json.loads((CONTRACTS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """One emulator answer per endpoint, from the `mixed` org (every delivery style, PagerDuty too)."""
    world = generate_org("mixed", seed=7, end=END)
    emu = Emulator(world).start()
    try:

        def get(url: str, headers: dict[str, str], key: str | None = None) -> Any:
            response = requests.get(url, headers=headers, timeout=10)
            assert response.status_code == 200, url
            body = response.json()
            return body[key] if key else body

        gitlab = next(s for s in world.services if s.delivery == "gitlab")
        pr = next(p for p in gitlab.pulls if p.merged_at and p.reviews)
        base = f"{emu.url}/gitlab/api/v4/projects/{gitlab.gitlab_id}"
        pipelines = get(f"{base}/pipelines", GL)
        github = next(s for s in world.services if s.delivery == "github" and s.pulls)
        merged = next(p for p in github.pulls if p.merged_at)
        repo = f"{emu.url}/github/repos/{github.repository}"
        yield {
            "pagerduty/services": get(f"{emu.url}/pagerduty/services", PD, "services"),
            "pagerduty/incidents": get(
                f"{emu.url}/pagerduty/incidents?since=2026-01-01T00:00:00Z&until=2026-11-02T00:00:00Z"
                "&limit=100",
                PD,
                "incidents",
            ),
            "gitlab/deployments": get(f"{base}/deployments", GL),
            "gitlab/pipelines": pipelines,
            "gitlab/pipeline_jobs": get(f"{base}/pipelines/{pipelines[0]['id']}/jobs", GL),
            "gitlab/approvals": get(f"{base}/merge_requests/{pr.number}/approvals", GL),
            "gitlab/environments": get(f"{base}/environments", GL),
            "github/pull_request_files": get(f"{repo}/pulls/{merged.number}/files", GH),
            "github/pull_request_review_comments": get(f"{repo}/pulls/{merged.number}/comments", GH),
        }
    finally:
        emu.stop()


# endpoint -> the contract its items (or its object) are held against
WRITTEN = {
    "pagerduty/services": ("pagerduty_service", True),
    "pagerduty/incidents": ("pagerduty_incident", True),
    "gitlab/deployments": ("gitlab_deployment", True),
    "gitlab/pipelines": ("gitlab_pipeline", True),
    "gitlab/pipeline_jobs": ("gitlab_job", True),
    "gitlab/approvals": ("gitlab_approvals", False),
    "gitlab/environments": ("gitlab_environment", True),
}


@pytest.mark.parametrize("name", list(WRITTEN))
def test_answers_match_the_vendor_reference(served, name):
    contract, is_list = WRITTEN[name]
    body = served[name]
    schema = _contract(contract)
    if is_list:
        assert body, f"{name}: the emulator answered an empty list; nothing would be checked"
        schema = {"type": "array", "items": schema, "definitions": schema.get("definitions", {})}
    errors = _errors(body, schema)
    assert not errors, f"{name}: " + "; ".join(errors)


def test_incidents_include_resolved_ones(served):
    """Resolved incidents carry `resolved_at`: the contract must have met one."""
    assert any(incident["status"] == "resolved" for incident in served["pagerduty/incidents"])


def test_approvals_name_when_each_approval_was_given(served):
    approvals = served["gitlab/approvals"]["approved_by"]
    assert approvals, "the merge request chosen has a review: its approval must be listed"
    assert all("approved_at" in entry for entry in approvals)


@pytest.mark.parametrize(
    ("contract", "field", "bad"),
    [
        ("gitlab_deployment", "created_at", "2026-05-04 10:00:00"),  # no T, no zone
        ("gitlab_deployment", "created_at", "2026-02-30T10:00:00Z"),  # no such day
        ("gitlab_deployment", "status", "deployed"),
        ("gitlab_environment", "external_url", "staging.example.com"),  # not absolute
        ("pagerduty_incident", "html_url", "/incidents/P1"),
        ("pagerduty_incident", "updated_at", "2026-05-04T10:00:00"),  # no zone
        ("pagerduty_incident", "urgency", "medium"),
    ],
)
def test_the_contracts_can_fail(served, contract, field, bad):
    """The checks really check: one field broken in a served answer is caught, formats included."""
    name = next(name for name, (c, _) in WRITTEN.items() if c == contract)
    item = copy.deepcopy(served[name][0])
    assert not _errors(item, _contract(contract))
    item[field] = bad
    assert _errors(item, _contract(contract)), f"{contract}.{field} = {bad!r} passed"


# -- GitHub: pull request files and review comments, against GitHub's OpenAPI description --------------


GITHUB = {
    "github/pull_request_files": "diff-entry",
    "github/pull_request_review_comments": "pull-request-review-comment",
}


@pytest.mark.shared
@pytest.mark.parametrize("name", list(GITHUB))
def test_github_answers_match_the_openapi_schema(served, name):
    schema = {
        "type": "array",
        "items": {"$ref": f"#/components/schemas/{GITHUB[name]}"},
        "components": _components(),
    }
    errors = _errors(served[name], schema)
    assert not errors, f"{name}: " + "; ".join(errors)


@pytest.mark.shared
def test_github_files_are_checked_with_formats(served):
    files = served["github/pull_request_files"]
    assert files, "a merged pull request changes files"
    schema = {"$ref": "#/components/schemas/diff-entry", "components": _components()}
    broken = copy.deepcopy(files[0])
    broken["blob_url"] = "not a url"
    assert _errors(broken, schema)
    broken = copy.deepcopy(files[0])
    broken["status"] = "moved"
    assert _errors(broken, schema)


def test_review_comments_are_an_empty_list_by_design(served):
    """Reviewers in the simulated org review as a whole (`/reviews`): no line comments are served, and
    the schema check above holds over none. Should the emulator serve some, it checks them."""
    assert served["github/pull_request_review_comments"] == []
