"""Real histories (requests, flask) rebuilt as git repositories and run through the whole stack.

Plain `git` is the oracle: a commit's first deploying tag in `fct_commits` must be the earliest release tag
(by tag time) whose history contains it. flask tags releases on maintenance branches, off main; requests
holds a commit written at `+51800`. Both repositories load in one refresh (one dbt build) to keep this fast.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HISTORIES = ("requests", "flask")
# Release tags as the quickstart reads them; both projects tag releases so (v2.31.0, 2.3.0, 0.10).
RELEASE_TAGS = r"^v?\d+\.\d+(\.\d+)?$"
SAMPLE_SIZE = 300

pytestmark = pytest.mark.shared


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def real_histories(tmp_path_factory):
    """requests and flask rebuilt once, loaded as two services through one refresh."""
    tool = SHARED / "tools" / "git_rebuild.py"
    missing = [h for h in HISTORIES if not (SHARED / "data" / "git" / f"{h}.jsonl.gz").exists()]
    if not tool.exists() or missing:
        pytest.skip(
            f"shared git histories not available ({', '.join(missing) or tool.name}); see the data README"
        )
    root = tmp_path_factory.mktemp("real-git")
    repos = {}
    for history in HISTORIES:
        target = root / "repos" / history
        subprocess.run(
            [
                sys.executable,
                str(tool),
                str(SHARED / "data" / "git" / f"{history}.jsonl.gz"),
                str(target),
                "--map",
                str(root / f"{history}.map"),
            ],
            check=True,
            capture_output=True,
        )
        repos[history] = target
    config = {
        "org": "real",
        "sources": {"git": {"repositories": [{"path": f"repos/{h}"} for h in HISTORIES]}},
        "teams": [{"name": "oss"}],
        "services": [
            {
                "name": h,
                "team": "oss",
                "repository": h,
                "deployments": [{"environment": "production", "tag": RELEASE_TAGS}],
            }
            for h in HISTORIES
        ],
        "environments": [{"name": "production", "match": "^prod", "production": True}],
    }
    (root / "org.yml").write_text(json.dumps(config))  # JSON is YAML

    from orchestration.cli import main

    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG")}
    try:
        assert main(["refresh", "--config", str(root / "org.yml")]) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {"root": root, "repos": repos, "warehouse": root / "warehouse.duckdb"}


def _query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _release_tags(repo: Path) -> dict[str, int]:
    """Release tags and their time as git reports it (tagger date, or a lightweight tag's commit date)."""
    out = _git(repo, "for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", "refs/tags")
    pattern = re.compile(RELEASE_TAGS, re.IGNORECASE)
    return {name: int(ts) for name, ts in (line.split() for line in out.splitlines()) if pattern.search(name)}


@pytest.mark.parametrize("history", HISTORIES)
def test_every_commit_loads(real_histories, history):
    repo = real_histories["repos"][history]
    all_commits = set(_git(repo, "rev-list", "--all").split())
    loaded = _query(
        real_histories["warehouse"],
        "select count(*), count(distinct commit_sha) from marts.fct_commits where service = ?",
        [history],
    )
    assert loaded == [(len(all_commits), len(all_commits))]


def test_requests_commit_with_odd_offset_loads(real_histories):
    """The commit recorded at `+51800` is in the warehouse at its exact instant."""
    original = None
    with gzip.open(SHARED / "data" / "git" / "requests.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["kind"] == "commit" and record["author"]["date"].endswith("+51800"):
                original = record
                break
    assert original is not None, "the requests history holds a +51800 commit"
    mapping = dict(
        line.split("\t") for line in (real_histories["root"] / "requests.map").read_text().splitlines()
    )
    rows = _query(
        real_histories["warehouse"],
        "select epoch(authored_at)::bigint from marts.fct_commits "
        "where service = 'requests' and commit_sha = ?",
        [mapping[original["sha"]]],
    )
    assert rows == [(int(original["author"]["date"].split()[0]),)]


@pytest.mark.parametrize("history", HISTORIES)
def test_first_deploying_tag_is_the_earliest_tag_containing_the_commit(real_histories, history):
    repo = real_histories["repos"][history]
    tags = _release_tags(repo)
    assert len(tags) > 20
    tag_commits = {
        line.split()[0]: line.split()[1]
        for line in _git(
            repo, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)%(objectname)", "refs/tags"
        ).splitlines()
    }
    all_commits = sorted(set(_git(repo, "rev-list", "--all").split()))
    sample = set(random.Random(7).sample(all_commits, SAMPLE_SIZE))
    sample |= {tag_commits[name][:40] for name in tags}  # the peeled commit comes first

    actual = {
        sha: tag
        for sha, tag in _query(
            real_histories["warehouse"],
            "select fct_commits.commit_sha, split_part(fct_deployments.source_deployment_id, '@', 2) "
            "from marts.fct_commits left join marts.fct_deployments using (deployment_id) "
            "where fct_commits.service = ?",
            [history],
        )
    }
    # the release tags containing each sampled commit, as `git tag --contains` answers (one rev-list a tag
    # instead of one git process a commit)
    containing_tags: dict[str, list[str]] = {sha: [] for sha in sample}
    for name in tags:
        for sha in sample.intersection(_git(repo, "rev-list", f"refs/tags/{name}").split()):
            containing_tags[sha].append(name)
    mismatches = []
    for sha in sorted(sample):
        containing = containing_tags[sha]
        if not containing:
            expected: set[str | None] = {None}
        else:
            first = min(tags[name] for name in containing)
            expected = {name for name in containing if tags[name] == first}  # ties: any of them
        if actual.get(sha, "missing") not in expected:
            mismatches.append((sha, actual.get(sha, "missing"), sorted(expected, key=str)))
    assert not mismatches, f"{len(mismatches)} of {len(sample)} commits, e.g. {mismatches[:5]}"


def test_tag_deployments_are_production_deployments_of_their_service(real_histories):
    rows = _query(
        real_histories["warehouse"],
        "select service, count(*), bool_and(is_production), bool_and(status = 'success'), "
        "count(*) filter (where is_baseline) from marts.fct_deployments group by service order by service",
    )
    counts = {h: len(_release_tags(real_histories["repos"][h])) for h in HISTORIES}
    assert rows == [(h, counts[h], True, True, 1) for h in sorted(HISTORIES)]


PR_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
PR_SAMPLE = 40


def _side(repo: Path, merge: str) -> list[str]:
    """`git rev-list M^1..M^2`: what merging M's second parent brought."""
    return _git(repo, "rev-list", f"{merge}^2", f"^{merge}^1").split()


def _pr_merges(repo: Path, *revs: str) -> dict[str, int]:
    out = _git(repo, "log", "--merges", "--format=%H %s", *revs)
    merges = {}
    for line in out.splitlines():
        sha, _, subject = line.partition(" ")
        match = PR_MERGE.match(subject)
        if match:
            merges[sha] = int(match.group(1))
    return merges


def _copies(repo: Path) -> dict[str, set[str]]:
    """Each non-merge commit's copies: other commits with the same author, author time and subject."""
    groups: dict[tuple[str, str, str], set[str]] = {}
    for line in _git(repo, "log", "--all", "--no-merges", "--format=%H%x00%at%x00%an%x00%s").splitlines():
        sha, *key = line.split("\x00")
        groups.setdefault(tuple(key), set()).add(sha)
    return {sha: group - {sha} for group in groups.values() if len(group) > 1 for sha in group}


@pytest.mark.parametrize("history", HISTORIES)
def test_pull_requests_from_merge_commits_match_git(real_histories, history):
    """With git as the oracle: a `Merge pull request #N` commit M on main's first-parent chain brings
    `git rev-list M^1..M^2` (merges inside that branch, often a fork's own pull requests, included); its
    change in fct_changes has the first commit, merge time, commit count and the earliest release tag
    containing any of its commits."""
    repo = real_histories["repos"][history]
    warehouse = real_histories["warehouse"]
    merges = _pr_merges(repo, "--first-parent", "main")
    numbers = list(_pr_merges(repo, "--all").values())
    # A number named by several merges anywhere (forks number their own pull requests) is left out.
    once = [sha for sha, number in merges.items() if numbers.count(number) == 1]
    assert len(once) > 100
    sample = random.Random(11).sample(sorted(once), PR_SAMPLE)

    mart_owner = dict(
        _query(warehouse, "select commit_sha, pr_number from marts.fct_commits where service = ?", [history])
    )
    changes = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select pr_number, change_kind, is_from_git_history, epoch(first_commit_at)::bigint, "
            "epoch(merged_at)::bigint, fct_changes.commit_count, "
            "split_part(fct_deployments.source_deployment_id, '@', 2) "
            "from marts.fct_changes left join marts.fct_deployments using (deployment_id) "
            "where fct_changes.service = ? and change_kind = 'pull_request'",
            [history],
        )
    }
    tags = _release_tags(repo)
    copies = _copies(repo)
    wrong_owner, wrong_change = [], []
    for merge in sample:
        number = merges[merge]
        side = _side(repo, merge)
        for sha in [*side, merge]:
            if mart_owner.get(sha, "missing") != number:
                wrong_owner.append((merge[:10], number, sha[:10], mart_owner.get(sha, "missing")))
        own = side or [merge]
        author_times = [int(_git(repo, "log", "-1", "--format=%at", sha)) for sha in own]
        merged_at = int(_git(repo, "log", "-1", "--format=%ct", merge))
        # METRICS: a change's first production deployment ships any of its commits (its branch may have
        # been released from elsewhere before the merge), or a copy of one (a backport cherry-picked onto a
        # maintenance branch and released there first: docs/metrics.md, "regions, copies and baselines").
        shipping = {*own, merge} | {copy for sha in own for copy in copies.get(sha, ())}
        containing = {
            name for sha in shipping for name in _git(repo, "tag", "--contains", sha).split() if name in tags
        }
        first_tags = (
            {name for name in containing if tags[name] == min(tags[n] for n in containing)}
            if containing
            else {None}
        )
        row = changes.get(number)
        if (
            row is None
            or row[:5] != ("pull_request", True, min(author_times), merged_at, len(own))
            or row[5] not in first_tags
        ):
            wrong_change.append(
                (number, row, (min(author_times), merged_at, len(own), sorted(first_tags, key=str)))
            )
    assert not wrong_owner, f"{len(wrong_owner)} commits, e.g. {wrong_owner[:5]}"
    assert not wrong_change, f"{len(wrong_change)} of {PR_SAMPLE} pull requests, e.g. {wrong_change[:3]}"


