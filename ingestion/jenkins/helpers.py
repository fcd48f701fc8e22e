"""HTTP, paging, job discovery and row shaping for the Jenkins source."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from ingestion.http import ApiError, RetryingSession, RetryPolicy, endpoint_of, json_selector

from .settings import BRANCH_PREFIXES, BUILD_TREE, FOLDER_CLASS_MARKERS, JOBS_TREE


class BasicAuth(requests.auth.AuthBase):
    """HTTP basic auth with a Jenkins user and API token; its repr never shows the token."""

    def __init__(self, user: str, token: str):
        self._user = user
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        pair = f"{self._user}:{self._token}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user={self._user!r}, token=***)"


def make_client(base_url: str, user: str | None, token: str | None, policy: RetryPolicy) -> RESTClient:
    """A REST client for one Jenkins controller (`base_url` is its root, e.g. https://ci.example.com/jenkins).

    Without a user the requests go out anonymously, which public controllers allow for reading.
    """
    return RESTClient(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/json"},
        auth=BasicAuth(user, token or "") if user else None,
        session=RetryingSession(policy, api_name="Jenkins"),
    )


class BuildRangePaginator(BasePaginator):
    """Pages through `allBuilds` with Jenkins' range syntax, newest first: `allBuilds[...]{from,to}`.

    `builds` stops at the newest 100; `allBuilds` holds every retained build but must be read in ranges.
    The range lives inside the `tree` parameter, so no stock paginator fits. A page shorter than the
    range is the last one.
    """

    def __init__(self, page_size: int, fields: str = BUILD_TREE):
        super().__init__()
        self.page_size = page_size
        self.fields = fields
        self.start = 0

    def _tree(self) -> str:
        return f"allBuilds[{self.fields}]{{{self.start},{self.start + self.page_size}}}"

    def init_request(self, request: Any) -> None:
        request.params = {**(request.params or {}), "tree": self._tree()}

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        if data is None or len(data) < self.page_size:
            self._has_next_page = False

    def update_request(self, request: Any) -> None:
        self.start += self.page_size
        request.params["tree"] = self._tree()


def job_path(url: str | None, full_name: str) -> str:
    """The job's path below the controller root (`job/a/job/b`).

    Taken from the URL Jenkins reports (its encoding of branch names is authoritative) but without host
    and root, because Jenkins' configured root URL often differs from the one we reach it by (proxies,
    tunnels, the stub in tests). Built from the full name when the URL says nothing useful.
    """
    path = urlsplit(url or "").path
    at = path.find("/job/")
    if at >= 0:
        return path[at + 1 :].rstrip("/")
    return "/".join(f"job/{quote(part, safe='%')}" for part in full_name.split("/"))


def is_folder(item: dict) -> bool:
    """Folders, organisation folders and multibranch projects hold jobs instead of builds."""
    if isinstance(item.get("jobs"), list):
        return True
    cls = item.get("_class") or ""
    return any(marker in cls for marker in FOLDER_CLASS_MARKERS)


def wanted(full_name: str, patterns: Sequence[str] | None) -> bool:
    """Whether a job is selected: no patterns select all; otherwise shell-style patterns on the full name
    (`deploy-*`, `payments/*/main`), case-sensitive as Jenkins names are."""
    return not patterns or any(fnmatchcase(full_name, pattern) for pattern in patterns)


def may_hold_wanted(folder: str, patterns: Sequence[str] | None) -> bool:
    """Whether a folder can contain a selected job, so unrelated folder trees are not walked at all."""
    if not patterns:
        return True
    for pattern in patterns:
        literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        # the pattern's fixed start and the folder's path must agree as far as both go
        prefix = folder + "/"
        if literal.startswith(prefix) or prefix.startswith(literal) or fnmatchcase(prefix, pattern):
            return True
    return False


def list_jobs(
    client: RESTClient, patterns: Sequence[str] | None, folder: str = "", path: str = ""
) -> Iterator[dict]:
    """Every buildable job below a folder (the root when `folder` is empty), walking sub-folders and
    multibranch projects, one request per folder."""
    listing = get_json(client, f"{path}/api/json" if path else "/api/json", {"tree": JOBS_TREE})
    for item in listing.get("jobs") or []:
        name = item.get("name") or ""
        full_name = item.get("fullName") or (f"{folder}/{name}" if folder else name)
        item_path = job_path(item.get("url"), full_name)
        if is_folder(item):
            if may_hold_wanted(full_name, patterns):
                yield from list_jobs(client, patterns, full_name, item_path)
        elif wanted(full_name, patterns):
            yield shape_job(item, full_name, folder, item_path)


def shape_job(item: dict, full_name: str, folder: str, path: str) -> dict:
    """A job row; `path` is kept (internally) so builds are requested where the listing found the job."""
    row = {
        "full_name": full_name,
        "name": item.get("name"),
        "folder": folder or None,
        "job_class": item.get("_class"),
        "url": item.get("url"),
        "color": item.get("color"),
        "description": item.get("description"),
        "buildable": item.get("buildable"),
        "last_build_number": (item.get("lastBuild") or {}).get("number"),
        "path": path,
    }
    return {key: value for key, value in row.items() if value is not None}


# requests raises its own JSONDecodeError (based on simplejson's when that is installed)
_JSON_ERRORS = (json.JSONDecodeError, requests.exceptions.JSONDecodeError)


def _not_json(endpoint: str, exc: ValueError) -> ApiError:
    # a proxy's login page or a half-written response: say where, not what the body held
    detail = getattr(exc, "msg", exc)
    return ApiError(f"Jenkins GET {endpoint}: the response is not JSON ({detail})", path=endpoint)


def get_json(client: RESTClient, path: str, params: dict[str, Any]) -> dict:
    """One JSON object from the API; a body that is not JSON is an error naming the endpoint."""
    response = client.get(path, params=params)
    try:
        body = response.json()
    except _JSON_ERRORS as exc:
        raise _not_json(endpoint_of(response.url), exc) from None
    return body if isinstance(body, dict) else {}


def build_pages(client: RESTClient, path: str, page_size: int) -> Iterator[list[dict]]:
    """A job's builds, newest first, one range at a time."""
    endpoint = f"{path}/api/json"
    pages = client.paginate(
        endpoint, paginator=BuildRangePaginator(page_size), data_selector=json_selector("allBuilds")
    )
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except _JSON_ERRORS as exc:
            raise _not_json(
                endpoint_of(client.base_url).rstrip("/") + "/" + endpoint.lstrip("/"), exc
            ) from None
        yield list(page)


