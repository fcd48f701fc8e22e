"""A real history (flask) rewritten onto a release line: lead time when copies shipped with the baseline.

flask is rebuilt, then a month of its main line after the 2.0.2 release is rewritten onto a release line:
every non-merge commit copied with its author, author time and message under a new SHA (what a cherry-pick
or a rebase does). Deployments are `deploy-*` tags: the first, on the release line's tip, is the baseline;
the next ones are the releases tagged on main after it, at their own tag times. The pull requests of that
month reached production before the deployment history began (as copies, with the baseline) and must get no
lead time, not be measured to the next release. Plain `git` on the rebuilt repository is the oracle.
"""

from __future__ import annotations

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
HISTORY = "flask"
RELEASE_TAGS = re.compile(r"^v?\d+\.\d+(\.\d+)?$")
START_TAG = "2.0.2"
REWRITTEN_DAYS = 30
DETAILS = "%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd%x00%T"
PR_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
UNAFFECTED_SAMPLE = 40

pytestmark = pytest.mark.shared


def _git(repo: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env} if env else None,
        input=stdin,
    ).stdout


def _rewrite_onto_release_line(repo: Path) -> dict:
    """Copy the month after START_TAG onto a release line; tag deployments. Returns what the oracle needs."""
    start_time = int(_git(repo, "log", "-1", "--format=%ct", START_TAG))
    cut = start_time + REWRITTEN_DAYS * 86400
    tip = _git(repo, "rev-list", "-1", "--first-parent", f"--before={cut}", "main").strip()
    originals = _git(repo, "rev-list", "--reverse", "--no-merges", f"{START_TAG}..{tip}").split()
    parent = _git(repo, "rev-parse", f"{START_TAG}^{{commit}}").strip()
    copied = {}
    for sha in originals:
        fields = _git(repo, "log", "-1", "--date=raw", f"--format={DETAILS}", sha)
        an, ae, ad, cn, ce, cd, tree = fields.rstrip("\n").split("\x00")
        message = _git(repo, "log", "-1", "--format=%B", sha)
        env = {
            "GIT_AUTHOR_NAME": an,
            "GIT_AUTHOR_EMAIL": ae,
            "GIT_AUTHOR_DATE": ad,
            "GIT_COMMITTER_NAME": cn,
            "GIT_COMMITTER_EMAIL": ce,
            "GIT_COMMITTER_DATE": cd,
        }
        parent = _git(repo, "commit-tree", tree, "-p", parent, "-F", "-", env=env, stdin=message).strip()
        copied[sha] = parent
    _git(repo, "branch", "release-2.0", parent)

    def tag(name: str, target: str, when: int) -> None:
        env = {"GIT_COMMITTER_NAME": "release", "GIT_COMMITTER_EMAIL": "release@example.org"}
        env["GIT_COMMITTER_DATE"] = f"{when} +0000"
        _git(repo, "tag", "-a", name, target, "-m", name, env=env)

    baseline_time = cut + 86400
    tag("deploy-0", parent, baseline_time)
    releases = _git(repo, "for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", "refs/tags")
    deploys = {"deploy-0": (parent, baseline_time)}
    for line in sorted(releases.splitlines(), key=lambda x: int(x.split()[1])):
        name, when = line.split()
        if not RELEASE_TAGS.match(name) or int(when) <= baseline_time:
            continue
        commit = _git(repo, "rev-parse", f"{name}^{{commit}}").strip()
        if subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, "main"]).returncode:
            continue  # releases of main only: the release line is the history before them
        tag(f"deploy-{len(deploys)}", commit, int(when))
        deploys[f"deploy-{len(deploys)}"] = (commit, int(when))
    return {"copied": copied, "baseline_tip": parent, "deploys": deploys}


