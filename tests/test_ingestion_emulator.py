"""Sources against the emulated GitHub and PagerDuty of a tiny simulated org, and the staging models on top.

Counts are checked against the simulated world (what the APIs hold), not against what the sources report.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from dbt_build import dbt_build
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.config import parse_config
from ingestion.github import github_source
from ingestion.org_config import org_config_source
from ingestion.pagerduty import pagerduty_source
from ingestion.pipelines import make_pipeline
from simulator.automation import served_reviews

simulator = pytest.importorskip("simulator", reason="the simulator package is needed for emulator tests")

REPO_ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 2, tzinfo=UTC)
GH_TOKEN = "ghp_emulated_secret_token_7f3a"
PD_TOKEN = "pd_emulated_secret_token_91c2"
FAST_RETRIES = {"max_retries": 2, "max_retry_wait_seconds": 0.3, "backoff_factor": 0.05}


@pytest.fixture(scope="module")
def world():
    return simulator.generate_org(scale="tiny", seed=7, end=END)


@pytest.fixture
def emulator(world):
    emu = simulator.Emulator(world, port=0, github_token=GH_TOKEN, pagerduty_token=PD_TOKEN).start()
    yield emu
    emu.stop()


def _config(world, emu):
    org = world.org_config(f"{emu.url}/github", f"{emu.url}/pagerduty", GH_TOKEN, PD_TOKEN)
    return parse_config(yaml.safe_dump(org))


def _load(
    config, root: Path, only: tuple[str, ...] = ("github", "pagerduty", "org_config"), **gh_options
) -> None:
    gh, pd = config.sources["github"], config.sources["pagerduty"]
    sources = {
        "github": lambda: github_source(
            base_url=gh.base_url,
            organization=gh.options["organization"],
            token=gh.token,
            start_date=gh.start_date,
            **{**FAST_RETRIES, **gh_options},
        ),
        "pagerduty": lambda: pagerduty_source(
            base_url=pd.base_url, token=pd.token, start_date=pd.start_date, **FAST_RETRIES
        ),
        "org_config": lambda: org_config_source(
            config.teams, config.services, config.environments, config.settings
        ),
    }
    for name in only:
        make_pipeline(name, root / "build.duckdb", root / "dlt").run(sources[name]())


def _counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_name not like '_dlt%' "
            "and table_schema in ('raw_github', 'raw_pagerduty', 'raw_config')"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from {s}."{t}"').fetchone()[0] for s, t in tables}


def _main_commits(svc, now: datetime, start: datetime) -> int:
    """Commits reachable from the default branch's head at `now`, committed since `start`."""
    heads = [svc.commits[sha] for sha in svc.main if svc.commits[sha].committed_at <= now]
    if not heads:
        return 0
    reach = heads[-1].main_index
    return sum(
        c.reach_index is not None and c.reach_index <= reach and c.committed_at >= start
        for c in svc.commits.values()
    )


def _branches(svc, now: datetime) -> int:
    """Branches at `now`: main, and the branch of each pull request opened, with a commit, and neither
    merged nor closed by then (merged branches are deleted)."""
    open_prs = [
        pr
        for pr in svc.pulls
        if pr.opened_at <= now
        and not (pr.merged_at and pr.merged_at <= now)
        and not (pr.closed_at and pr.closed_at <= now)
        and any(svc.commits[sha].committed_at <= now for sha in pr.commit_shas)
    ]
    return 1 + len({pr.branch for pr in open_prs})


