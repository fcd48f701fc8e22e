"""`deploylens quickstart PATH`: one repository on disk, release tags as production deployments."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from ingestion.config import parse_config
from orchestration.cli import DEFAULT_RELEASE_TAGS, main, quickstart_config


@pytest.mark.parametrize("tag", ["v1.2.3", "1.2.3", "0.10", "V2.0", "37.100.2"])
def test_default_pattern_takes_release_tags(tag):
    assert re.search(DEFAULT_RELEASE_TAGS, tag, re.IGNORECASE)


@pytest.mark.parametrize("tag", ["v1.2.3-rc1", "1.3.0rc1", "2.0.0-beta.1", "nightly", "release-1.2", "v1"])
def test_default_pattern_leaves_other_tags(tag):
    assert not re.search(DEFAULT_RELEASE_TAGS, tag, re.IGNORECASE)


def test_written_configuration_is_valid(tmp_path):
    (tmp_path / "shop").mkdir()
    config = parse_config(yaml.safe_dump(quickstart_config(tmp_path / "shop", "shop", r"^v\d+$")))
    assert config.sources["git"].options["repositories"] == [{"path": str(tmp_path / "shop"), "name": "shop"}]
    assert [(s["service"], s["team"], s["repository"]) for s in config.services] == [("shop", "shop", "shop")]
    assert config.services[0]["deploy_rules"] == [
        {"environment": "production", "kind": "tag", "pattern": r"^v\d+$"}
    ]
    assert [(e["environment"], e["is_production"]) for e in config.environments] == [("production", True)]


def test_not_a_repository_is_a_clear_error(tmp_path, capsys):
    assert main(["quickstart", str(tmp_path), "--no-serve", "--workdir", str(tmp_path / "wd")]) == 1
    assert "is not a git repository" in capsys.readouterr().err


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env.update(GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com")
    env.update(GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.com")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_quickstart_builds_the_warehouse_with_tags_as_deployments(tmp_path):
    """v1.0.0 is the baseline; v1.1.0 ships the two commits after it; v1.2.0-rc1 is no release, so the
    last commit is not deployed. The maintenance tag v1.0.1 on a branch off v1.0.0 ships its own fix."""
    repo = tmp_path / "shop"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    day = 1_760_000_000

    def commit(message: str, offset_days: int) -> str:
        _git(repo, "commit", "-q", "--allow-empty", "-m", message, date=f"{day + offset_days * 86400} +0000")
        return _git(repo, "rev-parse", "HEAD")

    first = commit("Initial commit", 0)
    _git(repo, "tag", "v1.0.0")
    _git(repo, "checkout", "-q", "-b", "maint")
    fix = commit("Fix on maintenance (#3)", 1)
    _git(repo, "tag", "-a", "v1.0.1", "-m", "1.0.1", date=f"{day + 2 * 86400} +0000")
    _git(repo, "checkout", "-q", "main")
    feature = commit("Add a feature (#1)", 3)
    merge = commit("Merge pull request #2 from ada/more", 4)
    _git(repo, "tag", "v1.1.0")
    late = commit("Later work", 5)
    _git(repo, "tag", "v1.2.0-rc1")

    workdir = tmp_path / "wd"
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG")}
    try:
        assert main(["quickstart", str(repo), "--no-serve", "--workdir", str(workdir)]) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    written = yaml.safe_load((workdir / "org.yml").read_text())
    assert written["services"][0]["deployments"] == [
        {"environment": "production", "tag": DEFAULT_RELEASE_TAGS}
    ]
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        deployments = con.execute(
            "select source_deployment_id, source_system, service, environment, is_production, status, "
            "is_baseline, commit_count from marts.fct_deployments order by deployed_at"
        ).fetchall()
        commits = dict(
            con.execute(
                "select fct_commits.commit_sha, fct_deployments.source_deployment_id from marts.fct_commits "
                "left join marts.fct_deployments using (deployment_id)"
            ).fetchall()
        )
        pr_numbers = dict(con.execute("select commit_sha, pr_number from marts.fct_commits").fetchall())
    assert deployments == [
        ("shop@v1.0.0", "git_tag", "shop", "production", True, "success", True, 1),
        ("shop@v1.0.1", "git_tag", "shop", "production", True, "success", False, 1),
        ("shop@v1.1.0", "git_tag", "shop", "production", True, "success", False, 2),
    ]
    assert commits == {
        first: "shop@v1.0.0",
        fix: "shop@v1.0.1",
        feature: "shop@v1.1.0",
        merge: "shop@v1.1.0",
        late: None,
    }
    assert pr_numbers == {first: None, fix: 3, feature: 1, merge: 2, late: None}


def test_tags_pattern_is_checked_by_the_engine_that_runs_it(tmp_path, capsys):
    """A lookahead compiles in Python's `re` but not in DuckDB, which matches the tags in the models:
    refused at once with DuckDB's reason, before anything is written or loaded."""
    repo = tmp_path / "shop"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    workdir = tmp_path / "wd"
    code = main(["quickstart", str(repo), "--no-serve", "--workdir", str(workdir), "--tags", r"^v(?!0)\d+"])
    assert code == 1
    err = capsys.readouterr().err
    assert "--tags" in err and "DuckDB" in err and "(?!" in err
    assert not (workdir / "org.yml").exists()
