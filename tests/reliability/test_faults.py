"""Faults injected in the emulator: what a source loads through them equals what it loads without them.

Each source loads a narrow slice of the `mixed` org (one repository, project or job family; small pages so
listings span several pages) into a throwaway DuckDB, once without faults and once with one fault kind.
The raw tables must hold the same rows: nothing lost, nothing doubled. A fault the client cannot ride out
must fail with an error naming the API, method and path (never the token) and leave the previous load's
raw tables as they were. One full refresh checks that a failed source goes stale while the rest publishes.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

import ingestion.github.helpers as github_helpers
import ingestion.gitlab.helpers as gitlab_helpers
import ingestion.pagerduty.helpers as pagerduty_helpers
from ingestion.github import github_source
from ingestion.gitlab import gitlab_source
from ingestion.http import ApiError, RetryBudgetExhausted
from ingestion.jenkins import jenkins_source
from ingestion.pagerduty import pagerduty_source
from ingestion.pipelines import make_pipeline
from simulator import Emulator, generate_org
from simulator.faults import parse_faults, shift_listing

END = datetime(2026, 11, 2, tzinfo=UTC)
GH_TOKEN = "ghp_fault_test_secret_0b7e"
PD_TOKEN = "pd_fault_test_secret_5c1d"
GL_TOKEN = "glpat_fault_test_secret_9a2f"
JK_TOKEN = "jenkins_fault_test_secret_4e6b"
# backoff ~0 keeps the retries quick; timings are never asserted (see `make bench`)
FAST = {"max_retries": 4, "max_retry_wait_seconds": 0.05, "backoff_factor": 0.001}
# small pages, so every listing below spans several pages
GITHUB_REPOSITORY = "acme/billing-worker"
GITLAB_PROJECT = "acme/storefront-web"
JENKINS_JOBS = ["deploy-ledger-core-*"]
PAGE = 5
# the resources whose listings the faults below hit (the rest cost requests and prove nothing more)
RESOURCES = {
    "github": ("repositories", "pull_requests", "commits", "deployments"),
    "gitlab": ("projects", "merge_requests", "deployments"),
    "jenkins": ("jobs", "builds"),
    "pagerduty": ("services", "incidents"),
}


@pytest.fixture(scope="module")
def world():
    return generate_org("mixed", seed=11, end=END)


@pytest.fixture(scope="module")
def emulator(world):
    emu = Emulator(
        world, github_token=GH_TOKEN, pagerduty_token=PD_TOKEN, gitlab_token=GL_TOKEN, jenkins_token=JK_TOKEN
    ).start()
    yield emu
    emu.stop()


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(github_helpers, "PER_PAGE", PAGE)
    monkeypatch.setattr(gitlab_helpers, "PER_PAGE", PAGE)
    monkeypatch.setattr(pagerduty_helpers, "PAGE_LIMIT", PAGE)


@pytest.fixture(autouse=True)
def no_faults_left(emulator):
    emulator.clear_faults()
    yield
    emulator.clear_faults()


def _source(name: str, emu: Emulator, **options):
    return _unselected_source(name, emu, **options).with_resources(*RESOURCES[name])


def _unselected_source(name: str, emu: Emulator, **options):
    options = {**FAST, **options}
    start = (END - timedelta(days=56)).date().isoformat()
    if name == "github":
        return github_source(
            base_url=f"{emu.url}/github",
            organization="acme",
            token=GH_TOKEN,
            repositories=[GITHUB_REPOSITORY],
            start_date=start,
            pull_request_details=False,
            **options,
        )
    if name == "gitlab":
        return gitlab_source(
            base_url=f"{emu.url}/gitlab",
            token=GL_TOKEN,
            projects=[GITLAB_PROJECT],
            start_date=start,
            **options,
        )
    if name == "jenkins":
        return jenkins_source(
            base_url=f"{emu.url}/jenkins",
            user="deploybot",
            token=JK_TOKEN,
            jobs=JENKINS_JOBS,
            start_date=start,
            page_size=PAGE,
            **options,
        )
    return pagerduty_source(
        base_url=f"{emu.url}/pagerduty",
        token=PD_TOKEN,
        start_date=start,
        end_date=END.isoformat(),
        **options,
    )


def _load(name: str, emu: Emulator, root: Path, **options) -> Path:
    make_pipeline(name, root / "build.duckdb", root / "dlt").run(_source(name, emu, **options))
    return root / "build.duckdb"


def _mart_rows(con, mart: str) -> Counter:
    """A mart's rows as a multiset; list columns (e.g. `failure_signals`) as tuples so rows can be counted."""
    return Counter(
        tuple(tuple(v) if isinstance(v, list) else v for v in row)
        for row in con.execute(f"select * from marts.{mart}").fetchall()
    )


