"""GitLab direct pushes in a project where services own paths: the files of the default branch's possible
direct pushes are read from `/repository/commits/:sha/diff` (every page) and map the push to the services
whose paths they touch, as GitHub's commit detail does (docs/metrics.md, "Services by path").

acme/mono (pay owns services/pay/**, search services/search/**, shared no paths) is served by a local stub;
its commits, listed with `all=true` as GitLab lists every branch's, newest first:

    m0 ← d1 ← g1 ← d2 ← d3        main (d3 its tip); g1 merges b1 (merge request !1)
            ↖ b1 ↙                 the merge request's own commit, off the first-parent chain
    d1 ← f1                        branch `feature`, not merged

m0, d1, d2 and d3 are the possible direct pushes (one parent, no merge request named in the subject); g1
(two parents), b1 and f1 (off main's first-parent chain) are not asked for. d2's diff answers 404: it is
skipped, d3's files (three: two pages) still load. d1 renames a file from pay's folder into search's (both
services), m0 changes README.md (shared, the fallback), d3 search's folder and docs/ (search and shared).
m0's diff also lists an entry without its new path: quarantined, as any record breaking the contract.
acme/api's service owns no paths: none of its commits' diffs is asked for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import duckdb
import pytest
from dbt_build import dbt_build
from test_deploy_rules_fork_runs import _Dbt
from test_ingestion_stub import Stub

from ingestion.config import parse_config, path_repositories
from ingestion.gitlab import gitlab_source
from ingestion.org_config import org_config_source
from ingestion.pipelines import make_pipeline

API = "/api/v4"
PAGE_SIZE = 2
CONFIG = """\
org: acme
sources:
  gitlab: {base_url: "https://gitlab.example.com", token: t, projects: [acme/mono, acme/api]}
teams:
  - name: money
  - name: find
  - name: platform
services:
  - {name: pay, team: money, repository: acme/mono, paths: ["services/pay/**"]}
  - {name: search, team: find, repository: acme/mono, paths: ["services/search/**"]}
  - {name: shared, team: platform, repository: acme/mono}
  - {name: api, team: platform, repository: acme/api}
"""


def _commit(sha: str, parents: list[str], day: int, message: str | None = None) -> dict:
    at = f"2026-06-{day:02d}T09:00:00.000Z"
    message = message or f"change {sha}"
    return {
        "id": sha,
        "short_id": sha,
        "parent_ids": parents,
        "title": message.split("\n", 1)[0],
        "message": message,
        "author_name": "Ann",
        "author_email": "ann@example.com",
        "authored_date": at,
        "committer_name": "Ann",
        "committer_email": "ann@example.com",
        "committed_date": at,
        "created_at": at,
    }


def _diff(old: str, new: str | None = None, **flags: bool) -> dict:
    """One entry of `/repository/commits/:sha/diff`, after GitLab's API reference."""
    return {
        "old_path": old,
        "new_path": new or old,
        "a_mode": "100644",
        "b_mode": "100644",
        "diff": "@@ -1 +1 @@\n-a\n+b\n",
        "new_file": flags.get("new_file", False),
        "renamed_file": flags.get("renamed_file", False),
        "deleted_file": flags.get("deleted_file", False),
        "generated_file": False,
    }


MERGE = "Merge branch 'feature-x' into 'main'\n\nchange b1\n\nSee merge request acme/mono!1"
MONO_COMMITS = [  # newest first
    _commit("d3", ["d2"], 6),
    _commit("d2", ["g1"], 5),
    _commit("g1", ["d1", "b1"], 4, MERGE),
    _commit("f1", ["d1"], 3),
    _commit("b1", ["d1"], 3),
    _commit("d1", ["m0"], 2),
    _commit("m0", [], 1),
]
DIFFS = {  # d2's is not served: 404
    # an entry without its new path breaks the contract: quarantined, the rest loads
    "m0": [_diff("README.md", new_file=True), {"old_path": "broken.py", "new_file": False}],
    "d1": [_diff("services/pay/old.py", "services/search/new.py", renamed_file=True)],
    "d3": [_diff("services/search/c.py"), _diff("services/search/d.py", new_file=True), _diff("docs/x.md")],
    # not possible direct pushes: their files would count if they were asked for
    "g1": [_diff("services/pay/merged.py")],
    "b1": [_diff("services/pay/merged.py")],
    "f1": [_diff("services/pay/feature.py")],
}


