"""A pull request's (or merge request's) branch squashed and force-pushed between two loads: the second
load replaces its commits and files, it does not add to them (docs/metrics.md, "Rewritten branches")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.github import github_source
from ingestion.gitlab import gitlab_source
from ingestion.pipelines import make_pipeline

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

END = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = "ghp_emulated_secret_token_5d1e"
FAST = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}


@pytest.fixture(scope="module")
def world():
    return simulator.generate_org(scale="mixed", seed=7, end=END)


def _latest_rewrite(world, gitlab: bool = False):
    rewritten = [
        (pr.rewritten_at, svc, pr)
        for svc in world.services
        if (svc.delivery == "gitlab") == gitlab
        for pr in svc.pulls
        if pr.rewritten_at
    ]
    assert rewritten, "the mixed org has rewritten branches (simulator/world.py, REWRITE_SHARE)"
    _, svc, pr = max(rewritten, key=lambda item: item[0])
    return svc, pr


def _listed(db: Path, table: str, column: str, repository: str, number: int) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            f"select {column} from raw_github.{table} where repository = ? and pull_number = ?",
            [repository, number],
        ).fetchall()
    return {row[0] for row in rows}


def test_the_world_rewrites_branches_after_opening_before_review(world):
    svc, pr = _latest_rewrite(world)
    assert pr.replaced_shas and set(pr.replaced_shas).isdisjoint(pr.commit_shas)
    assert pr.opened_at < pr.rewritten_at < pr.merged_at
    assert all(svc.commits[s].authored_at < pr.opened_at for s in pr.replaced_shas[:1])
    assert all(svc.commits[s].authored_at >= pr.rewritten_at for s in pr.commit_shas)
    # what GitHub lists moves with the push
    before = pr.shas_at(pr.rewritten_at - timedelta(seconds=1), svc.commits)
    assert before and set(before) <= set(pr.replaced_shas)
    assert pr.shas_at(pr.rewritten_at, svc.commits) == pr.commit_shas


@pytest.mark.parametrize("api", ["rest", "graphql"])
def test_a_reload_after_a_force_push_replaces_the_pull_requests_commits(world, tmp_path, api):
    svc, pr = _latest_rewrite(world)
    emu = simulator.Emulator(world, port=0, github_token=TOKEN, now=pr.rewritten_at - timedelta(seconds=1))
    emu.start()
    db = tmp_path / "build.duckdb"
    try:

        def load() -> None:
            source = github_source(
                base_url=f"{emu.url}/github",
                organization="acme",
                token=TOKEN,
                repositories=[svc.name],
                start_date=(END - timedelta(weeks=8)).date().isoformat(),
                api=api,
                **FAST,
            )
            make_pipeline("github", db, tmp_path / "dlt").run(source)

        load()
        old = pr.shas_at(emu.now, svc.commits)
        assert _listed(db, "pull_request_commits", "sha", svc.repository, pr.number) == set(old)
        files_before = _listed(db, "pull_request_files", "filename", svc.repository, pr.number)
        assert files_before

        emu.set_now(END)
        load()
        assert _listed(db, "pull_request_commits", "sha", svc.repository, pr.number) == set(pr.commit_shas)
        served = {f["filename"] for f in emu._pull_files(svc, pr, END)}
        assert _listed(db, "pull_request_files", "filename", svc.repository, pr.number) == served
        # every other pull request of the repository keeps exactly its listed commits
        with duckdb.connect(str(db), read_only=True) as con:
            loaded = con.execute(
                "select pull_number, count(*) from raw_github.pull_request_commits group by all"
            ).fetchall()
        expected = {
            p.number: len(p.shas_at(END, svc.commits))
            for p in svc.pulls
            if p.opened_at <= END and p.shas_at(END, svc.commits)
        }
        assert dict(loaded) == {n: min(250, c) for n, c in expected.items() if n in dict(loaded)}
        assert set(dict(loaded)) <= set(expected)
    finally:
        emu.stop()


def test_a_reload_after_a_force_push_replaces_the_merge_requests_commits(world, tmp_path):
    svc, pr = _latest_rewrite(world, gitlab=True)
    emu = simulator.Emulator(world, port=0, now=pr.rewritten_at - timedelta(seconds=1)).start()
    db = tmp_path / "build.duckdb"
    config = world.org_config(f"{emu.url}/github", f"{emu.url}/pagerduty", TOKEN, "pd-token")
    gl = config["sources"]["gitlab"]
    project = f"{gl['group']}/{svc.name}"

    def listed() -> set[str]:
        with duckdb.connect(str(db), read_only=True) as con:
            rows = con.execute(
                "select id from raw_gitlab.merge_request_commits where merge_request_iid = ? and project = ?",
                [pr.number, project],
            ).fetchall()
        return {row[0] for row in rows}

    try:

        def load() -> None:
            source = gitlab_source(
                base_url=gl["base_url"],
                token=gl["token"],
                projects=[project],
                start_date=config["sources"]["github"]["start_date"],
                backoff_factor=0.01,
            )
            make_pipeline("gitlab", db, tmp_path / "dlt").run(source)

        load()
        old = pr.shas_at(emu.now, svc.commits)
        assert old and listed() == set(old)
        emu.set_now(END)
        load()
        assert listed() == set(pr.commit_shas)
    finally:
        emu.stop()
