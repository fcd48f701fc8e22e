"""Bad records through every source: the good ones load, the bad ones land in `raw_<source>.quarantine`
with their reason, what real histories legitimately hold loads and is counted, and the counts add up in
`health_quarantine_summary`.

Each source reads recorded-payload-shaped JSON from a local stub (git: a repository written on disk) into
a throwaway pipeline; no shared data, no refresh.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_build import QUARANTINE_STAGING_TYPES, dbt_build
from test_ingestion_stub import FAST, Stub

from ingestion.git_local import git_local_source
from ingestion.github import github_source
from ingestion.gitlab import gitlab_source
from ingestion.jenkins import jenkins_source
from ingestion.pagerduty import pagerduty_source
from ingestion.pipelines import make_pipeline
from ingestion.quarantine import Contract, Quarantine

RETRIES = {"max_retries": FAST.max_retries, "backoff_factor": 0.01, "max_retry_wait_seconds": 0.2}
T0 = "2026-05-04T10:00:00Z"
T1 = "2026-05-04T11:00:00Z"
FAR_FUTURE = "2999-01-01T00:00:00Z"


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql).fetchall()


QUARANTINE_COLUMNS = {
    "source",
    "resource",
    "scope",
    "record_key",
    "reason",
    "action",
    "field",
    "value",
    "quarantined_at",
    "_dlt_load_id",
    "_dlt_id",
}


def _quarantine(db: Path, dataset: str) -> set[tuple]:
    """(resource, record_key, reason, action, field) of every quarantine row; the table holds the
    quarantine columns only (none of the columns of the resources that sent rows there)."""
    columns = _rows(
        db,
        f"select column_name from information_schema.columns "
        f"where table_schema = '{dataset}' and table_name = 'quarantine'",
    )
    assert {column for (column,) in columns} == QUARANTINE_COLUMNS
    return set(_rows(db, f"select resource, record_key, reason, action, field from {dataset}.quarantine"))


def _run(source: Any, name: str, root: Path) -> Path:
    make_pipeline(name, root / "build.duckdb", root / "dlt").run(source)
    return root / "build.duckdb"


# -- the screen itself --------------------------------------------------------------------------------


CONTRACT = Contract(
    "things",
    key={"id": int},
    times=("created_at", "updated_at"),
    required_times=("created_at",),
    enums={"state": frozenset({"open", "closed"})},
    ordered=("created_at", "updated_at"),
    version="updated_at",
)


def _split(records: list[Any], contract: Contract = CONTRACT) -> tuple[list, list[dict]]:
    screen = Quarantine("test", now=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    good, held = screen.split(contract, records, "acme/api")
    return good, (held.data if held is not None else [])


@pytest.mark.parametrize(
    ("record", "reason", "field"),
    [
        ({"id": None, "created_at": T0}, "null_key", "id"),
        ({"created_at": T0}, "null_key", "id"),
        ({"id": "", "created_at": T0}, "null_key", "id"),
        ({"id": "12a", "created_at": T0}, "wrong_type", "id"),
        ({"id": True, "created_at": T0}, "wrong_type", "id"),
        ({"id": 1, "created_at": "yesterday"}, "unparsable_timestamp", "created_at"),
        ({"id": 1, "created_at": "2026-05-04T10:00:00+51:80"}, "unparsable_timestamp", "created_at"),
        # the usual UTC form, but no date
        ({"id": 1, "created_at": "2026-02-30T10:00:00Z"}, "unparsable_timestamp", "created_at"),
        ({"id": 1, "created_at": "2026-05-04T24:00:00.000Z"}, "unparsable_timestamp", "created_at"),
        ({"id": 1, "created_at": {"at": T0}}, "wrong_type", "created_at"),
        ({"id": 1}, "missing_timestamp", "created_at"),
        ({"id": 1, "created_at": T0, "updated_at": "not a date"}, "unparsable_timestamp", "updated_at"),
        ({"id": 1, "created_at": T0, "state": "reopened"}, "unknown_enum", "state"),
    ],
)
def test_a_bad_record_is_left_out_with_its_reason_and_value(record, reason, field):
    good, rows = _split([{"id": 7, "created_at": T0, "state": "OPEN"}, record])
    assert [row["id"] for row in good] == [7]  # enumerations compare case-insensitively
    assert [(r["reason"], r["action"], r["field"]) for r in rows] == [(reason, "quarantined", field)]
    assert rows[0]["source"] == "test" and rows[0]["resource"] == "things" and rows[0]["scope"] == "acme/api"
    offending = record.get(field)
    assert rows[0]["value"] == (
        None if offending is None else str(offending) if isinstance(offending, str) else repr(offending)
    )


def test_quarantine_rows_hold_the_field_never_the_record():
    secret = "ghp_" + "x" * 36
    _, rows = _split([{"id": None, "created_at": T0, "body": secret, "headers": {"Authorization": secret}}])
    assert len(rows) == 1
    assert secret not in repr(rows)
    long_value = "y" * 5000
    _, rows = _split([{"id": 1, "created_at": long_value}])
    assert len(rows[0]["value"]) == 200


def test_what_real_histories_hold_is_kept_and_counted():
    records = [
        {"id": 1, "created_at": "2026-05-04T10:00:00+05:18", "updated_at": T1},  # an offset of no zone
        {"id": 2, "created_at": T1, "updated_at": T0},  # the later field before the earlier one
        {"id": 3, "created_at": FAR_FUTURE},
        {"id": 4, "created_at": "2026-06-01T12:00:00Z"},  # within the day of skew: nothing to say
        {"id": 5, "created_at": "2026-06-02T00:00:00.000001Z"},  # just beyond it
        {"id": 6, "created_at": "2026-05-04T10:00:00.250Z", "updated_at": "2026-05-04T10:00:00.125Z"},
    ]
    good, rows = _split(records)
    assert [row["id"] for row in good] == [1, 2, 3, 4, 5, 6]
    assert {(r["record_key"], r["reason"], r["action"]) for r in rows} == {
        ("1", "odd_utc_offset", "kept"),
        ("2", "committer_before_author", "kept"),
        ("3", "future_timestamp", "kept"),
        ("5", "future_timestamp", "kept"),
        ("6", "committer_before_author", "kept"),
    }


def test_a_repeated_key_loads_once_unless_the_repeat_is_newer():
    records = [
        {"id": 1, "created_at": T0, "updated_at": T1},
        {"id": 1, "created_at": T0, "updated_at": T1},  # the same, from a shifted page
        {"id": 1, "created_at": T0, "updated_at": T0},  # older
        {"id": 1, "created_at": T0, "updated_at": "2026-05-05T00:00:00Z"},  # updated while paged
    ]
    good, rows = _split(records)
    assert [row["updated_at"] for row in good] == [T1, "2026-05-05T00:00:00Z"]
    assert [(r["reason"], r["action"]) for r in rows] == [("duplicate_key", "deduplicated")] * 3


def test_a_commit_with_an_unreadable_date_stays_in_the_graph():
    contract = Contract("commits", key={"sha": str}, times=("commit.author.date",), is_graph=True)
    commit = {"sha": "a" * 40, "commit": {"author": {"date": "0000-00-00"}}}
    good, rows = _split([commit], contract)
    assert good == [{"sha": "a" * 40, "commit": {"author": {"date": None}}}]
    assert [(r["reason"], r["action"], r["value"]) for r in rows] == [
        ("unparsable_timestamp", "cleared", "0000-00-00")
    ]


# -- PagerDuty ----------------------------------------------------------------------------------------


def _incident(incident_id: Any, created: Any = T0, status: str = "resolved", **extra: Any) -> dict:
    return {
        "id": incident_id,
        "incident_number": 1,
        "title": "down",
        "status": status,
        "urgency": "high",
        "created_at": created,
        "updated_at": T1,
        "service": {"id": "PSVC1", "type": "service_reference"},
        **extra,
    }


def test_pagerduty_bad_incidents_are_quarantined_and_the_rest_load(tmp_path):
    incidents = [
        _incident("PGOOD1"),
        _incident("PGOOD2", status="acknowledged"),
        _incident(None),
        _incident("PBADTIME", created="2026-13-45T99:00:00Z"),
        _incident("PBADSTATUS", status="snoozed"),
        _incident("PFUTURE", created=FAR_FUTURE),
        _incident("PGOOD1"),
    ]
    services = [{"id": "PSVC1", "name": "api"}, {"id": None, "name": "nameless"}]
    with Stub() as stub:
        stub.add("/services", {"services": services, "more": False, "limit": 100, "offset": 0})
        stub.add("/incidents", {"incidents": incidents, "more": False, "limit": 100, "offset": 0})
        source = pagerduty_source(
            base_url=stub.url, token="pd-token", start_date="2026-05-01", end_date="2026-06-01", **RETRIES
        )
        db = _run(source, "pagerduty", tmp_path)
    loaded = {row[0] for row in _rows(db, "select id from raw_pagerduty.incidents")}
    assert loaded == {"PGOOD1", "PGOOD2", "PFUTURE"}
    assert _rows(db, "select id from raw_pagerduty.services") == [("PSVC1",)]
    assert _quarantine(db, "raw_pagerduty") == {
        ("services", None, "null_key", "quarantined", "id"),
        ("incidents", None, "null_key", "quarantined", "id"),
        ("incidents", "PBADTIME", "unparsable_timestamp", "quarantined", "created_at"),
        ("incidents", "PBADSTATUS", "unknown_enum", "quarantined", "status"),
        ("incidents", "PFUTURE", "future_timestamp", "kept", "created_at"),
        ("incidents", "PGOOD1", "duplicate_key", "deduplicated", "id"),
    }


# -- GitHub -------------------------------------------------------------------------------------------

REPO = "acme/api"


def _commit(sha: Any, authored: Any = T0, committed: Any = T1, parents: tuple = ()) -> dict:
    return {
        "sha": sha,
        "commit": {
            "author": {"name": "a", "email": "a@example.com", "date": authored},
            "committer": {"name": "a", "email": "a@example.com", "date": committed},
            "message": "change",
        },
        "parents": [{"sha": parent} for parent in parents],
    }


def _pull(number: Any, pr_id: Any, updated: Any = T1, state: str = "closed") -> dict:
    return {
        "id": pr_id,
        "number": number,
        "state": state,
        "title": "pr",
        "user": {"login": "dev", "id": 1, "type": "User"},
        "created_at": T0,
        "updated_at": updated,
        "closed_at": T1,
        "merged_at": T1,
        "merge_commit_sha": "m" * 40,
        "head": {"sha": "h" * 40, "ref": "feature"},
        "base": {"sha": "b" * 40, "ref": "main"},
    }


def test_github_bad_records_are_quarantined_per_resource(tmp_path):
    pulls = [
        _pull(1, 101),
        _pull(2, None),
        _pull(3, 103, updated="not-a-date"),
        _pull(4, 104, state="draft"),
    ]
    commits = [
        _commit("c1" * 20),
        _commit("c2" * 20, authored=T1, committed=T0),  # committer before author: a rebase
        _commit("c3" * 20, committed="garbage", parents=("c1" * 20,)),
        _commit(None),
        _commit(12345),
    ]
    deployments = [
        {"id": 11, "sha": "c1" * 20, "ref": "main", "environment": "production", "created_at": T0},
        {"id": 11, "sha": "c1" * 20, "ref": "main", "environment": "production", "created_at": T0},
        {"id": 12, "sha": "c1" * 20, "ref": "main", "environment": "production", "created_at": None},
    ]
    statuses = [
        {"id": 21, "state": "success", "environment": "production", "created_at": T1},
        {"id": 22, "state": "exploded", "environment": "production", "created_at": T1},
    ]
    with Stub() as stub:
        stub.add(f"/repos/{REPO}", {"id": 1, "name": "api", "full_name": REPO, "default_branch": "main"})
        stub.add(f"/repos/{REPO}/pulls", pulls)
        stub.add(f"/repos/{REPO}/pulls/1/commits", [_commit("c1" * 20), _commit(None)])
        stub.add(f"/repos/{REPO}/pulls/1/reviews", [{"id": 31, "state": "APPROVED", "submitted_at": T1}])
        stub.add(f"/repos/{REPO}/pulls/1/comments", [{"id": None, "created_at": T1}])
        stub.add(f"/repos/{REPO}/pulls/1/files", [{"filename": "a.py"}, {"filename": ""}])
        stub.add(f"/repos/{REPO}/commits", commits)
        stub.add(f"/repos/{REPO}/deployments", deployments)
        stub.add(f"/repos/{REPO}/deployments/11/statuses", statuses)
        source = github_source(
            base_url=stub.url,
            organization="acme",
            token="gh-token",
            repositories=[REPO],
            pull_request_details=False,
            conditional_requests=False,
            **RETRIES,
        )
        db = _run(source, "github", tmp_path)
    assert _rows(db, "select id from raw_github.pull_requests") == [(101,)]
    assert {r[0] for r in _rows(db, "select sha from raw_github.commits")} == {
        "c1" * 20,
        "c2" * 20,
        "c3" * 20,
    }
    # the commit whose committer date does not parse stays in the graph without that date
    assert _rows(db, f"select commit__committer__date from raw_github.commits where sha = '{'c3' * 20}'") == [
        (None,)
    ]
    assert _rows(db, "select id from raw_github.deployments") == [(11,)]
    assert _rows(db, "select id from raw_github.deployment_statuses") == [(21,)]
    assert _rows(db, "select sha from raw_github.pull_request_commits") == [("c1" * 20,)]
    assert _rows(db, "select filename from raw_github.pull_request_files") == [("a.py",)]
    assert _quarantine(db, "raw_github") == {
        ("pull_requests", "/2", "null_key", "quarantined", "id"),
        ("pull_requests", "103/3", "unparsable_timestamp", "quarantined", "updated_at"),
        ("pull_requests", "104/4", "unknown_enum", "quarantined", "state"),
        ("commits", "c2" * 20, "committer_before_author", "kept", "commit.committer.date"),
        ("commits", "c3" * 20, "unparsable_timestamp", "cleared", "commit.committer.date"),
        ("commits", None, "null_key", "quarantined", "sha"),
        ("commits", "12345", "wrong_type", "quarantined", "sha"),
        ("pull_request_commits", None, "null_key", "quarantined", "sha"),
        ("pull_request_review_comments", None, "null_key", "quarantined", "id"),
        ("pull_request_files", None, "null_key", "quarantined", "filename"),
        ("deployments", "11", "duplicate_key", "deduplicated", "id"),
        ("deployments", "12", "missing_timestamp", "quarantined", "created_at"),
        ("deployment_statuses", "22", "unknown_enum", "quarantined", "state"),
    }
    # the pull request's children were read for the good pull request only; nothing reached them twice
    assert _rows(db, "select count(*) from raw_github.pull_request_reviews") == [(1,)]


def _run_record(run_id: Any, conclusion: str = "success", updated: str = T1) -> dict:
    return {
        "id": run_id,
        "name": "deploy",
        "head_sha": "c1" * 20,
        "head_branch": "main",
        "event": "push",
        "status": "completed",
        "conclusion": conclusion,
        "created_at": T0,
        "updated_at": updated,
    }


def test_github_optional_resources_quarantine_too(tmp_path):
    """Organisation listing, reviews, branches, releases, tags, Actions runs and jobs."""
    runs = [
        _run_record(41),
        _run_record(42, conclusion="exploded"),
        _run_record(None),
        _run_record(41),  # the same run again, as a shifted page hands it over
    ]
    jobs = [
        {"id": 51, "run_id": 41, "status": "completed", "conclusion": "success", "started_at": T0},
        {"id": 52, "run_id": 41, "status": "completed", "conclusion": "success", "started_at": 17},
    ]
    with Stub() as stub:
        stub.add(
            "/orgs/acme/repos",
            [{"id": 1, "name": "api", "full_name": REPO, "default_branch": "main"}, {"id": 2, "name": "x"}],
        )
        stub.add(f"/repos/{REPO}/pulls", [_pull(1, 101)])
        stub.add(f"/repos/{REPO}/pulls/1/commits", [])
        stub.add(
            f"/repos/{REPO}/pulls/1/reviews",
            [{"id": 31, "state": "APPROVED", "submitted_at": T1}, {"id": 32, "state": "LGTM"}],
        )
        stub.add(f"/repos/{REPO}/commits", [])
        stub.add(f"/repos/{REPO}/deployments", [])
        stub.add(f"/repos/{REPO}/branches", [{"name": "main", "commit": {"sha": "c1" * 20}}, {"name": None}])
        stub.add(
            f"/repos/{REPO}/releases",
            [
                {"id": 61, "tag_name": "v1", "created_at": T0},
                {"id": 62, "tag_name": "v2", "created_at": "soon"},
            ],
        )
        stub.add(
            f"/repos/{REPO}/git/matching-refs/tags",
            [{"ref": "refs/tags/v1", "object": {"sha": "c1" * 20, "type": "commit"}}, {"object": {}}],
        )
        stub.add(f"/repos/{REPO}/actions/runs", {"total_count": len(runs), "workflow_runs": runs})
        stub.add(f"/repos/{REPO}/actions/runs/41/jobs", {"total_count": 2, "jobs": jobs})
        source = github_source(
            base_url=stub.url,
            organization="acme",
            token="gh-token",
            pull_request_details=False,
            conditional_requests=False,
            **RETRIES,
        )
        db = _run(source, "github", tmp_path)
    assert _rows(db, "select full_name from raw_github.repositories") == [(REPO,)]
    assert _rows(db, "select id from raw_github.pull_request_reviews") == [(31,)]
    assert _rows(db, "select name from raw_github.branches") == [("main",)]
    assert _rows(db, "select id from raw_github.releases") == [(61,)]
    assert _rows(db, "select name from raw_github.tags") == [("v1",)]
    assert _rows(db, "select id from raw_github.workflow_runs") == [(41,)]
    assert _rows(db, "select id from raw_github.workflow_jobs") == [(51,)]
    assert _quarantine(db, "raw_github") == {
        ("repositories", "2/", "null_key", "quarantined", "full_name"),
        ("pull_request_reviews", "32", "unknown_enum", "quarantined", "state"),
        ("branches", None, "null_key", "quarantined", "name"),
        ("releases", "62", "unparsable_timestamp", "quarantined", "created_at"),
        ("tags", None, "null_key", "quarantined", "ref"),
        ("workflow_runs", "42", "unknown_enum", "quarantined", "conclusion"),
        ("workflow_runs", None, "null_key", "quarantined", "id"),
        ("workflow_runs", "41", "duplicate_key", "deduplicated", "id"),
        ("workflow_jobs", "52", "wrong_type", "quarantined", "started_at"),
    }


# -- GitLab -------------------------------------------------------------------------------------------

PROJECT = {"id": 7, "path_with_namespace": "acme/api", "name": "api", "default_branch": "main"}


def _merge_request(mr_id: Any, iid: Any, state: str = "merged", updated: Any = T1) -> dict:
    return {
        "id": mr_id,
        "iid": iid,
        "project_id": 7,
        "title": "mr",
        "state": state,
        "author": {"id": 1, "username": "dev"},
        "created_at": T0,
        "updated_at": updated,
        "merged_at": T1,
        "sha": "s" * 40,
        "source_branch": "feature",
        "target_branch": "main",
    }


def test_gitlab_bad_records_are_quarantined_per_resource(tmp_path):
    root = "/api/v4/projects/7"
    gl_commit = {
        "id": "g1" * 20,
        "parent_ids": [],
        "authored_date": "2026-05-04T10:00:00.000+02:00",
        "committed_date": "2026-05-04T11:00:00.000+02:00",
    }
    with Stub() as stub:
        stub.add("/api/v4/projects/acme%2Fapi", PROJECT)
        stub.add(
            f"{root}/repository/commits",
            [gl_commit, {**gl_commit, "id": None}, {**gl_commit, "id": "g2" * 20, "authored_date": 3}],
        )
        stub.add(
            f"{root}/merge_requests",
            [_merge_request(1, 1), _merge_request(2, None), _merge_request(3, 3, state="approved")],
        )
        stub.add(f"{root}/repository/branches", [{"name": "main", "commit": {"id": "g1" * 20}}, {"name": ""}])
        stub.add(f"{root}/merge_requests/1/commits", [gl_commit, {**gl_commit, "id": 7}])
        stub.add(
            f"{root}/merge_requests/1/notes", [{"id": 41, "created_at": T1}, {"id": "x", "created_at": T1}]
        )
        stub.add(
            f"{root}/merge_requests/1/approvals",
            {"approved_by": [{"user": {"id": 5, "username": "rev"}}, {"user": {"username": "ghost"}}]},
        )
        stub.add(
            f"{root}/pipelines",
            [
                {"id": 51, "project_id": 7, "status": "success", "created_at": T0, "updated_at": T1},
                {"id": 52, "project_id": 7, "status": "exploded", "created_at": T0, "updated_at": T1},
            ],
        )
        stub.add(f"{root}/pipelines/51/jobs", [{"id": 61, "status": "success", "started_at": "later"}])
        stub.add(f"{root}/environments", [{"id": 71, "name": "production"}, {"id": None, "name": "x"}])
        stub.add(
            f"{root}/deployments",
            [
                {"id": 81, "status": "success", "created_at": T0, "updated_at": T1},
                {"id": 82, "status": "success", "created_at": "2026-05-04", "updated_at": "05/04/2026"},
                {"id": 83, "status": "teleported", "created_at": T0, "updated_at": T1},
            ],
        )
        stub.add(f"{root}/releases", [{"tag_name": None, "created_at": T0}])
        stub.add(f"{root}/repository/tags", [{"name": "v1", "commit": {"id": "g1" * 20}}, {"name": ""}])
        source = gitlab_source(
            base_url=stub.url, token="gl-token", projects=["acme/api"], pipeline_jobs=True, **RETRIES
        )
        db = _run(source, "gitlab", tmp_path)
    assert {r[0] for r in _rows(db, "select id from raw_gitlab.commits")} == {"g1" * 20, "g2" * 20}
    assert _rows(db, "select iid from raw_gitlab.merge_requests") == [(1,)]
    assert _rows(db, "select name from raw_gitlab.branches") == [("main",)]
    assert _rows(db, "select id from raw_gitlab.merge_request_commits") == [("g1" * 20,)]
    assert _rows(db, "select id from raw_gitlab.merge_request_notes") == [(41,)]
    assert _rows(db, "select approver_id from raw_gitlab.merge_request_approvals") == [(5,)]
    assert _rows(db, "select id from raw_gitlab.pipelines") == [(51,)]
    assert _rows(db, "select id from raw_gitlab.environments") == [(71,)]
    assert _rows(db, "select id from raw_gitlab.deployments") == [(81,)]
    assert _rows(db, "select name from raw_gitlab.tags") == [("v1",)]
    assert _quarantine(db, "raw_gitlab") == {
        ("commits", None, "null_key", "quarantined", "id"),
        ("commits", "g2" * 20, "wrong_type", "cleared", "authored_date"),
        ("merge_requests", "2//7", "null_key", "quarantined", "iid"),
        ("merge_requests", "3/3/7", "unknown_enum", "quarantined", "state"),
        ("branches", None, "null_key", "quarantined", "name"),
        ("merge_request_commits", "7", "wrong_type", "quarantined", "id"),
        ("merge_request_notes", "x", "wrong_type", "quarantined", "id"),
        ("merge_request_approvals", None, "null_key", "quarantined", "user.id"),
        ("pipelines", "52/7", "unknown_enum", "quarantined", "status"),
        ("pipeline_jobs", "61", "unparsable_timestamp", "quarantined", "started_at"),
        ("environments", None, "null_key", "quarantined", "id"),
        ("deployments", "82", "unparsable_timestamp", "quarantined", "updated_at"),
        ("deployments", "83", "unknown_enum", "quarantined", "status"),
        ("releases", None, "null_key", "quarantined", "tag_name"),
        ("tags", None, "null_key", "quarantined", "name"),
    }


# -- Jenkins ------------------------------------------------------------------------------------------


def test_jenkins_bad_builds_are_quarantined(tmp_path):
    builds = [
        {"number": 4, "result": "SUCCESS", "building": False, "timestamp": 1777888000000, "duration": 1},
        {"number": "3", "result": "SUCCESS", "building": False, "timestamp": 1777887000000},
        {"number": 2, "result": "EXPLODED", "building": False, "timestamp": 1777886000000},
        {"number": 1, "result": "FAILURE", "building": False, "timestamp": "2026-05-04"},
        {"number": None, "result": "FAILURE", "building": False, "timestamp": 1777885000000},
    ]
    with Stub() as stub:
        job = {"_class": "hudson.model.FreeStyleProject", "buildable": True}
        jobs = {
            "jobs": [
                {**job, "name": "deploy", "url": f"{stub.url}/ci/job/deploy/"},
                {**job, "name": "", "url": f"{stub.url}/ci/job/nameless/"},
            ]
        }
        stub.handlers["/ci/api/json"] = lambda q: (200, {}, jobs)
        stub.handlers["/ci/job/deploy/api/json"] = lambda q: (200, {}, {"allBuilds": builds})
        source = jenkins_source(base_url=f"{stub.url}/ci", user="bot", token="jk-token", **RETRIES)
        db = _run(source, "jenkins", tmp_path)
    assert _rows(db, "select full_name from raw_jenkins.jobs") == [("deploy",)]
    assert _rows(db, "select number from raw_jenkins.builds") == [(4,)]
    assert _quarantine(db, "raw_jenkins") == {
        ("jobs", None, "null_key", "quarantined", "full_name"),
        ("builds", "3", "wrong_type", "quarantined", "number"),
        ("builds", "2", "unknown_enum", "quarantined", "result"),
        ("builds", "1", "wrong_type", "quarantined", "timestamp"),
        ("builds", None, "null_key", "quarantined", "number"),
    }


# -- local git ----------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, stdin: str | None = None, **env: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, **env},
    )
    return done.stdout.strip()


def test_git_commits_real_histories_hold_load_and_are_counted(tmp_path):
    repo = tmp_path / "shop"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    who = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@x",
    }
    _git(
        repo,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "first",
        **who,
        GIT_AUTHOR_DATE="1777888000 +0000",
        GIT_COMMITTER_DATE="1777888000 +0000",
    )
    # committed before it was authored (a rebase with a skewed clock)
    _git(
        repo,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "second",
        **who,
        GIT_AUTHOR_DATE="1777889000 +0000",
        GIT_COMMITTER_DATE="1777888500 +0000",
    )
    # an offset naming no time zone, as psf/requests holds: written as a raw commit object
    parent = _git(repo, "rev-parse", "HEAD")
    tree = _git(repo, "rev-parse", "HEAD^{tree}")
    body = (
        f"tree {tree}\nparent {parent}\nauthor a <a@x> 1777890000 +051800\n"
        "committer a <a@x> 1777890000 +0000\n\nthird\n"
    )
    odd = _git(repo, "hash-object", "-t", "commit", "-w", "--literally", "--stdin", stdin=body)
    _git(repo, "update-ref", "refs/heads/main", odd)
    second = _git(repo, "rev-parse", "HEAD~1")
    db = _run(git_local_source(str(repo)), "git", tmp_path)
    assert _rows(db, "select count(*) from raw_git.commits") == [(3,)]
    assert _quarantine(db, "raw_git") == {
        ("commits", second, "committer_before_author", "kept", "committed_at"),
        ("commits", odd, "odd_utc_offset", "kept", "author_utc_offset"),
    }
    # kept as git reports it (`git log --date=raw` prints the stored +051800 as +51800)
    assert _rows(db, f"select author_utc_offset from raw_git.commits where sha = '{odd}'") == [("+51800",)]
    # a time the source already read is stored as ISO-8601 text
    assert _rows(db, f"select value from raw_git.quarantine where record_key = '{second}'") == [
        ("2026-05-04T09:55:00+00:00",)
    ]


# -- the summary model --------------------------------------------------------------------------------


def test_summary_counts_what_the_quarantine_tables_hold(tmp_path):
    """Two loads of the same bad records count them once as records and twice as occurrences; a source
    without a quarantine table (Jenkins, GitLab, git here) adds nothing and fails nothing."""
    incidents = [_incident("PGOOD"), _incident(None), _incident("PBAD", status="snoozed")]
    with Stub() as stub:
        stub.add("/services", {"services": [], "more": False})
        stub.add("/incidents", {"incidents": incidents, "more": False})
        for _ in range(2):
            source = pagerduty_source(
                base_url=stub.url, token="t", start_date="2026-05-01", end_date="2026-06-01", **RETRIES
            )
            db = _run(source, "pagerduty", tmp_path)
    dbt_build(db, tmp_path / "dbt", "+health_quarantine_summary")
    expected = _rows(
        db,
        """
        select resource, reason, action, count(distinct coalesce(record_key, _dlt_id)), count(*),
            count(distinct _dlt_load_id)
        from raw_pagerduty.quarantine group by all
        """,
    )
    summary = _rows(
        db,
        """
        select resource, reason, action, records, occurrences, loads
        from health.health_quarantine_summary where source = 'pagerduty'
        """,
    )
    assert sorted(summary) == sorted(expected)
    assert sorted(summary) == [
        ("incidents", "null_key", "quarantined", 2, 2, 2),  # no key: each occurrence is its own record
        ("incidents", "unknown_enum", "quarantined", 1, 2, 2),
    ]
    assert _rows(db, "select count(*) from health.health_quarantine_summary where source <> 'pagerduty'") == [
        (0,)
    ]
    # with a raw table and without one, the staging models have the same columns
    for source in ("pagerduty", "jenkins"):
        columns = _rows(
            db,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'staging' and table_name = 'stg_{source}__quarantine' "
            "order by ordinal_position",
        )
        assert dict(columns) == QUARANTINE_STAGING_TYPES, source
