"""Contract tests: emulator responses against GitHub's OpenAPI schemas and real recorded responses.

The schemas come from GitHub's official OpenAPI description; the recorded responses are real
api.github.com exchanges another project recorded for its own tests. Both live in the shared data folder,
read in place; the tests skip with a reason when it is absent. Formats (`date-time`, `uri`) are checked too.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import tarfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests

from simulator import Emulator, generate_org

pytestmark = pytest.mark.shared

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RECORDED = SHARED / "data" / "recorded"
OPENAPI = RECORDED / "github-openapi.json.gz"
REPLAY = RECORDED / "pygithub-replaydata.tar.gz"
END = datetime(2026, 11, 23, tzinfo=UTC)
GH = {"Authorization": "Bearer gh-demo-token"}

# endpoint name -> (recorded path pattern, OpenAPI component, served as a list)
ENDPOINTS = {
    "org_repos": (r"^/orgs/[^/]+/repos$", "minimal-repository", True),
    "pulls": (r"^/repos/[^/]+/[^/]+/pulls$", "pull-request-simple", True),
    "pull": (r"^/repos/[^/]+/[^/]+/pulls/\d+$", "pull-request", False),
    "pr_commits": (r"^/repos/[^/]+/[^/]+/pulls/\d+/commits$", "commit", True),
    "reviews": (r"^/repos/[^/]+/[^/]+/pulls/\d+/reviews$", "pull-request-review", True),
    "commits": (r"^/repos/[^/]+/[^/]+/commits$", "commit", True),
    "commit": (r"^/repos/[^/]+/[^/]+/commits/[0-9a-f]{40}$", "commit", False),
    "branches": (r"^/repos/[^/]+/[^/]+/branches$", "short-branch", True),
    "deployments": (r"^/repos/[^/]+/[^/]+/deployments$", "deployment", True),
    "deployment": (r"^/repos/[^/]+/[^/]+/deployments/\d+$", "deployment", False),
    "statuses": (r"^/repos/[^/]+/[^/]+/deployments/\d+/statuses$", "deployment-status", True),
}
# Served in the `mixed` scale only: endpoint name -> (recorded path pattern, OpenAPI component, served as a
# list, key of the list inside a wrapper object or None)
EXTRAS = {
    "workflow_runs": (r"^/repos/[^/]+/[^/]+/actions/runs$", "workflow-run", True, "workflow_runs"),
    "workflow_run": (r"^/repos/[^/]+/[^/]+/actions/runs/\d+$", "workflow-run", False, None),
    "run_jobs": (r"^/repos/[^/]+/[^/]+/actions/runs/\d+/jobs$", "job", True, "jobs"),
    "releases": (r"^/repos/[^/]+/[^/]+/releases$", "release", True, None),
    "tag_refs": (r"^/repos/[^/]+/[^/]+/git/(matching-)?refs/tags", "git-ref", True, None),
    "git_tag": (r"^/repos/[^/]+/[^/]+/git/tags/[0-9a-f]{40}$", "git-tag", False, None),
    "tags": (r"^/repos/[^/]+/[^/]+/tags$", "tag", True, None),
}


# Formats checked with checkers of our own: jsonschema checks `date-time` and `uri` only with optional
# packages, and without them passes anything silently.
FORMATS = jsonschema.FormatChecker(formats=())
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only; the type says the rest
    if not _RFC3339.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))  # a real day and time
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if not (parts.scheme and parts.netloc) or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an absolute URI")
    return True


def _openapi_to_jsonschema(node):
    """OpenAPI 3.0 marks null-able values with `nullable: true`; JSON Schema needs null in the type."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")
    }
    if node.get("nullable") is True:
        if "type" in out and isinstance(out["type"], str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components() -> dict:
    if not OPENAPI.exists():
        pytest.skip(f"GitHub OpenAPI description not found at {OPENAPI} (shared data folder absent)")
    with gzip.open(OPENAPI) as handle:
        document = json.load(handle)
    return _openapi_to_jsonschema(document["components"])


@cache
def _recorded() -> dict[str, list[dict]]:
    """First item of each recorded 200 GET body, by endpoint name."""
    if not REPLAY.exists():
        pytest.skip(f"recorded GitHub responses not found at {REPLAY} (shared data folder absent)")
    found: dict[str, list[dict]] = {}
    with tarfile.open(REPLAY) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            lines = archive.extractfile(member).read().decode("utf-8", "replace").split("\n")
            i = 0
            while i + 9 < len(lines):
                if not lines[i]:
                    i += 1
                    continue
                record, i = lines[i : i + 10], i + 10
                if record[1] != "GET" or record[7] != "200":
                    continue
                path = record[4].split("?")[0]
                patterns = {n: (p, None) for n, (p, _, _) in ENDPOINTS.items()}
                patterns |= {n: (p, key) for n, (p, _, _, key) in EXTRAS.items()}
                for name, (pattern, key) in patterns.items():
                    if re.match(pattern, path):
                        try:
                            body = json.loads(record[9])
                        except ValueError:
                            continue
                        if key is not None and isinstance(body, dict):
                            body = body.get(key) or []
                        if isinstance(body, list):
                            if not body:
                                continue
                            body = body[0]
                        found.setdefault(name, []).append(body)
    return found


@pytest.fixture(scope="module")
def served():
    """One emulator response per endpoint, over objects that exercise merged, squashed and open PRs."""
    world = generate_org(scale="tiny", seed=7, end=END)
    emu = Emulator(world).start()
    try:
        svc = world.service("auth-service")
        merged = (
            next(p for p in svc.pulls if p.merge_method == "merge")
            if any(p.merge_method == "merge" for p in svc.pulls)
            else next(p for p in svc.pulls if p.merged_at)
        )
        dep = next(d for d in svc.deployments if d.is_production and not d.is_baseline)
        base = f"{emu.url}/github/repos/acme/auth-service"
        urls = {
            "org_repos": f"{emu.url}/github/orgs/acme/repos",
            "pulls": f"{base}/pulls?state=all&per_page=100",
            "pull": f"{base}/pulls/{merged.number}",
            "pr_commits": f"{base}/pulls/{merged.number}/commits",
            "reviews": f"{base}/pulls/{merged.number}/reviews",
            "commits": f"{base}/commits?per_page=100",
            "commit": f"{base}/commits/{merged.merge_commit_sha}",
            "branches": f"{base}/branches?per_page=100",
            "deployments": f"{base}/deployments?per_page=100",
            "deployment": f"{base}/deployments/{dep.deployment_id}",
            "statuses": f"{base}/deployments/{dep.deployment_id}/statuses",
        }
        bodies = {}
        for name, url in urls.items():
            response = requests.get(url, headers=GH, timeout=10)
            assert response.status_code == 200, name
            bodies[name] = response.json()
        open_pr = next(
            (
                p
                for other in world.services
                for p in other.pulls
                if p.merged_at is None and p.closed_at is None and p.opened_at <= END
            ),
            None,
        )
        if open_pr is not None:
            bodies["open_pull"] = requests.get(
                f"{emu.url}/github/repos/acme/{open_pr.service}/pulls/{open_pr.number}",
                headers=GH,
                timeout=10,
            ).json()
        yield bodies
    finally:
        emu.stop()


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_response_matches_openapi_schema(served, name):
    import jsonschema

    components = _components()
    _, component, is_list = ENDPOINTS[name]
    schema = {"$ref": f"#/components/schemas/{component}", "components": components}
    if is_list:
        schema = {
            "type": "array",
            "items": {"$ref": f"#/components/schemas/{component}"},
            "components": components,
        }
    body = served[name]
    assert body, f"{name}: empty response"
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]
    )


