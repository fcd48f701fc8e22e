"""The Jenkins source against real recorded Jenkins JSON (Perceval's test data: build.opnfv.org freestyle
builds and a jenkins.zowe.org multibranch pipeline), served by a local stub that honours `allBuilds`
ranges. Loaded rows are compared field by field with the recorded JSON; then incremental refresh, retries,
authentication errors and the staging models.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import tarfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from dbt_build import QUARANTINE_STAGING_TYPES, dbt_build
from dlt.pipeline.exceptions import PipelineStepFailed
from test_ingestion_stub import Stub

from ingestion.jenkins import jenkins_source
from ingestion.pipelines import make_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
ARCHIVE = SHARED / "data" / "recorded" / "perceval-jenkins-gitlab-github.tar.gz"
USER = "deploy-bot"
TOKEN = "jenkins_api_token_very_secret_11"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.2, "backoff_factor": 0.01}
# Perceval serves the freestyle build list for `apex-build-master` and the pipeline build list for the
# multibranch project's child job; the stub does the same.
FREESTYLE = "apex-build-master"
PIPELINE = "zowe-docs-site/zowe-workflow"
SELECTED = ["apex-*", "zowe-docs-site/*"]

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    if not ARCHIVE.exists():
        pytest.skip(f"recorded Jenkins payloads not available ({ARCHIVE.name} missing from the shared data)")
    found: dict[str, Any] = {}
    with tarfile.open(ARCHIVE) as tar:
        for member in tar:
            if "/jenkins/" in member.name and member.name.endswith(".json"):
                name = member.name.rsplit("/", 1)[-1].removesuffix(".json")
                found[name] = json.loads(tar.extractfile(member).read())
    assert len(found["jenkins_job_builds"]["builds"]) == 32  # the archive is what we think it is
    return found


def _range_of(query: dict[str, str]) -> tuple[int, int]:
    match = re.search(r"\{(\d+),(\d+)\}$", query.get("tree", ""))
    assert match, f"builds must be read in allBuilds ranges, got tree={query.get('tree')!r}"
    return int(match.group(1)), int(match.group(2))


def _builds_handler(builds: list[dict]) -> Callable[[dict[str, str]], tuple[int, dict, Any]]:
    """Jenkins' answer to `tree=allBuilds[...]{from,to}`: that slice of the builds, newest first."""

    def handle(query: dict[str, str]) -> tuple[int, dict, Any]:
        low, high = _range_of(query)
        assert query["tree"].startswith("allBuilds[")
        return 200, {}, {"_class": "hudson.model.FreeStyleProject", "allBuilds": builds[low:high]}

    return handle


def _serve(stub: Stub, recorded: dict[str, Any], freestyle: list[dict], pipeline: list[dict]) -> None:
    stub.handlers["/ci/api/json"] = lambda q: (200, {}, recorded["jenkins_jobs"])
    stub.handlers["/ci/job/zowe-docs-site/api/json"] = lambda q: (200, {}, recorded["jenkins_workflow_jobs"])
    stub.handlers["/ci/job/apex-build-brahmaputra/api/json"] = lambda q: (
        200,
        {},
        {"_class": "hudson.model.FreeStyleProject", "allBuilds": []},
    )
    stub.handlers[f"/ci/job/{FREESTYLE}/api/json"] = _builds_handler(freestyle)
    stub.handlers["/ci/job/zowe-docs-site/job/zowe-workflow/api/json"] = _builds_handler(pipeline)
    for build in freestyle:
        stub.handlers[f"/ci/job/{FREESTYLE}/{build['number']}/api/json"] = lambda q, b=build: (200, {}, b)
    stub.handlers["/ci/job/500-error-job/api/json"] = lambda q: (500, {}, b"Internal Server Error")
    stub.handlers["/ci/job/invalid-json-job/api/json"] = lambda q: (200, {}, b"{invalid json")


def _run(stub: Stub, root: Path, **kwargs: Any) -> None:
    source = jenkins_source(
        base_url=f"{stub.url}/ci", user=USER, token=TOKEN, **{"jobs": SELECTED, **FAST_RETRIES, **kwargs}
    )
    make_pipeline("jenkins", root / "build.duckdb", root / "dlt").run(source)