@pytest.fixture(scope="module")
def release_line(tmp_path_factory):
    tool = SHARED / "tools" / "git_rebuild.py"
    data = SHARED / "data" / "git" / f"{HISTORY}.jsonl.gz"
    if not tool.exists() or not data.exists():
        pytest.skip(f"shared git histories not available ({data.name}); see the data README")
    root = tmp_path_factory.mktemp("release-line")
    repo = root / "repos" / HISTORY
    subprocess.run([sys.executable, str(tool), str(data), str(repo)], check=True, capture_output=True)
    made = _rewrite_onto_release_line(repo)
    config = {
        "org": "real",
        "sources": {"git": {"repositories": [{"path": f"repos/{HISTORY}"}]}},
        "teams": [{"name": "oss"}],
        "services": [
            {
                "name": HISTORY,
                "team": "oss",
                "repository": HISTORY,
                "deployments": [{"environment": "production", "tag": "^deploy-"}],
            }
        ],
        "environments": [{"name": "production", "match": "^prod", "production": True}],
    }
    (root / "org.yml").write_text(json.dumps(config))

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
    return {**made, "repo": repo, "warehouse": root / "warehouse.duckdb"}


def _is_ancestor(repo: Path, sha: str, of: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, of]).returncode == 0


def test_pull_requests_shipped_as_copies_by_the_baseline_get_no_lead_time(release_line):
    repo, deploys = release_line["repo"], release_line["deploys"]
    copied = set(release_line["copied"])
    assert len(copied) > 20 and len(deploys) > 5
    merges = {}
    for line in _git(repo, "log", "--first-parent", "--merges", "--format=%H %s", "main").splitlines():
        sha, _, subject = line.partition(" ")
        match = PR_MERGE.match(subject)
        if match:
            merges.setdefault(int(match.group(1)), []).append(sha)
    merges = {number: shas[0] for number, shas in merges.items() if len(shas) == 1}
    # The pull requests that reached production: their merge is in a deployment's history.
    last_deploy = max(deploys.values(), key=lambda item: item[1])[0]
    deployed = {n: m for n, m in merges.items() if _is_ancestor(repo, m, last_deploy)}
    own = {n: _git(repo, "rev-list", "--no-merges", f"{m}^2", f"^{m}^1").split() for n, m in deployed.items()}
    affected = {n for n in deployed if set(own[n]) & copied}
    assert affected, "the rewritten month holds merged pull requests"

    rows = {
        number: rest
        for number, *rest in duckdb.connect(str(release_line["warehouse"]), read_only=True)
        .execute(
            "select pr_number, split_part(fct_deployments.source_deployment_id, '@', 2), "
            "lead_time_minutes, is_shipped_by_baseline, is_shipped_as_copy, no_lead_time_reason "
            "from marts.fct_changes left join marts.fct_deployments using (deployment_id) "
            "where change_kind = 'pull_request'"
        )
        .fetchall()
    }
    wrong = [
        (n, rows.get(n))
        for n in sorted(affected)
        if rows.get(n) != ["deploy-0", None, True, True, "shipped_by_baseline"]
    ]
    assert not wrong, f"{len(wrong)} of {len(affected)} pull requests shipped as copies, e.g. {wrong[:5]}"

    # The others are measured to the first deployment whose history holds the merge or a commit of theirs.
    order = sorted(deploys, key=lambda name: deploys[name][1])
    others = sorted(set(deployed) - affected)
    wrong = []
    for n in random.Random(5).sample(others, min(UNAFFECTED_SAMPLE, len(others))):
        shipping = [deployed[n], *own[n]]
        first = next(name for name in order if any(_is_ancestor(repo, s, deploys[name][0]) for s in shipping))
        start = min(int(_git(repo, "log", "-1", "--format=%at", s)) for s in own[n] or [deployed[n]])
        expected = (
            ["deploy-0", None, True, False, "shipped_by_baseline"]
            if first == "deploy-0"
            else [
                first,
                (deploys[first][1] - start) / 60,
                False,
                False,
                None,
            ]
        )
        row = rows.get(n)
        if (
            row is None
            or row[0] != expected[0]
            or row[2:] != expected[2:]
            or (expected[1] is not None and (row[1] is None or abs(row[1] - expected[1]) > 1e-6))
        ):
            wrong.append((n, row, expected))
    assert not wrong, f"{len(wrong)} pull requests, e.g. {wrong[:3]}"
    print(f"\n{len(affected)} of {len(deployed)} deployed pull requests shipped as copies by the baseline")