def _paged(stub: Stub, path: str, rows: list[dict]) -> None:
    """A list endpoint paged as GitLab's offset pagination does (`X-Next-Page` and a `Link` header)."""

    def serve(query: dict[str, str]):
        page = int(query.get("page", "1"))
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        headers = {"X-Page": str(page), "X-Total-Pages": str(pages), "X-Next-Page": ""}
        if page < pages:
            headers["X-Next-Page"] = str(page + 1)
            following = urlencode({**query, "page": page + 1, "per_page": PAGE_SIZE})
            headers["Link"] = f'<{{base}}{path}?{following}>; rel="next"'
        return 200, headers, rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    stub.handlers[path] = serve


def _serve(stub: Stub, diffs: dict[str, list[dict]]) -> None:
    api_commits = [_commit("a1", ["a0"], 2), _commit("a0", [], 1)]
    for project_id, path, commits in ((31, "acme/mono", MONO_COMMITS), (32, "acme/api", api_commits)):
        project = {
            "id": project_id,
            "path_with_namespace": path,
            "name": path.split("/")[1],
            "default_branch": "main",
        }
        stub.handlers[f"{API}/projects/{path.replace('/', '%2F')}"] = lambda _q, p=project: (200, {}, p)
        base = f"{API}/projects/{project_id}/repository"
        _paged(stub, f"{base}/commits", commits)
        stub.add(f"{base}/branches/main", {"name": "main", "default": True, "commit": commits[0]})
    for sha, files in diffs.items():
        _paged(stub, f"{API}/projects/31/repository/commits/{sha}/diff", files)
    _paged(stub, f"{API}/projects/32/repository/commits/a1/diff", [_diff("services/pay/x.py")])


def _load(root: Path, diffs: dict[str, list[dict]]) -> tuple[Path, list[str]]:
    db = root / "build.duckdb"
    config = parse_config(CONFIG)
    with Stub() as stub:
        _serve(stub, diffs)
        source = gitlab_source(
            base_url=stub.url,
            token="t",
            projects=["acme/mono", "acme/api"],
            start_date="2026-05-01",
            file_repositories=path_repositories(config),
        ).with_resources("projects", "commits", "commit_files")
        make_pipeline("gitlab", db, root / "dlt").run(source)
        paths = [urlsplit(p).path for _, p, _ in stub.requests]
    make_pipeline("org_config", db, root / "dlt").run(
        org_config_source(config.teams, config.services, config.environments, config.settings)
    )
    return db, paths


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("gitlab_commit_files")
    db, paths = _load(root, DIFFS)
    _Dbt(db, root).run("+int_commits_mapped_to_services")
    # the new models again, with their data tests (accepted sources, keys)
    dbt_build(db, root, "stg_gitlab__commit_files int_commit_files_unioned")
    return db, paths