@pytest.mark.parametrize("history", HISTORIES)
def test_direct_commits_on_main_are_their_own_changes(real_histories, history):
    """A non-merge commit on main's first-parent chain whose subject names no pull request (`(#N)`) is a
    direct push: one change keyed by its SHA. A squash-titled one is its pull request's landing."""
    repo = real_histories["repos"][history]
    out = _git(repo, "log", "--first-parent", "--no-merges", "--format=%H %at %ct %s", "main")
    direct, squashed = {}, {}
    for line in out.splitlines():
        sha, authored, committed, subject = line.split(" ", 3)
        match = re.search(r"\(#(\d+)\)\s*$", subject)
        (squashed if match else direct)[sha] = (int(authored), int(committed), match)
    assert direct
    rows = _query(
        real_histories["warehouse"],
        "select split_part(change_id, '@', 2), epoch(first_commit_at)::bigint, epoch(merged_at)::bigint "
        "from marts.fct_changes where service = ? and change_kind = 'direct_push'",
        [history],
    )
    mart_direct = {sha: (first, merged) for sha, first, merged in rows}
    assert {sha: times[:2] for sha, times in direct.items()}.items() <= mart_direct.items()
    assert not set(squashed) & set(mart_direct)
    landings = {
        sha: number
        for sha, number in _query(
            real_histories["warehouse"],
            "select commit_sha, pr_number from marts.fct_commits where service = ?",
            [history],
        )
    }
    assert all(landings.get(sha) == int(match.group(1)) for sha, (_, _, match) in squashed.items())