def _truth(world, now: datetime) -> dict[str, int]:
    """Row counts the APIs hold at `now`, from the simulated world itself."""
    services = world.services
    prs = [pr for svc in services for pr in svc.pulls if pr.opened_at <= now]
    by_service = {svc.name: svc for svc in services}
    return {
        "raw_github.repositories": len(services),
        "raw_github.pull_requests": len(prs),
        "raw_github.pull_request_commits": sum(
            min(250, sum(by_service[pr.service].commits[s].committed_at <= now for s in pr.commit_shas))
            for pr in prs
        ),
        # the engineers' reviews and automation's (simulator/automation.py), as GitHub lists them
        "raw_github.pull_request_reviews": sum(
            len(served_reviews(world, by_service[pr.service], pr, now)) for pr in prs
        ),
        "raw_github.commits": sum(_main_commits(svc, now, world.start) for svc in services),
        "raw_github.branches": sum(_branches(svc, now) for svc in services),
        "raw_github.deployments": sum(d.created_at <= now for svc in services for d in svc.deployments),
        "raw_github.deployment_statuses": sum(
            s.created_at <= now for svc in services for d in svc.deployments for s in d.statuses
        ),
        "raw_pagerduty.services": len(world.pd_services),  # infrastructure services too
        "raw_pagerduty.incidents": sum(i.created_at <= now for i in world.incidents),
        "raw_config.teams": len(world.teams),
        "raw_config.services": len(services),
        "raw_config.service_pagerduty": len(services),
        "raw_config.environments": 2,
        "raw_config.settings": 1,
        "raw_config.benchmarks": 1,  # the Quick Check edition and segments compared with (defaults)
        # no service declares deploy rules: each gets the default rule per environment
        "raw_config.deploy_rules": 2 * len(services),
    }


def test_full_load_matches_world_then_refresh_is_cheap_and_adds_nothing(world, emulator, tmp_path) -> None:
    config = _config(world, emulator)
    _load(config, tmp_path)
    first = _counts(tmp_path / "build.duckdb")
    assert first == _truth(world, END)
    first_requests = len(emulator.requests)

    before = len(emulator.requests)
    _load(config, tmp_path)
    assert _counts(tmp_path / "build.duckdb") == first  # merge: nothing duplicated
    second = [path for _, path, _ in emulator.requests[before:]]
    kinds = Counter(re.sub(r"/\d+", "/N", p.split("?")[0]).rsplit("/", 1)[-1] for p in second)
    # per repository: one conditional request per list endpoint — pulls and deployments answer 304 (their
    # ETag is unchanged, so no statuses are re-read), commits re-poll their short look-back once, branches
    # answer 304, and the
    # optional endpoints the emulator does not serve (Actions runs, releases, tags) answer 404; nothing else
    repos = len(world.services)
    assert kinds == Counter(
        {
            "repos": 1,
            "pulls": repos,
            "commits": repos,
            "branches": repos,
            "deployments": repos,
            "runs": repos,
            "releases": repos,
            "tags": repos,
            "services": 1,
            "incidents": 1,
        }
    )
    assert len(second) * 10 < first_requests


def test_incremental_picks_up_new_and_changed_rows(world, emulator, tmp_path) -> None:
    config = _config(world, emulator)
    # stop the clock between a deployment's creation and its final status, about a week before the end
    deployment = next(
        d
        for svc in world.services
        for d in sorted(svc.deployments, key=lambda d: d.created_at)
        if d.created_at >= END - timedelta(days=7) and max(s.created_at for s in d.statuses) > d.created_at
    )
    earlier = max(s.created_at for s in deployment.statuses) - timedelta(seconds=1)
    emulator.set_now(earlier)
    _load(config, tmp_path)
    assert _counts(tmp_path / "build.duckdb") == _truth(world, earlier)

    emulator.set_now(END)
    _load(config, tmp_path)
    assert _counts(tmp_path / "build.duckdb") == _truth(world, END)

    # a pull request open at `earlier` and merged later is now merged in the warehouse
    merged_later = {
        pr.pr_id
        for svc in world.services
        for pr in svc.pulls
        if pr.opened_at <= earlier and pr.merged_at is not None and earlier < pr.merged_at <= END
    }
    assert merged_later, "the tiny world should merge some pull requests in its last days"
    # a deployment created before `earlier` whose later statuses arrived after it
    late_status = {
        s.status_id
        for svc in world.services
        for d in svc.deployments
        if d.created_at <= earlier
        for s in d.statuses
        if s.created_at > earlier
    }
    assert late_status, "the tiny world should have deployment statuses arriving after `earlier`"
    with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
        merged = {
            pr_id
            for (pr_id,) in con.execute(
                "select id from raw_github.pull_requests where merged_at is not null"
            ).fetchall()
        }
        statuses = {s for (s,) in con.execute("select id from raw_github.deployment_statuses").fetchall()}
        resolved = dict(con.execute("select id, resolved_at from raw_pagerduty.incidents").fetchall())
    assert merged_later <= merged
    assert late_status <= statuses
    for incident in world.incidents:
        assert (resolved[incident.incident_id] is not None) == (incident.resolved_at is not None)


