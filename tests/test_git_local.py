"""The local git source on small repositories built here with plain `git`: every field, odd offsets,
incremental refreshes that read only what changed, and deleted refs."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.git_local import git_local_source
from ingestion.git_local.helpers import (
    DateStats,
    GitError,
    parse_offset_minutes,
    parse_raw_date,
    pr_number_of,
    repository_name,
)
from ingestion.pipelines import make_pipeline


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+0000", 0), ("+0200", 120), ("-0700", -420), ("+0545", 345), ("-0930", -570), ("+1400", 840)],
)
def test_offsets_of_any_minutes_parse(text, minutes):
    assert parse_offset_minutes(text) == minutes


@pytest.mark.parametrize("text", ["+51800", "+051800", "+0575", "+2500", "garbage", "", "+12"])
def test_offsets_naming_no_zone_give_none(text):
    assert parse_offset_minutes(text) is None


def test_raw_date_with_unreadable_offset_loads_as_utc_and_is_counted():
    stats = DateStats()
    instant, offset = parse_raw_date("1300000000 +51800", stats)
    assert instant == datetime(2011, 3, 13, 7, 6, 40, tzinfo=UTC)
    assert offset == "+51800"
    assert stats.unparsed_offsets == 1
    assert parse_raw_date("", stats) == (None, None)
    assert stats.missing_dates == 1


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Merge pull request #123 from someone/branch", 123),
        ("Fix the parser (#4567)", 4567),
        ("feat(deps): update dependency x to v2 (#31000) ", 31000),
        ("Mention #12 in passing", None),
        ("Revert (#12) change in the middle", None),
        ("Merge branch 'main' into topic", None),
    ],
)
def test_pr_numbers_from_subjects(subject, number):
    assert pr_number_of(subject) == number


GITLAB_BODY = "Fix the parser\n\nCloses #12\n\nSee merge request acme/web!42"


@pytest.mark.parametrize(
    ("subject", "body", "is_merge", "number"),
    [
        ("Merge branch 'fix' into 'main'", GITLAB_BODY, True, 42),
        ("Merge branch 'fix' into 'main'", GITLAB_BODY.replace("acme/web", "group/sub/web"), True, 42),
        ("Quote a message", GITLAB_BODY, False, None),  # not a merge: no landing
        ("Merge branch 'x'", "See merge request acme/web!42 and more", True, None),
        ("Merge pull request #7 from a/b", GITLAB_BODY, True, 7),  # the subject wins
    ],
)
def test_gitlab_merge_requests_from_merge_commit_bodies(subject, body, is_merge, number):
    assert pr_number_of(subject, body, is_merge=is_merge) == number


def test_repository_name_defaults_to_folder(tmp_path):
    assert repository_name(tmp_path / "flask") == "flask"
    assert repository_name(tmp_path / "flask.git") == "flask"
    assert repository_name(tmp_path / "flask" / ".git") == "flask"


# --- a small repository built with git -----------------------------------------------------------------


def git(repo: Path, *args: str, date: str | None = None, stdin: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env.update(
        GIT_AUTHOR_NAME="Ada",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Bob",
        GIT_COMMITTER_EMAIL="bob@example.com",
    )
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str, date: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def small_repo(tmp_path) -> dict:
    repo = tmp_path / "shop.git"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = {}
    shas["root"] = commit(repo, "Initial commit", "1700000000 +0200")
    git(repo, "checkout", "-q", "-b", "topic")
    shas["topic"] = commit(repo, "Topic work\n\nWith a body line.", "1700000100 +0545")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "topic",
        "-m",
        "Merge pull request #7 from ada/topic",
        date="1700000200 -0700",
    )
    shas["merge"] = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1.0")  # lightweight: its time is the commit's
    shas["squash"] = commit(repo, "Add search (#8)", "1700000300 +0000")
    git(repo, "tag", "-a", "v1.1", "-m", "release 1.1", date="1700000400 +0100")  # annotated: tagger date
    git(repo, "update-ref", "refs/pull/7/head", shas["topic"])
    # A commit whose offset names no time zone, written as real histories hold it.
    tree = git(repo, "write-tree")
    body = (
        f"tree {tree}\nparent {shas['squash']}\nauthor Old <old@example.com> 1700000500 +51800\n"
        f"committer Old <old@example.com> 1700000500 +51800\n\nOdd offset\n"
    )
    shas["odd"] = git(repo, "hash-object", "-t", "commit", "-w", "--literally", "--stdin", stdin=body)
    git(repo, "update-ref", "refs/heads/odd", shas["odd"])
    return {"path": repo, "shas": shas}


def load(repo: Path, root: Path, name: str | None = None):
    pipeline = make_pipeline("git", root / "build.duckdb", root / "dlt")
    return pipeline.run(git_local_source(str(repo), name))


def rows(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "build.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_loads_every_commit_tag_branch_and_pull_head(small_repo, tmp_path):
    shas = small_repo["shas"]
    load(small_repo["path"], tmp_path)
    commits = {
        row[0]: row[1:]
        for row in rows(
            tmp_path,
            "select sha, repository, parent_shas::varchar, author_name, author_email, authored_at, "
            "author_utc_offset, committer_name, committed_at, committer_utc_offset, subject, body, pr_number "
            "from raw_git.commits",
        )
    }
    assert set(commits) == set(shas.values())
    topic = commits[shas["topic"]]
    assert topic[0] == "shop"  # the folder name without .git
    assert topic[2:4] == ("Ada", "ada@example.com")
    assert topic[4] == datetime.fromtimestamp(1700000100, tz=UTC)
    assert topic[5] == "+0545"
    assert topic[6] == "Bob"
    assert topic[9:] == ("Topic work", "With a body line.", None)
    merge = commits[shas["merge"]]
    assert merge[1] == f'["{shas["root"]}","{shas["topic"]}"]'
    assert (merge[5], merge[8], merge[11]) == ("-0700", "-0700", 7)
    assert commits[shas["squash"]][11] == 8
    odd = commits[shas["odd"]]
    assert odd[4] == datetime.fromtimestamp(1700000500, tz=UTC)
    assert (odd[5], odd[8]) == ("+51800", "+51800")

    tags = rows(
        tmp_path, "select tag, sha, is_annotated, tagged_at, tagger_utc_offset from raw_git.tags order by tag"
    )
    assert tags == [
        ("v1.0", shas["merge"], False, datetime.fromtimestamp(1700000200, tz=UTC), "-0700"),
        ("v1.1", shas["squash"], True, datetime.fromtimestamp(1700000400, tz=UTC), "+0100"),
    ]
    branches = rows(tmp_path, "select branch, sha, is_remote from raw_git.branches order by branch")
    assert branches == [
        ("main", shas["squash"], False),
        ("odd", shas["odd"], False),
        ("topic", shas["topic"], False),
    ]
    assert rows(tmp_path, "select pr_number, head_sha from raw_git.pull_request_heads") == [
        (7, shas["topic"])
    ]


def test_refresh_without_changes_loads_nothing_and_changes_load_incrementally(small_repo, tmp_path):
    repo, shas = small_repo["path"], small_repo["shas"]
    load(repo, tmp_path, "shop")
    second = load(repo, tmp_path, "shop")
    loaded = [
        job.job_file_info.table_name
        for package in second.load_packages
        for job in package.jobs["completed_jobs"]
    ]
    assert not {"commits", "tags", "branches", "pull_request_heads"} & set(loaded)

    git(repo, "checkout", "-q", "main")
    new = commit(repo, "Later work (#9)", "1700000600 +0000")
    git(repo, "tag", "-d", "v1.0")
    git(repo, "tag", "v2.0")
    load(repo, tmp_path, "shop")
    assert rows(tmp_path, "select count(*) from raw_git.commits") == [(len(shas) + 1,)]
    assert rows(tmp_path, f"select pr_number from raw_git.commits where sha = '{new}'") == [(9,)]
    assert rows(tmp_path, "select tag, sha from raw_git.tags order by tag") == [
        ("v1.1", shas["squash"]),
        ("v2.0", new),
    ]
    # Only the one new commit was read: the old tips bounded `git log`.
    trace = make_pipeline("git", tmp_path / "build.duckdb", tmp_path / "dlt").last_trace
    extracted = trace.last_normalize_info.row_counts
    assert extracted.get("commits") == 1


def test_not_a_repository_fails_clearly(tmp_path):
    with pytest.raises(GitError, match="nowhere"):
        git_local_source(str(tmp_path / "missing"), "nowhere")


def test_commit_files_are_read_only_where_services_own_paths_and_incrementally(tmp_path):
    """A monorepo clone: every non-merge commit's changed paths (a rename under its new path, with the old
    one), none for a merge commit; a repository not named in `file_repositories` loads none; a later
    refresh reads only the new commit's files."""
    repo = tmp_path / "mono"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "services" / "pay").mkdir(parents=True)
    (repo / "services" / "pay" / "a.py").write_text("a = 1\n" * 20)
    (repo / "README.md").write_text("mono\n")
    git(repo, "add", ".")
    root = commit(repo, "Initial commit", "1700000000 +0000")
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "services" / "search").mkdir()
    (repo / "services" / "search" / "b.py").write_text("b = 2\n")
    git(repo, "add", ".")
    topic = commit(repo, "Search", "1700000100 +0000")
    git(repo, "checkout", "-q", "main")
    git(repo, "mv", "services/pay/a.py", "services/pay/renamed.py")
    pushed = commit(repo, "Rename straight on main", "1700000200 +0000")
    git(repo, "merge", "-q", "--no-ff", "topic", "-m", "Merge pull request #3 from ada/topic")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "x.py").write_text("x\n")
    git(other, "add", ".")
    commit(other, "Initial commit", "1700000000 +0000")
    specs = [{"path": str(repo), "name": "mono"}, {"path": str(other), "name": "other"}]
    pipeline = make_pipeline("git", tmp_path / "build.duckdb", tmp_path / "dlt")
    pipeline.run(git_local_source(repositories=specs, file_repositories=["mono"]))
    sql = "select repository, sha, file_path, previous_file_path, change_status from raw_git.commit_files"
    assert set(rows(tmp_path, sql)) == {
        ("mono", root, "README.md", None, "A"),
        ("mono", root, "services/pay/a.py", None, "A"),
        ("mono", topic, "services/search/b.py", None, "A"),
        ("mono", pushed, "services/pay/renamed.py", "services/pay/a.py", "R"),
    }

    (repo / "README.md").write_text("mono, later\n")
    git(repo, "commit", "-q", "-a", "-m", "Later", date="1700000300 +0000")
    later = git(repo, "rev-parse", "HEAD")
    pipeline.run(git_local_source(repositories=specs, file_repositories=["mono"]))
    assert pipeline.last_trace.last_normalize_info.row_counts.get("commit_files") == 1
    assert ("mono", later, "README.md", None, "M") in set(rows(tmp_path, sql))