def test_open_pull_request_matches_schema(served):
    import jsonschema

    if "open_pull" not in served:
        pytest.skip("no open PR in this world")
    schema = {"$ref": "#/components/schemas/pull-request", "components": _components()}
    jsonschema.validate(served["open_pull"], schema, cls=jsonschema.Draft7Validator)
    assert served["open_pull"]["state"] == "open" and served["open_pull"]["merged_at"] is None


def test_schema_check_can_fail(served):
    """The validator really checks: a deployment without `sha` or with a string id is rejected."""
    import jsonschema

    schema = {"$ref": "#/components/schemas/deployment", "components": _components()}
    broken = copy.deepcopy(served["deployment"])
    del broken["sha"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)
    broken = copy.deepcopy(served["deployment"])
    broken["id"] = str(broken["id"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_key_sets_cover_recorded_real_responses(served, name):
    recorded = _recorded().get(name)
    if not recorded:
        pytest.skip(f"no recorded response for {name}")
    body = served[name][0] if ENDPOINTS[name][2] else served[name]
    union = set().union(*(set(r) for r in recorded))
    assert union - set(body) == set(), f"{name}: keys real GitHub serves that we do not"
    # nested objects (user, head/base, commit, _links, ...) where both sides hold an object
    for key, value in body.items():
        if not isinstance(value, dict) or key == "payload":
            continue
        theirs = set().union(*(set(r[key]) for r in recorded if isinstance(r.get(key), dict)))
        assert theirs - set(value) == set(), f"{name}.{key}: nested keys missing"


@pytest.fixture(scope="module")
def served_extras():
    """One response per Actions, release and tag endpoint, from the `mixed` org (the scale serving them)."""
    world = generate_org(scale="mixed", seed=7, end=END)
    emu = Emulator(world).start()
    try:
        actions = next(s for s in world.services if s.delivery == "actions")
        tagged = next(s for s in world.services if s.delivery == "tags")
        deploy = next(
            r for r in actions.runs if r.name == "deploy" and r.deployment and not r.deployment.is_baseline
        )
        base = f"{emu.url}/github/repos/{actions.repository}"
        tags_base = f"{emu.url}/github/repos/{tagged.repository}"
        refs = requests.get(f"{tags_base}/git/matching-refs/tags", headers=GH, timeout=10).json()
        urls = {
            "workflow_runs": f"{base}/actions/runs?per_page=100",
            "workflow_run": f"{base}/actions/runs/{deploy.run_id}",
            "run_jobs": f"{base}/actions/runs/{deploy.run_id}/jobs",
            "releases": f"{tags_base}/releases",
            "tag_refs": f"{tags_base}/git/matching-refs/tags",
            "git_tag": refs[-1]["object"]["url"],
            "tags": f"{tags_base}/tags",
        }
        bodies = {}
        for name, url in urls.items():
            response = requests.get(url, headers=GH, timeout=10)
            assert response.status_code == 200, name
            key = EXTRAS[name][3]
            bodies[name] = response.json()[key] if key else response.json()
        yield bodies
    finally:
        emu.stop()


@pytest.mark.parametrize("name", list(EXTRAS))
def test_extras_match_openapi_schema(served_extras, name):
    import jsonschema

    components = _components()
    _, component, is_list, _ = EXTRAS[name]
    item = {"$ref": f"#/components/schemas/{component}"}
    schema = {"type": "array", "items": item} if is_list else dict(item)
    schema["components"] = components
    body = served_extras[name]
    assert body, f"{name}: empty response"
    errors = sorted(
        jsonschema.Draft7Validator(schema, format_checker=FORMATS).iter_errors(body),
        key=lambda e: list(e.absolute_path),
    )
    assert not errors, f"{name}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]
    )


def test_extras_schema_check_can_fail(served_extras):
    """The validator really checks: a run without `head_sha` is rejected."""
    import jsonschema

    schema = {"$ref": "#/components/schemas/workflow-run", "components": _components()}
    broken = copy.deepcopy(served_extras["workflow_run"])
    del broken["head_sha"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize("name", list(EXTRAS))
def test_extras_key_sets_cover_recorded_real_responses(served_extras, name):
    recorded = _recorded().get(name)
    if not recorded:
        pytest.skip(f"no recorded response for {name}")
    body = served_extras[name][0] if EXTRAS[name][2] else served_extras[name]
    union = set().union(*(set(r) for r in recorded))
    # keys GitHub added after the recording are ours alone; keys it served then must be served now
    assert union - set(body) == set(), f"{name}: keys real GitHub serves that we do not"