def get_build(client: RESTClient, path: str, number: int) -> dict:
    """One build by number (a build seen still running on an earlier refresh)."""
    return get_json(client, f"{path}/{number}/api/json", {"tree": BUILD_TREE})


def normalize_branch(name: str | None) -> str | None:
    """`refs/remotes/origin/main`, `origin/main` and `main` are the same branch."""
    if not name:
        return None
    for prefix in BRANCH_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def revisions(actions: list[dict]) -> list[dict]:
    """What the git plugin recorded as built: one entry per checkout (BuildData action), in order.

    Old controllers omit `_class`, so BuildData is recognised by its `lastBuiltRevision`.
    """
    out = []
    for action in actions:
        revision = (action or {}).get("lastBuiltRevision")
        if not isinstance(revision, dict) or not revision.get("SHA1"):
            continue
        out.append(
            {
                "sha": revision["SHA1"],
                "branches": [b.get("name") for b in revision.get("branch") or [] if b.get("name")],
                "remote_urls": list(action.get("remoteUrls") or []),
            }
        )
    return out


def pick_revision(found: list[dict], job_name: str | None) -> dict | None:
    """The checkout the build is about.

    Pipelines check out shared libraries too, each with its own BuildData. In a multibranch project the
    job is named after its branch (URL-encoded), so the checkout of that branch wins; otherwise the last
    checkout, since libraries load before the pipeline's own `checkout scm`.
    """
    if not found:
        return None
    branch = unquote(job_name or "")
    for revision in found:
        if branch and any(normalize_branch(b) == branch for b in revision["branches"]):
            return revision
    return found[-1]


def parameters(actions: list[dict]) -> list[dict]:
    """Build parameters as name/value pairs. Password parameters keep their name only."""
    out = []
    for action in actions:
        for param in (action or {}).get("parameters") or []:
            if not isinstance(param, dict) or "name" not in param:
                continue
            entry = {"name": param["name"], "value": param.get("value")}
            if "Password" in (param.get("_class") or "") or "Credentials" in (param.get("_class") or ""):
                entry["value"] = None
            out.append(entry)
    return out


def causes(actions: list[dict]) -> list[dict]:
    """Why the build started (user, timer, SCM change, upstream build)."""
    out = []
    for action in actions:
        for cause in (action or {}).get("causes") or []:
            if isinstance(cause, dict):
                out.append({k: v for k, v in cause.items() if v is not None})
    return out


def changes(raw: dict) -> list[dict]:
    """Commits new in this build: `changeSet` on freestyle jobs, `changeSets` (a list) on pipelines."""
    sets = list(raw.get("changeSets") or [])
    if isinstance(raw.get("changeSet"), dict):
        sets.append(raw["changeSet"])
    out = []
    for change_set in sets:
        for item in change_set.get("items") or []:
            entry = {
                "commit_id": item.get("commitId"),
                "timestamp": item.get("timestamp"),
                "author": (item.get("author") or {}).get("fullName"),
                "author_email": item.get("authorEmail"),
                "msg": item.get("msg"),
                "affected_paths": item.get("affectedPaths"),
                "kind": change_set.get("kind"),
            }
            out.append({k: v for k, v in entry.items() if v is not None})
    return out


def shape_build(raw: dict, job: dict) -> dict:
    """A build row keyed by job full name and number; lists of actions become small JSON columns."""
    actions = [a for a in raw.get("actions") or [] if isinstance(a, dict)]
    found = revisions(actions)
    picked = pick_revision(found, job.get("name"))
    row = {
        "job_full_name": job["full_name"],
        "number": raw.get("number"),
        "build_id": raw.get("id"),
        "display_name": raw.get("displayName"),
        "description": raw.get("description"),
        "result": raw.get("result"),
        "building": bool(raw.get("building")),
        "timestamp": raw.get("timestamp"),
        "duration": raw.get("duration"),
        "estimated_duration": raw.get("estimatedDuration"),
        "url": raw.get("url"),
        "built_on": raw.get("builtOn"),
        "queue_id": raw.get("queueId"),
        "commit_sha": picked["sha"] if picked else None,
        "branch": normalize_branch(picked["branches"][0]) if picked and picked["branches"] else None,
        "revisions": found,
        "parameters": parameters(actions),
        "causes": causes(actions),
        "changes": changes(raw),
    }
    # nulls are left out (a missing key loads as NULL) so dlt sees no untyped columns
    return {key: value for key, value in row.items() if value is not None}
