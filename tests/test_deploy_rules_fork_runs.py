"""Workflow deploy rules on real GitHub Actions runs of pull requests from forks.

PyGithub's replay data holds real api.github.com runs of PyGithub/PyGithub's `CI` workflow triggered by
pull requests from forks (`event: pull_request`, `head_repository` the contributor's fork, the fork's SHA).
They are loaded through the GitHub source from a local stub, the configuration through the org_config
source, and the models up to int_deployments_unioned are built on them: a workflow rule counts such a run
only when it lists the run's event and counts forks. The one run of the repository's own code (a push) is
the same recorded payload with its event and head repository set to the repository's own.
"""

from __future__ import annotations

import copy
import os
import textwrap
from pathlib import Path

import duckdb
import pytest
from test_github_complete_recorded import PG, PYGITHUB, RUN_WITH_JOBS, _members, _replay
from test_ingestion_stub import Stub

from ingestion.config import parse_config
from ingestion.github import github_source
from ingestion.org_config import org_config_source
from ingestion.pipelines import make_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
FORK_RUN_FILES = {"WorkflowRun.setUp.txt", "Repository.testGetWorkflowRunsCreated.txt"}

pytestmark = pytest.mark.shared

# Three services on the recorded repository, one workflow rule each on its `CI` workflow: the default
# events; pull request runs but no forks; pull request runs from forks too.
CONFIG = textwrap.dedent(
    f"""\
    sources:
      github:
        base_url: http://127.0.0.1:1
        organization: PyGithub
        token: recorded-token
    teams:
      - name: core
    services:
      - name: ci-default
        team: core
        repository: {PG}
        deployments:
          - environment: production
            workflow: "^ci$"
      - name: ci-pull-requests
        team: core
        repository: {PG}
        deployments:
          - environment: production
            workflow: "^ci$"
            events: [push, pull_request]
      - name: ci-forks
        team: core
        repository: {PG}
        deployments:
          - environment: production
            workflow: "^ci$"
            events: [push, pull_request]
            forks: true
    environments:
      - name: production
        production: true
    """
)


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    if not PYGITHUB.exists():
        pytest.skip(f"recorded GitHub payloads not available ({PYGITHUB.name} missing from the shared data)")
    files = _members(PYGITHUB, FORK_RUN_FILES)
    forked = [
        _replay(files, "WorkflowRun.setUp.txt", f"/repos/{PG}/actions/runs/{RUN_WITH_JOBS}")["body"],
        *_replay(
            files, "Repository.testGetWorkflowRunsCreated.txt", f"/repos/{PG}/actions/runs?created=2022-12-24"
        )["body"]["workflow_runs"],
    ]
    for run in forked:  # what the test relies on, as recorded
        assert run["event"] == "pull_request" and run["name"] == "CI" and run["conclusion"] == "success"
        assert run["head_repository"]["fork"] is True
        assert run["head_repository"]["full_name"] != run["repository"]["full_name"] == PG
    own = copy.deepcopy(forked[0])
    own.update(
        id=RUN_WITH_JOBS + 1,
        event="push",
        head_branch="master",
        head_repository=copy.deepcopy(own["repository"]),
    )
    return [*forked, own]


@pytest.fixture(scope="module")
def deployments(runs: list[dict], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, set[int]]]:
    """The runs each service's rule makes deployments of: as loaded now (`current`), and as a warehouse
    loaded before the head repository was read has them (`without_head_repository`: no raw column)."""
    root = tmp_path_factory.mktemp("fork_runs")
    db = root / "build.duckdb"
    with Stub() as stub:
        stub.add(f"/repos/{PG}", {**runs[0]["repository"], "default_branch": "master"})
        stub.add(f"/repos/{PG}/actions/runs", {"total_count": len(runs), "workflow_runs": runs})
        source = github_source(base_url=stub.url, organization="PyGithub", token="t", repositories=[PG])
        make_pipeline("github", db, root / "dlt").run(source.with_resources("repositories", "workflow_runs"))
    config = parse_config(CONFIG)
    make_pipeline("org_config", db, root / "dlt").run(
        org_config_source(config.teams, config.services, config.environments, config.settings)
    )
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = dict(
            con.execute("select id, head_repository__full_name from raw_github.workflow_runs").fetchall()
        )
    assert loaded == {run["id"]: run["head_repository"]["full_name"] for run in runs}
    dbt = _Dbt(db, root)
    dbt.run("+int_deployments_unioned")
    out = {"current": _deployments(db)}
    with duckdb.connect(str(db)) as con:
        con.execute("alter table raw_github.workflow_runs drop column head_repository__full_name")
    dbt.run("stg_github__workflow_runs int_deployments_unioned")
    out["without_head_repository"] = _deployments(db)
    return out


def _deployments(db: Path) -> dict[str, set[int]]:
    with duckdb.connect(str(db)) as con:  # same configuration as dbt's in-process connection
        rows = con.execute(
            "select service, source_deployment_id from intermediate.int_deployments_unioned "
            "where source_system = 'github_actions'"
        ).fetchall()
    out: dict[str, set[int]] = {}
    for service, run_id in rows:
        out.setdefault(service, set()).add(int(run_id))
    return out


class _Dbt:
    """`dbt run` of selections against one build file, the project parsed once (models only: their tests
    run in the refresh and in its unit tests)."""

    def __init__(self, db: Path, work: Path):
        self.db, self.work, self.manifest = db, work, None
        project = str(REPO_ROOT / "transform")
        self.args = ["--project-dir", project, "--profiles-dir", project]
        self.args += ["--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--quiet"]

    def run(self, select: str) -> None:
        from dbt.cli.main import dbtRunner

        saved = os.environ.get("DEPLOYLENS_BUILD_DB")
        os.environ["DEPLOYLENS_BUILD_DB"] = str(self.db)
        try:
            if self.manifest is None:
                parsed = dbtRunner().invoke(["parse", *self.args])
                assert parsed.success, parsed.exception
                self.manifest = parsed.result
            # `run` builds no seeds: the status mapping the models join is one, so seed what is selected
            seeded = dbtRunner(manifest=self.manifest).invoke(
                ["seed", "--select", f"{select} deployment_source_statuses", *self.args]
            )
            assert seeded.success, seeded.exception
            result = dbtRunner(manifest=self.manifest).invoke(["run", "--select", select, *self.args])
        finally:
            if saved is None:
                os.environ.pop("DEPLOYLENS_BUILD_DB", None)
            else:
                os.environ["DEPLOYLENS_BUILD_DB"] = saved
        assert result.success, result.exception


def test_fork_pull_request_runs_are_no_deployments_by_default(deployments, runs):
    assert deployments["current"].get("ci-default") == {runs[-1]["id"]}


def test_pull_request_events_alone_do_not_count_forks(deployments, runs):
    assert deployments["current"].get("ci-pull-requests") == {runs[-1]["id"]}


def test_forks_count_only_where_the_rule_says_so(deployments, runs):
    assert deployments["current"].get("ci-forks") == {run["id"] for run in runs}


def test_runs_loaded_before_the_head_repository_was_read_count_as_the_services_own(deployments, runs):
    """Such a warehouse still builds; its runs name no head repository, so only the events tell: the default
    rule still leaves the pull request runs out, a rule counting pull request runs takes them all."""
    before = deployments["without_head_repository"]
    assert before.get("ci-default") == {runs[-1]["id"]}
    assert before.get("ci-pull-requests") == before.get("ci-forks") == {run["id"] for run in runs}