def _tables(db: Path, name: str) -> dict[str, Counter]:
    """Every raw table of the source as a multiset of rows, dlt's own columns left out."""
    schema = f"raw_{name}"
    out: dict[str, Counter] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_schema = ? and table_name not like '_dlt%'",
                [schema],
            ).fetchall()
        ]
        for table in tables:
            columns = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = ? and table_name = ? and column_name not like '_dlt%'"
                    " order by column_name",
                    [schema, table],
                ).fetchall()
            ]
            select = ", ".join(f'cast("{c}" as varchar)' for c in columns)
            out[table] = Counter(con.execute(f'select {select} from {schema}."{table}"').fetchall())
    return out


@pytest.fixture(scope="module")
def baseline(emulator, tmp_path_factory):
    """Each source's raw tables from a load without faults (loaded on first use)."""
    loaded: dict[str, dict[str, Counter]] = {}

    def get(name: str) -> dict[str, Counter]:
        if name not in loaded:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(github_helpers, "PER_PAGE", PAGE)
                patch.setattr(gitlab_helpers, "PER_PAGE", PAGE)
                patch.setattr(pagerduty_helpers, "PAGE_LIMIT", PAGE)
                emulator.clear_faults()
                db = _load(name, emulator, tmp_path_factory.mktemp(f"baseline-{name}"))
            loaded[name] = _tables(db, name)
            assert sum(sum(rows.values()) for rows in loaded[name].values()) > 0
        return loaded[name]

    return get


def _assert_same_rows(actual: dict[str, Counter], expected: dict[str, Counter]) -> None:
    """The same rows in every table; a repeated record may only be counted as deduplicated (a duplicated
    page), never quarantined (that would lose it)."""
    actual, expected = dict(actual), dict(expected)
    counted = actual.pop("quarantine", Counter()) - expected.pop("quarantine", Counter())
    assert set(actual) == set(expected)
    assert all("deduplicated" in row for row in counted), sorted(counted)[:5]
    for table, rows in expected.items():
        lost, doubled = rows - actual[table], actual[table] - rows
        assert not lost and not doubled, f"{table}: {len(lost)} rows lost, {len(doubled)} rows extra"


# --------------------------------------------------------------------------------- the spec string
def test_spec_string_parses_every_part_and_rejects_bad_entries():
    faults = parse_faults("github:/pulls:truncate:2, pagerduty:/incidents:429:3:1.5,*:/x:502:forever")
    assert [(f.api, f.pattern, f.kind, f.times, f.seconds) for f in faults] == [
        ("github", "/pulls", "truncate", 2, None),
        ("pagerduty", "/incidents", "429", 3, 1.5),
        (None, "/x", "502", None, None),
    ]
    assert parse_faults("") == []
    for bad in (
        "github:/pulls",
        "github:/pulls:explode",
        "bitbucket:/x:502",
        "github:/x:502:0",
        "github:(:502",
    ):
        with pytest.raises(ValueError, match=re.escape(bad.split(",")[0][:8])):
            parse_faults(bad)


def test_shifted_listings_keep_every_record():
    records = list(range(12))
    duplicated = shift_listing(records, 5, "duplicate")
    assert duplicated[:5] == [0, 1, 2, 3, 4] and duplicated[5] == 4 and sorted(set(duplicated)) == records
    reordered = shift_listing(records, 5, "reorder")
    assert sorted(reordered) == records and reordered[4] == 5 and reordered[5] == 4 and reordered[9] == 10
    assert shift_listing(records, 5, None) == records


def test_faults_apply_to_their_api_only(emulator):
    import requests

    emulator.add_faults("pagerduty:/services:503:1")
    headers = {"Authorization": f"Token token={PD_TOKEN}"}
    gh = requests.get(
        f"{emulator.url}/github/repos/{GITHUB_REPOSITORY}/services",
        headers={"Authorization": f"Bearer {GH_TOKEN}"},
        timeout=5,
    )
    assert gh.status_code == 404  # no such GitHub endpoint: the PagerDuty fault did not fire here
    assert requests.get(f"{emulator.url}/pagerduty/services", headers=headers, timeout=5).status_code == 503
    assert requests.get(f"{emulator.url}/pagerduty/services", headers=headers, timeout=5).status_code == 200