def _fetch(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return sorted(con.execute(sql).fetchall())


def test_only_the_possible_direct_pushes_of_path_projects_are_read(loaded):
    _, paths = loaded
    asked = Counter(p.split("/")[-2] for p in paths if p.endswith("/diff"))
    assert asked == {"m0": 1, "d1": 1, "d2": 1, "d3": 2}  # pages of two: d3's three files take two
    assert not [p for p in paths if p.startswith(f"{API}/projects/32/repository/") and "/commits/" in p]


def test_a_missing_commit_diff_skips_that_commit_only(loaded):
    db, _ = loaded
    raw = _fetch(
        db,
        "select project, sha, old_path, new_path, new_file, renamed_file, deleted_file "
        "from raw_gitlab.commit_files",
    )
    assert raw == [
        ("acme/mono", "d1", "services/pay/old.py", "services/search/new.py", False, True, False),
        ("acme/mono", "d3", "docs/x.md", "docs/x.md", False, False, False),
        ("acme/mono", "d3", "services/search/c.py", "services/search/c.py", False, False, False),
        ("acme/mono", "d3", "services/search/d.py", "services/search/d.py", True, False, False),
        ("acme/mono", "m0", "README.md", "README.md", True, False, False),
    ]


def test_a_record_breaking_the_contract_is_quarantined(loaded):
    db, _ = loaded
    quarantined = _fetch(db, "select resource, scope from raw_gitlab.quarantine")
    assert quarantined == [("commit_files", "acme/mono")]


def test_commit_files_are_staged_and_unioned(loaded):
    db, _ = loaded
    staged = _fetch(
        db,
        "select commit_sha, file_path, previous_file_path, change_status "
        "from staging.stg_gitlab__commit_files where commit_sha in ('d1', 'm0')",
    )
    assert staged == [
        ("d1", "services/search/new.py", "services/pay/old.py", "renamed"),
        ("m0", "README.md", None, "added"),
    ]
    unioned = _fetch(
        db,
        "select change_id, file_path, source from intermediate.int_commit_files_unioned "
        "where commit_sha = 'd1'",
    )
    assert unioned == [
        ("acme/mono@d1", "services/pay/old.py", "gitlab"),
        ("acme/mono@d1", "services/search/new.py", "gitlab"),
    ]


def test_a_direct_push_counts_for_the_services_its_files_touch(loaded):
    db, _ = loaded
    mapped = _fetch(
        db, "select change_id, service, matched_by from intermediate.int_commits_mapped_to_services"
    )
    assert mapped == [
        ("acme/mono@d1", "pay", "path"),
        ("acme/mono@d1", "search", "path"),
        ("acme/mono@d3", "search", "path"),
        ("acme/mono@d3", "shared", "repository"),
        ("acme/mono@m0", "shared", "repository"),
    ]


def test_the_emulator_serves_the_diffs_of_a_projects_direct_pushes(tmp_path):
    """The mixed world's GitLab projects own no paths; read one as if they did, against the emulator: the
    direct pushes the listing holds (main commits no merge request landed, one parent) have their files
    read, as the world recorded them, and no other commit does."""
    from datetime import UTC, datetime

    from simulator import Emulator, generate_org
    from simulator.github import commit_filenames

    world = generate_org("mixed", seed=11, end=datetime(2026, 11, 2, tzinfo=UTC))
    svc = next(s for s in world.services if s.name == "cart-service")
    emu = Emulator(world).start()
    try:
        config = world.org_config(f"{emu.url}/github", f"{emu.url}/pagerduty", "gh", "pd")
        gl = config["sources"]["gitlab"]
        source = gitlab_source(
            base_url=gl["base_url"],
            token=gl["token"],
            projects=[svc.repository],
            start_date=config["sources"]["github"]["start_date"],
            file_repositories=[svc.repository],
        ).with_resources("projects", "commits", "commit_files")
        make_pipeline("gitlab", tmp_path / "build.duckdb", tmp_path / "dlt").run(source)
    finally:
        emu.stop()
    db = tmp_path / "build.duckdb"
    listed = {sha for (sha,) in _fetch(db, "select id from raw_gitlab.commits")}
    read: dict[str, set[str]] = {}
    for sha, path in _fetch(db, "select sha, new_path from raw_gitlab.commit_files"):
        read.setdefault(sha, set()).add(path)
    landed = {pr.merge_commit_sha for pr in svc.pulls if pr.merged_at is not None}
    direct = {s for s in svc.main if s in listed and s not in landed and len(svc.commits[s].parents) == 1}
    assert direct and set(read) == direct
    assert read == {sha: set(commit_filenames(svc, svc.commits[sha])) for sha in direct}