def _rows(db: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def loaded(recorded: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Stub]:
    root = tmp_path_factory.mktemp("jenkins")
    with Stub() as stub:
        _serve(
            stub,
            recorded,
            recorded["jenkins_job_builds"]["builds"],
            recorded["jenkins_workflow_job_builds"]["builds"],
        )
        _run(stub, root)
    return root / "build.duckdb", stub


def test_jobs_walk_folders_and_multibranch_projects(loaded, recorded) -> None:
    db, stub = loaded
    rows = {r["full_name"]: r for r in _rows(db, "select * from raw_jenkins.jobs")}
    assert sorted(rows) == ["apex-build-brahmaputra", FREESTYLE, PIPELINE]
    listed = {job["name"]: job for job in recorded["jenkins_jobs"]["jobs"]}
    for name in ("apex-build-brahmaputra", FREESTYLE):
        assert (rows[name]["name"], rows[name]["url"], rows[name]["color"]) == (
            name,
            listed[name]["url"],
            listed[name]["color"],
        )
        assert rows[name]["folder"] is None
    child = recorded["jenkins_workflow_jobs"]["jobs"][0]
    row = rows[PIPELINE]
    assert (row["name"], row["url"], row["color"], row["job_class"], row["folder"]) == (
        child["name"],
        child["url"],
        child["color"],
        child["_class"],
        "zowe-docs-site",
    )
    # jobs outside the patterns are never requested (the recorded 500 and invalid-JSON jobs)
    assert not any("500-error-job" in p or "invalid-json-job" in p for p in stub.paths())


def _expected_sha(build: dict, remote_hint: str) -> str | None:
    """From the recorded actions: the git checkout of the job's own repository (not a shared library)."""
    datas = [a for a in build["actions"] if "lastBuiltRevision" in a]
    own = [a for a in datas if any(remote_hint in url for url in a.get("remoteUrls", []))]
    return own[0]["lastBuiltRevision"]["SHA1"] if own else None


def test_builds_match_the_recorded_json_field_by_field(loaded, recorded) -> None:
    db, _ = loaded
    rows = {(r["job_full_name"], r["number"]): r for r in _rows(db, "select * from raw_jenkins.builds")}
    freestyle = recorded["jenkins_job_builds"]["builds"]
    pipeline = recorded["jenkins_workflow_job_builds"]["builds"]
    assert len(rows) == len(freestyle) + len(pipeline) == 37
    for job, builds, remote_hint, branch in (
        (FREESTYLE, freestyle, "$GIT_BASE", "master"),
        (PIPELINE, pipeline, "docs-site.git", "users/jack/lf-jenkins"),
    ):
        for build in builds:
            row = rows[(job, build["number"])]
            assert row["build_id"] == build["id"]
            assert row["result"] == build["result"]
            assert row["building"] is build["building"]
            assert row["timestamp"] == build["timestamp"]
            assert row["duration"] == build["duration"]
            assert row["estimated_duration"] == build["estimatedDuration"]
            assert row["url"] == build["url"]
            assert row["display_name"] == build["displayName"]
            assert row["queue_id"] == build["queueId"]
            assert row["built_on"] == build.get("builtOn")
            sha = _expected_sha(build, remote_hint)
            assert row["commit_sha"] == sha
            assert row["branch"] == (branch if sha else None)
            params = [p for a in build["actions"] for p in a.get("parameters", [])]
            assert _json(row["parameters"]) == [{"name": p["name"], "value": p["value"]} for p in params]
            items = [
                item
                for change_set in [build.get("changeSet"), *build.get("changeSets", [])]
                if change_set
                for item in change_set["items"]
            ]
            changes = _json(row["changes"])
            assert [c["commit_id"] for c in changes] == [item["commitId"] for item in items]
            assert [c["msg"] for c in changes] == [item["msg"] for item in items]
            assert [c["timestamp"] for c in changes] == [item["timestamp"] for item in items]
    # spot checks written out by hand from the recording
    first = rows[(FREESTYLE, 107)]
    assert first["commit_sha"] == "9d3cab8d46e5823fee43a0b6c2f19d5dccfa4c3a"
    assert {"name": "DEPLOY_SCENARIO", "value": "os-onos-nofeature-ha"} in _json(first["parameters"])
    assert _json(first["changes"])[0]["affected_paths"] == ["ci/clean.sh"]
    assert rows[(PIPELINE, 5)]["commit_sha"] == "2c6e06a3bf6a52ae3f8f26f11c91d9550794c161"
    assert rows[(PIPELINE, 2)]["commit_sha"] is None  # that run never checked out
    assert _json(rows[(PIPELINE, 5)]["causes"])[0]["userId"] == "takamori"


def test_requests_use_ranges_and_basic_auth(loaded) -> None:
    _, stub = loaded
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert all(headers.get("Authorization") == expected for _, _, headers in stub.requests)
    build_lists = [p for p in stub.paths() if urlsplit(p).path == f"/ci/job/{FREESTYLE}/api/json"]
    assert len(build_lists) == 1  # 32 builds fit the first range of 100
    assert _range_of({k: v[-1] for k, v in parse_qs(urlsplit(build_lists[0]).query).items()}) == (0, 100)


def test_refresh_reads_only_new_builds_and_rereads_running_ones(recorded, tmp_path) -> None:
    full = recorded["jenkins_job_builds"]["builds"]
    earlier = copy.deepcopy(full[2:])  # the two newest builds have not happened yet
    running = next(b for b in earlier if b["number"] == 90)
    running.update(building=True, result=None, duration=0)
    pipeline = recorded["jenkins_workflow_job_builds"]["builds"]
    db = tmp_path / "build.duckdb"
    with Stub() as stub:
        _serve(stub, recorded, earlier, pipeline)
        _run(stub, tmp_path, page_size=10)
        first = len(stub.requests)
        assert len(_rows(db, f"select * from raw_jenkins.builds where job_full_name = '{FREESTYLE}'")) == 30
        (row,) = _rows(
            db, f"select * from raw_jenkins.builds where job_full_name = '{FREESTYLE}' and number = 90"
        )
        assert (row["building"], row["result"]) == (True, None)

        _serve(stub, recorded, full, pipeline)
        _run(stub, tmp_path, page_size=10)
        second = [urlsplit(p) for p in stub.paths()[first:]]
    freestyle = [u for u in second if u.path.startswith(f"/ci/job/{FREESTYLE}/")]
    # one range reaches back to the loaded builds; the build running before is read by number
    assert [u.path for u in freestyle] == [
        f"/ci/job/{FREESTYLE}/api/json",
        f"/ci/job/{FREESTYLE}/90/api/json",
    ]
    assert "%7B0%2C10%7D" in freestyle[0].query or "{0,10}" in freestyle[0].query
    rows = _rows(
        db, f"select number, building, result from raw_jenkins.builds where job_full_name = '{FREESTYLE}'"
    )
    assert sorted(r["number"] for r in rows) == list(range(76, 108))  # no duplicates, nothing missing
    finished = next(r for r in rows if r["number"] == 90)
    assert (finished["building"], finished["result"]) == (False, "FAILURE")
    assert _rows(db, "select count(*) as n from raw_jenkins.builds")[0]["n"] == 37


def test_refresh_without_changes_is_cheap(recorded, tmp_path) -> None:
    jobs = copy.deepcopy(recorded["jenkins_jobs"])
    for job in jobs["jobs"]:
        if job["name"] == FREESTYLE:
            job["lastBuild"] = {"number": 107}  # as the listing's `lastBuild[number]` reports it
    data = {**recorded, "jenkins_jobs": jobs}
    with Stub() as stub:
        _serve(
            stub,
            data,
            recorded["jenkins_job_builds"]["builds"],
            recorded["jenkins_workflow_job_builds"]["builds"],
        )
        _run(stub, tmp_path)
        first = len(stub.requests)
        _run(stub, tmp_path)
        second = [urlsplit(p).path for p in stub.paths()[first:]]
    # the listing (root and the multibranch folder), then one range per job that does not report its
    # last build; the job whose last build is loaded costs nothing
    assert sorted(second) == sorted(
        [
            "/ci/api/json",
            "/ci/job/zowe-docs-site/api/json",
            "/ci/job/apex-build-brahmaputra/api/json",
            "/ci/job/zowe-docs-site/job/zowe-workflow/api/json",
        ]
    )
    assert _rows(tmp_path / "build.duckdb", "select count(*) as n from raw_jenkins.builds")[0]["n"] == 37


def test_recreated_job_is_read_again_from_build_one(recorded, tmp_path) -> None:
    full = recorded["jenkins_job_builds"]["builds"]
    with Stub() as stub:
        _serve(stub, recorded, full, recorded["jenkins_workflow_job_builds"]["builds"])
        _run(stub, tmp_path, jobs=[FREESTYLE])
        # the job is deleted and created again: three new builds, numbered from 1, newer than all before
        reborn = copy.deepcopy(full[:3])
        for number, build in zip((3, 2, 1), reborn, strict=True):
            build.update(number=number, id=str(number), timestamp=build["timestamp"] + 10**9)
        jobs = copy.deepcopy(recorded["jenkins_jobs"])
        next(j for j in jobs["jobs"] if j["name"] == FREESTYLE)["lastBuild"] = {"number": 3}
        _serve(stub, {**recorded, "jenkins_jobs": jobs}, reborn, [])
        _run(stub, tmp_path, jobs=[FREESTYLE])
    rows = _rows(
        tmp_path / "build.duckdb", "select number, timestamp from raw_jenkins.builds where number <= 3"
    )
    assert sorted((r["number"], r["timestamp"]) for r in rows) == sorted(
        (b["number"], b["timestamp"]) for b in reborn
    )


def test_a_response_that_is_not_json_names_the_job(recorded, tmp_path) -> None:
    with Stub() as stub:
        _serve(stub, recorded, [], [])
        with pytest.raises(PipelineStepFailed) as info:
            _run(stub, tmp_path, jobs=["invalid-json-job"])
    # retried like a 5xx (it may be a cut-off answer), then an error naming the endpoint
    message = str(info.value)
    assert "Jenkins GET /ci/job/invalid-json-job/api/json: gave up after 3 attempts" in message
    assert "response not JSON" in message


def test_transient_5xx_is_retried(recorded, tmp_path) -> None:
    failures = {"left": 2}
    builds = _builds_handler(recorded["jenkins_job_builds"]["builds"])

    def flaky(query: dict[str, str]) -> tuple[int, dict, Any]:
        if failures["left"]:
            failures["left"] -= 1
            return 502, {}, b"Bad Gateway"
        return builds(query)

    with Stub() as stub:
        _serve(
            stub,
            recorded,
            recorded["jenkins_job_builds"]["builds"],
            recorded["jenkins_workflow_job_builds"]["builds"],
        )
        stub.handlers[f"/ci/job/{FREESTYLE}/api/json"] = flaky
        _run(stub, tmp_path)
        hits = [p for p in stub.paths() if urlsplit(p).path == f"/ci/job/{FREESTYLE}/api/json"]
    assert failures["left"] == 0 and len(hits) == 3
    assert _rows(tmp_path / "build.duckdb", "select count(*) as n from raw_jenkins.builds")[0]["n"] == 37


def test_persistent_5xx_fails_naming_the_job(recorded, tmp_path) -> None:
    with Stub() as stub:
        _serve(stub, recorded, [], [])
        with pytest.raises(PipelineStepFailed) as info:
            _run(stub, tmp_path, jobs=["500-error-job"])
    message = str(info.value)
    assert "Jenkins GET /ci/job/500-error-job/api/json" in message and "status 500" in message
    assert TOKEN not in message


def test_rejected_token_is_a_clear_error(recorded, tmp_path, caplog) -> None:
    with Stub() as stub:
        stub.handlers["/ci/api/json"] = lambda q: (401, {"WWW-Authenticate": 'Basic realm="Jenkins"'}, b"")
        with caplog.at_level(logging.DEBUG), pytest.raises(PipelineStepFailed) as info:
            _run(stub, tmp_path)
    message = str(info.value)
    assert "token was rejected (401" in message and "/ci/api/json" in message
    assert TOKEN not in message and TOKEN not in caplog.text
    assert base64.b64encode(f"{USER}:{TOKEN}".encode()).decode() not in message + caplog.text


def test_start_date_leaves_out_older_builds(recorded, tmp_path) -> None:
    with Stub() as stub:
        _serve(
            stub,
            recorded,
            recorded["jenkins_job_builds"]["builds"],
            recorded["jenkins_workflow_job_builds"]["builds"],
        )
        _run(stub, tmp_path, jobs=[FREESTYLE], start_date="2016-03-20", page_size=10)
    numbers = [r["number"] for r in _rows(tmp_path / "build.duckdb", "select number from raw_jenkins.builds")]
    # by hand from the recording: build 99 started 2016-03-21T21:36Z, build 98 on 2016-03-18T16:06Z
    assert sorted(numbers) == list(range(99, 108))


def _dbt_build(db: Path, target: Path) -> None:
    result = dbt_build(db, target, "staging.jenkins")
    assert len(result.result) >= 2  # both models (and their tests) ran


STAGING_CONTRACT = {
    "stg_jenkins__jobs": {
        "job": "VARCHAR",
        "job_name": "VARCHAR",
        "folder": "VARCHAR",
        "job_class": "VARCHAR",
        "job_url": "VARCHAR",
        "is_buildable": "BOOLEAN",
    },
    "stg_jenkins__builds": {
        "job": "VARCHAR",
        "build_number": "INTEGER",
        "result": "VARCHAR",
        "is_building": "BOOLEAN",
        "started_at": "TIMESTAMP",
        "finished_at": "TIMESTAMP",
        "duration_seconds": "DOUBLE",
        "commit_sha": "VARCHAR",
        "branch": "VARCHAR",
        "parameters": "JSON",
        "triggered_by": "VARCHAR",
        "is_triggered_by_automation": "BOOLEAN",
        "build_url": "VARCHAR",
    },
    # the recorded builds hold no bad record: the model is the empty stand-in, with the same columns
    "stg_jenkins__quarantine": QUARANTINE_STAGING_TYPES,
}


def _staging_types(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'staging' and table_name like 'stg_jenkins%' "
        "order by table_name, ordinal_position"
    ).fetchall():
        found.setdefault(table, {})[column] = data_type
    return found


def test_staging_models_over_the_recorded_builds(loaded, tmp_path) -> None:
    db, _ = loaded
    copy_db = tmp_path / "build.duckdb"
    copy_db.write_bytes(db.read_bytes())
    _dbt_build(copy_db, tmp_path)
    with duckdb.connect(str(copy_db)) as con:
        assert _staging_types(con) == STAGING_CONTRACT
        row = con.execute(
            "select job, build_number, result, is_building, started_at, finished_at, duration_seconds, "
            "commit_sha, branch, parameters ->> '$[9].value', build_url "
            "from staging.stg_jenkins__builds where job = ? and build_number = 107",
            [FREESTYLE],
        ).fetchone()
        assert row == (
            FREESTYLE,
            107,
            "SUCCESS",
            False,
            datetime(2016, 3, 25, 2, 47, 58, 582000),  # 1458874078582 ms
            datetime(2016, 3, 25, 3, 40, 56, 454000),  # + 3177872 ms
            3177.872,
            "9d3cab8d46e5823fee43a0b6c2f19d5dccfa4c3a",
            "master",
            "os-onos-nofeature-ha",
            "https://build.opnfv.org/ci/job/apex-deploy-virtual-os-onos-nofeature-ha-master/107/",
        )
        assert con.execute("select count(*) from staging.stg_jenkins__builds").fetchone()[0] == 37
        jobs = con.execute(
            "select job, folder, is_buildable from staging.stg_jenkins__jobs order by job"
        ).fetchall()
        assert [j[:2] for j in jobs] == [
            ("apex-build-brahmaputra", None),
            (FREESTYLE, None),
            (PIPELINE, "zowe-docs-site"),
        ]


def test_staging_models_are_empty_without_jenkins(tmp_path) -> None:
    """Users without Jenkins have no raw_jenkins tables; the staging models are then empty, not broken."""
    db = tmp_path / "build.duckdb"
    duckdb.connect(str(db)).close()
    _dbt_build(db, tmp_path)
    with duckdb.connect(str(db)) as con:
        assert _staging_types(con) == STAGING_CONTRACT
        assert con.execute("select count(*) from staging.stg_jenkins__builds").fetchone()[0] == 0