# ------------------------------------------------------------------------ faults a load rides out
RIDDEN_OUT = [
    ("pagerduty", "pagerduty:/incidents:429:2:0"),
    ("github", r"github:/pulls\?:secondary:2:0"),
    ("github", r"github:/commits\?:ratelimit:1:0"),
    ("gitlab", "gitlab:/merge_requests:502:3"),
    ("jenkins", "jenkins:allBuilds:503:2"),
    ("jenkins", "jenkins:allBuilds:timeout:1:1.5"),
    ("pagerduty", "pagerduty:/incidents:timeout:1:1.5"),
    ("github", r"github:/pulls\?:truncate:2"),
    ("gitlab", "gitlab:/merge_requests:truncate:2"),
    ("jenkins", "jenkins:allBuilds:truncate:2"),
    ("pagerduty", "pagerduty:/incidents:truncate:2"),
    ("github", r"github:/pulls\?:duplicate:forever"),
    ("gitlab", r"gitlab:/merge_requests\?:duplicate:forever"),
    ("jenkins", "jenkins:allBuilds:duplicate:forever"),
    ("pagerduty", r"pagerduty:/incidents\?:duplicate:forever"),
    ("github", r"github:/deployments\?:reorder:forever"),
    ("gitlab", r"gitlab:/merge_requests\?:reorder:forever"),
    ("jenkins", "jenkins:allBuilds:reorder:forever"),
    ("pagerduty", r"pagerduty:/incidents\?:reorder:forever"),
]


@pytest.mark.parametrize(("source", "spec"), RIDDEN_OUT, ids=[spec for _, spec in RIDDEN_OUT])
def test_a_load_through_the_fault_equals_one_without(source, spec, emulator, baseline, tmp_path):
    expected = baseline(source)
    (fault,) = emulator.add_faults(spec)
    db = _load(source, emulator, tmp_path, request_timeout_seconds=0.5)
    served = [target for kind, target in emulator.faults_served if kind == fault.kind]
    assert served, f"the fault {spec} never fired"
    if fault.kind in ("duplicate", "reorder"):
        assert len(served) >= 2, "the faulty listing must span several pages"
    _assert_same_rows(_tables(db, source), expected)


def test_reordered_pages_do_not_move_a_cursor_past_unread_records(world, emulator, tmp_path):
    """An incremental GitHub load whose listings swap records across page boundaries still reads every
    pull request and deployment changed since its cursor (paging stops only after a page wholly behind)."""
    earlier = END - timedelta(days=14)
    clean, faulty = tmp_path / "clean", tmp_path / "faulty"
    for root in (clean, faulty):
        emulator.set_now(earlier)
        _load("github", emulator, root, conditional_requests=False)
    emulator.set_now(END)
    _load("github", emulator, clean, conditional_requests=False)
    emulator.add_faults(r"github:/pulls\?:reorder:forever,github:/deployments\?:reorder:forever")
    _load("github", emulator, faulty, conditional_requests=False)
    _assert_same_rows(_tables(faulty / "build.duckdb", "github"), _tables(clean / "build.duckdb", "github"))
    assert len(emulator.faults_served) >= 4  # several pages of each listing were read through the fault


# ----------------------------------------------------------------- faults a load cannot ride out
@pytest.mark.parametrize(
    ("source", "spec", "api", "path"),
    [
        ("github", r"github:/pulls\?:502:forever", "GitHub", f"/github/repos/{GITHUB_REPOSITORY}/pulls"),
        ("gitlab", "gitlab:/merge_requests:truncate:forever", "GitLab", "/merge_requests"),
        ("jenkins", "jenkins:/api/json:timeout:forever:0.6", "Jenkins", "/jenkins/api/json"),
        ("pagerduty", "pagerduty:/incidents:429:forever:0", "PagerDuty", "/pagerduty/incidents"),
    ],
)
def test_a_fault_past_the_retries_fails_clearly_and_loads_nothing(
    source, spec, api, path, emulator, baseline, tmp_path
):
    expected = baseline(source)
    db = _load(source, emulator, tmp_path)  # the last good load
    emulator.add_faults(spec)
    with pytest.raises(PipelineStepFailed) as info:
        _load(source, emulator, tmp_path, max_retries=2, request_timeout_seconds=0.3)
    failure: BaseException | None = info.value
    chain = []
    while failure is not None:
        chain.append(failure)
        failure = failure.__cause__ or failure.__context__
    error = next(exc for exc in chain if isinstance(exc, ApiError))
    assert isinstance(error, RetryBudgetExhausted)
    message = str(error)
    assert message.startswith(f"{api} GET ") and path in message and "gave up after 3 attempts" in message
    for secret in (GH_TOKEN, PD_TOKEN, GL_TOKEN, JK_TOKEN):
        assert secret not in str(info.value)
    assert "?" not in message  # no query string (it may carry filters, or on some APIs a token)
    # the failed load left the raw tables as the last good load wrote them
    _assert_same_rows(_tables(db, source), expected)
    pipeline = make_pipeline(source, db, tmp_path / "dlt")
    pipeline.abort_packages()  # as the refresh does (orchestration/assets.py)
    emulator.clear_faults()
    _load(source, emulator, tmp_path)
    _assert_same_rows(_tables(db, source), expected)