def test_transient_faults_are_retried(world, emulator, tmp_path) -> None:
    config = _config(world, emulator)
    emulator.inject_fault(r"/pulls\?", 502, times=1)
    emulator.inject_fault(r"/deployments\?", 429, times=1, retry_after=0)
    emulator.inject_fault(r"/pagerduty/incidents", 503, times=1)
    _load(config, tmp_path)
    assert _counts(tmp_path / "build.duckdb") == _truth(world, END)
    statuses = [status for _, _, status in emulator.requests]
    assert {502, 429, 503} <= set(statuses)


def test_exhausted_rate_limit_fails_naming_endpoint_not_token(world, emulator, tmp_path, caplog) -> None:
    config = _config(world, emulator)
    emulator.reset_rate_limit(limit=3)  # repositories and two more requests, then 403 with remaining 0
    with caplog.at_level(logging.DEBUG), pytest.raises(PipelineStepFailed) as info:
        _load(config, tmp_path, only=("github",))
    assert "retrying" in caplog.text  # the retries were logged ...
    assert GH_TOKEN not in caplog.text  # ... without the token
    message = str(info.value)
    assert "gave up after 3 attempts" in message and "status 403" in message
    assert re.search(r"GitHub GET /github/repos/acme/[\w-]+/\w+", message), message
    assert GH_TOKEN not in message


def test_bad_token_is_a_clear_error(world, emulator, tmp_path) -> None:
    config = _config(world, emulator)
    gh = config.sources["github"]
    source = github_source(base_url=gh.base_url, organization="acme", token="wrong-token", **FAST_RETRIES)
    with pytest.raises(PipelineStepFailed) as info:
        make_pipeline("github", tmp_path / "build.duckdb", tmp_path / "dlt").run(source)
    message = str(info.value)
    assert "token was rejected (401" in message and "/github/orgs/acme/repos" in message
    assert "wrong-token" not in message


def test_no_secret_reaches_the_warehouse(world, emulator, tmp_path) -> None:
    _load(_config(world, emulator), tmp_path)
    with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        for schema, table, column in columns:
            hits = con.execute(
                f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ? '
                f'or cast("{column}" as varchar) like ?',
                [f"%{GH_TOKEN}%", f"%{PD_TOKEN}%"],
            ).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column} holds a token"