# ------------------------------------------------------------------- the refresh's view of a failure
def test_only_api_failures_make_a_source_stale():
    from orchestration.assets import source_failure

    api = RetryBudgetExhausted("GitHub GET /x: gave up after 6 attempts, last status 502", status=502)
    try:
        try:
            raise api
        except ApiError:
            raise RuntimeError("extraction of resource pull_requests failed")  # noqa: B904 - as dlt chains
    except RuntimeError as wrapped:
        assert source_failure(wrapped) is api
    try:
        raise RuntimeError("a bug") from KeyError("x")
    except RuntimeError as bug:
        assert source_failure(bug) is None


def test_the_refresh_stops_only_when_every_source_failed(tmp_path):
    from orchestration.assets import fail_if_nothing_fresh, record_source_load

    db = tmp_path / "build.duckdb"
    at = datetime(2026, 11, 2, 10, 0)
    fail_if_nothing_fresh(db, "run-1")  # no build database yet: nothing to judge
    record_source_load(db, "run-1", "org_config", at, "ok", rows_loaded=12)
    record_source_load(db, "run-1", "github", at, "failed", "GitHub GET /x: gave up after 6 attempts")
    record_source_load(db, "run-1", "pagerduty", at, "ok", rows_loaded=3)
    record_source_load(db, "run-2", "github", at, "failed", "GitHub GET /x: gave up after 6 attempts")
    record_source_load(db, "run-2", "pagerduty", at, "failed", "PagerDuty GET /y: gave up after 6 attempts")
    fail_if_nothing_fresh(db, "run-1")
    with pytest.raises(
        RuntimeError, match="every source failed.*github: GitHub GET /x.*pagerduty: PagerDuty"
    ):
        fail_if_nothing_fresh(db, "run-2")
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select source, status, error is null, rows_loaded, finished_at >= started_at"
            " from meta.source_loads where run_id = 'run-1' order by source"
        ).fetchall()
    assert rows == [
        ("github", "failed", False, None, True),
        ("org_config", "ok", True, 12, True),
        ("pagerduty", "ok", True, 3, True),
    ]


# ------------------------------------------------------------------------------- one full refresh
@pytest.mark.e2e
def test_a_source_failing_for_good_goes_stale_and_the_rest_publishes(tiny_org, tmp_path, monkeypatch):
    """GitHub fails forever on one listing: the refresh still publishes, with fresh PagerDuty data and
    the GitHub-derived marts exactly as the previous publish had them; meta.source_loads says so."""
    from orchestration.cli import DEMO_GITHUB_TOKEN, run_refresh
    from orchestration.workdir import Workdir

    for key in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB"):
        if key in os.environ:  # the refresh points these at its workdir: give them back afterwards
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    # dlt's configuration of the source's arguments: the retries' waits of 1, 2, 4, 8 and 16 s shortened
    monkeypatch.setenv("SOURCES__GITHUB__BACKOFF_FACTOR", "0.05")

    workdir = Workdir.at(tmp_path / "org")
    shutil.copytree(tiny_org.workdir.root, workdir.root, ignore=shutil.ignore_patterns("dagster_home"))
    previous = workdir.warehouse
    marts = ("fct_deployments", "fct_changes", "fct_commits")
    with duckdb.connect(str(previous), read_only=True) as con:
        before = {m: _mart_rows(con, m) for m in marts}
        pd_loads_before = con.execute("select count(*) from raw_pagerduty._dlt_loads").fetchone()[0]
    assert all(before.values())
    emulator = tiny_org.emulator
    # a REST listing both GitHub APIs (sources.github.api) read
    emulator.add_faults(r"github:/repos/[^/]+/[^/]+/(pulls|commits)\?:502:forever")
    try:
        refresh = run_refresh(workdir.config, workdir)
    finally:
        emulator.clear_faults()
    assert any(kind == "502" for kind, _ in emulator.faults_served)
    with duckdb.connect(str(workdir.warehouse), read_only=True) as con:
        loads = con.execute(
            "select source, status, error, rows_loaded from meta.source_loads"
            " where run_id = ? order by source",
            [refresh["run_id"]],
        ).fetchall()
        after = {m: _mart_rows(con, m) for m in marts}
        pd_loads_after = con.execute("select count(*) from raw_pagerduty._dlt_loads").fetchone()[0]
    status = {source: (state, error) for source, state, error, _ in loads}
    assert {"org_config", "github", "pagerduty"} <= set(status)
    assert status["github"][0] == "failed"
    assert "GitHub GET /github/repos/" in status["github"][1] and "status 502" in status["github"][1]
    assert DEMO_GITHUB_TOKEN not in status["github"][1] and "?" not in status["github"][1]
    assert all(state == "ok" for source, (state, _) in status.items() if source != "github")
    assert status["pagerduty"][0] == "ok" and pd_loads_after == pd_loads_before + 1  # fresh PagerDuty load
    for mart in marts:
        assert after[mart] == before[mart], f"{mart} changed while GitHub was stale"