CONTRACT = {
    "stg_github__repositories": {
        "repository_id": "VARCHAR",
        "repository": "VARCHAR",
        "repository_name": "VARCHAR",
        "default_branch": "VARCHAR",
        "created_at": "TIMESTAMP",
    },
    "stg_github__commits": {
        "repository": "VARCHAR",
        "commit_sha": "VARCHAR",
        "parent_shas": "VARCHAR[]",
        "author_login": "VARCHAR",
        "author_email": "VARCHAR",
        "authored_at": "TIMESTAMP",
        "committed_at": "TIMESTAMP",
        "message": "VARCHAR",
    },
    "stg_github__pull_requests": {
        "repository": "VARCHAR",
        "pr_number": "INTEGER",
        "pr_id": "VARCHAR",
        "title": "VARCHAR",
        "author_login": "VARCHAR",
        "state": "VARCHAR",
        "opened_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "merged_at": "TIMESTAMP",
        "closed_at": "TIMESTAMP",
        "merge_commit_sha": "VARCHAR",
        "head_sha": "VARCHAR",
        "base_ref": "VARCHAR",
        "head_ref": "VARCHAR",
        "labels": "VARCHAR[]",
        "is_merged": "BOOLEAN",
        "additions": "INTEGER",
        "deletions": "INTEGER",
        "changed_files": "INTEGER",
    },
    "stg_github__pull_request_commits": {
        "repository": "VARCHAR",
        "pr_number": "INTEGER",
        "commit_sha": "VARCHAR",
        "parent_shas": "VARCHAR[]",
        "authored_at": "TIMESTAMP",
        "committed_at": "TIMESTAMP",
        "message": "VARCHAR",
    },
    "stg_github__pull_request_reviews": {
        "repository": "VARCHAR",
        "pr_number": "INTEGER",
        "review_id": "VARCHAR",
        "reviewer_login": "VARCHAR",
        "reviewer_type": "VARCHAR",
        "state": "VARCHAR",
        "submitted_at": "TIMESTAMP",
    },
    "stg_github__deployments": {
        "repository": "VARCHAR",
        "deployment_id": "VARCHAR",
        "commit_sha": "VARCHAR",
        "ref": "VARCHAR",
        "environment": "VARCHAR",
        "task": "VARCHAR",
        "created_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "creator_login": "VARCHAR",
        "creator_type": "VARCHAR",
    },
    "stg_github__deployment_statuses": {
        "repository": "VARCHAR",
        "deployment_id": "VARCHAR",
        "status_id": "VARCHAR",
        "state": "VARCHAR",
        "environment": "VARCHAR",
        "created_at": "TIMESTAMP",
    },
    "stg_pagerduty__services": {"pd_service_id": "VARCHAR", "pd_service_name": "VARCHAR"},
    "stg_pagerduty__incidents": {
        "incident_id": "VARCHAR",
        "incident_number": "INTEGER",
        "pd_service_id": "VARCHAR",
        "title": "VARCHAR",
        "status": "VARCHAR",
        "urgency": "VARCHAR",
        "created_at": "TIMESTAMP",
        "acknowledged_at": "TIMESTAMP",
        "resolved_at": "TIMESTAMP",
    },
    "stg_config__teams": {
        "team": "VARCHAR",
        "description": "VARCHAR",
        "department": "VARCHAR",
        "reporting_line": "VARCHAR",
    },
    "stg_config__services": {
        "service": "VARCHAR",
        "team": "VARCHAR",
        "repository": "VARCHAR",
        "language": "VARCHAR",
        "tier": "VARCHAR",
        "labels": "VARCHAR[]",
        "service_type": "VARCHAR",
        "system": "VARCHAR",
    },
    "stg_config__service_pagerduty": {"service": "VARCHAR", "pd_service_id": "VARCHAR"},
    "stg_config__service_paths": {
        "service": "VARCHAR",
        "path_index": "INTEGER",
        "path_pattern": "VARCHAR",
        "path_regex": "VARCHAR",
    },
    "stg_config__environments": {
        "environment": "VARCHAR",
        "environment_rank": "INTEGER",
        "match_pattern": "VARCHAR",
        "is_production": "BOOLEAN",
    },
    "stg_config__settings": {
        "incident_window_hours": "DOUBLE",
        "failure_window_hours": "DOUBLE",
        "is_incident_signal_enabled": "BOOLEAN",
        "is_rollback_signal_enabled": "BOOLEAN",
        "is_revert_signal_enabled": "BOOLEAN",
        "is_hotfix_signal_enabled": "BOOLEAN",
        "is_alert_signal_enabled": "BOOLEAN",
        "hotfix_title_pattern": "VARCHAR",
        "hotfix_label_pattern": "VARCHAR",
        "hotfix_branch_pattern": "VARCHAR",
        "bot_logins": "VARCHAR[]",
    },
}


def _dbt_build_staging(db: Path, target: Path) -> None:
    dbt_build(db, target, "staging")


def test_staging_models_follow_the_contract(world, emulator, tmp_path) -> None:
    _load(_config(world, emulator), tmp_path)
    db = tmp_path / "build.duckdb"
    _dbt_build_staging(db, tmp_path)
    with duckdb.connect(str(db)) as con:  # same configuration as dbt's in-process connection
        found: dict[str, dict[str, str]] = {}
        for table, column, data_type in con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' order by table_name, ordinal_position"
        ).fetchall():
            found.setdefault(table, {})[column] = data_type
        assert {name: found.get(name) for name in CONTRACT} == CONTRACT
        # values survive the renames: one merged pull request, checked against the world
        pr = next(pr for svc in world.services for pr in svc.pulls if pr.merged_at is not None)
        row = con.execute(
            "select pr_id, is_merged, merged_at, merge_commit_sha from staging.stg_github__pull_requests "
            "where pr_id = ?",
            [str(pr.pr_id)],
        ).fetchone()
        assert row == (str(pr.pr_id), True, pr.merged_at.replace(tzinfo=None), pr.merge_commit_sha)
        merge = next(
            c
            for svc in world.services
            for c in svc.commits.values()
            if len(c.parents) == 2 and c.reach_index is not None
        )
        (parents,) = con.execute(
            "select parent_shas from staging.stg_github__commits where commit_sha = ?", [merge.sha]
        ).fetchone()
        assert parents == merge.parents
