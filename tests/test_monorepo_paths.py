"""Services by path, end to end: a monorepo served by a local GitHub stub, loaded by the GitHub source (pull
request files included), built by dbt, and the bridge `fct_change_services`, the deployments and the lead
times compared both ways with what the history below makes true (worked out by hand, docs/metrics.md,
"Services by path").

acme/mono holds pay (services/pay/**), search (services/search/**) and shared (no paths); each deploys to
its own environment names. Main is m0 ← s1 ← s2 ← s3 ← s4, each s<n> the squash commit of pull request n,
whose one branch commit p<n> was authored at 09:00 of its day:

| PR | files | counts for |
|---|---|---|
| 1 | services/pay/a.py, services/search/b.py | pay, search |
| 2 | services/pay/c.py | pay |
| 3 | README.md | shared (no path claims it) |
| 4 | services/search/d.py, docs/x.md | search, shared |

Deployments (each service's first is a baseline at m0): search s1 06-02 14:00; pay s2 06-03 15:00; shared
s3 06-04 16:00; search s4 06-05 13:00. acme/api, one service without paths or rules, is as before paths
existed: its pull request counts for it whatever its files name. The root commits m0 and a0 are direct
pushes, shipped by the baselines. d5, pushed straight to main after s4 (authored 06-06 09:00, deployed
nowhere), changes services/pay/e.py and services/search/f.py: a direct push counts for pay and search, by
its commit's files (GitHub's commit detail, read in acme/mono only); m0's one file is README.md (shared).

Dimensions: money is in department commerce, find in discovery, platform in none; pay carries the labels api
and payments, search the label api. The app's pages are opened on this build too (AppTest): a change shows
under each service it touches.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest
from test_deploy_rules_fork_runs import _Dbt
from test_ingestion_stub import Stub

from ingestion.config import parse_config, path_repositories
from ingestion.github import github_source
from ingestion.org_config import org_config_source
from ingestion.pipelines import make_pipeline

MONO, API = "acme/mono", "acme/api"
ENTRY_POINT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"

CONFIG = textwrap.dedent(
    """\
    org: acme
    sources:
      github: {base_url: "https://api.github.com", organization: acme, token: t}
    teams:
      - name: money
        department: commerce
      - name: find
        department: discovery
      - name: platform
    services:
      - name: pay
        team: money
        repository: acme/mono
        language: python
        labels: [api, payments]
        paths: ["services/pay/**"]
        deployments: [{environment: production, github_environment: "^pay-prod"}]
      - name: search
        team: find
        repository: acme/mono
        language: go
        labels: [api]
        paths: ["services/search/**"]
        deployments: [{environment: production, github_environment: "^search-prod"}]
      - name: shared
        team: platform
        repository: acme/mono
        deployments: [{environment: production, github_environment: "^shared-prod"}]
      - name: api
        team: platform
        repository: acme/api
    environments:
      - {name: staging, match: "^stag"}
      - {name: production, match: "^prod", production: true}
    """
)


def _at(day: int, hour: int) -> str:
    return f"2026-06-{day:02d}T{hour:02d}:00:00Z"


def _commit(sha: str, parent: str | None, authored: str, committed: str | None = None) -> dict:
    return {
        "sha": sha,
        "author": {"login": "ann", "type": "User"},
        "commit": {
            "author": {"name": "Ann", "email": "ann@example.com", "date": authored},
            "committer": {"name": "Ann", "email": "ann@example.com", "date": committed or authored},
            "message": f"commit {sha}",
        },
        "parents": [] if parent is None else [{"sha": parent}],
    }


def _pull(repo_id: int, number: int, day: int, merge_sha: str, head_sha: str) -> dict:
    return {
        "id": repo_id * 1000 + number,
        "number": number,
        "title": f"change {number}",
        "user": {"login": "ann", "type": "User"},
        "state": "closed",
        "created_at": _at(day, 10),
        "updated_at": _at(day, 11),
        "closed_at": _at(day, 11),
        "merged_at": _at(day, 11),
        "merge_commit_sha": merge_sha,
        "head": {"sha": head_sha, "ref": f"change-{number}"},
        "base": {"ref": "main"},
        "labels": [],
    }


def _serve(
    stub: Stub,
    repo: str,
    repo_id: int,
    main: list[dict],
    pulls: list[tuple[dict, dict, list[str]]],
    deployments: list[tuple[int, str, str, str]],
    commit_files: dict[str, list[str]] | None = None,
) -> None:
    """`pulls`: (pull request, its one branch commit, its files); `deployments`: (id, environment, sha,
    time); `commit_files`: the files of main commits, served by their commit detail."""
    stub.add(f"/repos/{repo}", {
        "id": repo_id, "full_name": repo, "name": repo.split("/")[1], "default_branch": "main",
        "created_at": _at(1, 0), "updated_at": _at(1, 0), "pushed_at": _at(1, 0),
    })  # fmt: skip
    stub.add(f"/repos/{repo}/commits", list(reversed(main)))
    for commit in main:
        if commit["sha"] in (commit_files or {}):
            stub.add(f"/repos/{repo}/commits/{commit['sha']}", {**commit, "files": [
                {"filename": name, "status": "modified"} for name in commit_files[commit["sha"]]  # type: ignore[index]
            ]})  # fmt: skip
    stub.add(
        f"/repos/{repo}/branches", [{"name": "main", "commit": {"sha": main[-1]["sha"]}, "protected": True}]
    )
    stub.add(f"/repos/{repo}/pulls", [pull for pull, _, _ in reversed(pulls)])
    for pull, commit, files in pulls:
        number = pull["number"]
        stub.add(f"/repos/{repo}/pulls/{number}/commits", [commit])
        stub.add(f"/repos/{repo}/pulls/{number}/files", [
            {"filename": name, "status": "modified", "additions": 1, "deletions": 0} for name in files
        ])  # fmt: skip
        stub.add(f"/repos/{repo}/pulls/{number}/reviews", [])
        stub.add(f"/repos/{repo}/pulls/{number}/comments", [])
    stub.add(f"/repos/{repo}/deployments", [
        {"id": dep_id, "sha": sha, "ref": "main", "environment": env, "task": "deploy", "created_at": at,
         "updated_at": at, "creator": {"login": "deployer", "type": "User"}}
        for dep_id, env, sha, at in reversed(deployments)
    ])  # fmt: skip
    for dep_id, env, _, at in deployments:
        stub.add(f"/repos/{repo}/deployments/{dep_id}/statuses", [
            {"id": dep_id * 10, "state": "success", "environment": env, "created_at": at, "updated_at": at}
        ])  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monorepo")
    db = root / "build.duckdb"
    mono_main = [_commit("m0", None, _at(1, 9))]
    mono_pulls = []
    files = {
        1: ["services/pay/a.py", "services/search/b.py"],
        2: ["services/pay/c.py"],
        3: ["README.md"],
        4: ["services/search/d.py", "docs/x.md"],
    }
    for number in (1, 2, 3, 4):
        day, parent = number + 1, mono_main[-1]["sha"]
        branch = _commit(f"p{number}", parent, _at(day, 9))
        mono_main.append(_commit(f"s{number}", parent, _at(day, 9), _at(day, 11)))
        mono_pulls.append((_pull(1, number, day, f"s{number}", f"p{number}"), branch, files[number]))
    mono_main.append(_commit("d5", "s4", _at(6, 9)))
    mono_commit_files = {"m0": ["README.md"], "d5": ["services/pay/e.py", "services/search/f.py"]}
    mono_commit_files.update({f"s{number}": files[number] for number in files})
    api_main = [_commit("a0", None, _at(1, 9)), _commit("a1", "a0", _at(2, 9), _at(2, 11))]
    api_pulls = [(_pull(2, 1, 2, "a1", "q1"), _commit("q1", "a0", _at(2, 9)), ["services/pay/x.py"])]
    with Stub() as stub:
        _serve(stub, MONO, 1, mono_main, mono_pulls, [
            (1, "pay-production", "m0", _at(1, 10)),
            (2, "search-production", "m0", _at(1, 10)),
            (3, "shared-production", "m0", _at(1, 10)),
            (4, "search-production", "s1", _at(2, 14)),
            (5, "pay-production", "s2", _at(3, 15)),
            (6, "shared-production", "s3", _at(4, 16)),
            (7, "search-production", "s4", _at(5, 13)),
        ], mono_commit_files)  # fmt: skip
        _serve(stub, API, 2, api_main, api_pulls, [
            (8, "production", "a0", _at(1, 10)),
            (9, "production", "a1", _at(2, 13)),
        ])  # fmt: skip
        source = github_source(
            base_url=stub.url,
            organization="acme",
            token="t",
            repositories=[MONO, API],
            start_date="2026-05-01",
            pull_request_details=False,
            file_repositories=path_repositories(parse_config(CONFIG)),
            commit_file_repositories=path_repositories(parse_config(CONFIG)),
        ).with_resources(
            "repositories",
            "pull_requests",
            "pull_request_commits",
            "pull_request_reviews",
            "pull_request_files",
            "commits",
            "branches",
            "deployments",
            "deployment_statuses",
        )
        make_pipeline("github", db, root / "dlt").run(source)
    config = parse_config(CONFIG)
    make_pipeline("org_config", db, root / "dlt").run(
        org_config_source(config.teams, config.services, config.environments, config.settings)
    )
    _Dbt(db, root).run(
        "+fct_change_services +fct_deployments +fct_commits +fct_commit_promotions"
        " +dora_rollup_weekly +dora_team_weekly"
    )
    return db


@pytest.fixture(scope="module")
def app_warehouse(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the build for the app to open read-only (dbt's in-process connection keeps the build open
    read-write, and one process cannot hold both)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("checkpoint")
    copy = tmp_path_factory.mktemp("monorepo_app") / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    return copy


def _rows(db: Path, sql: str) -> set[tuple]:
    with duckdb.connect(str(db)) as con:  # the configuration of dbt's in-process connection
        return set(con.execute(sql).fetchall())


def test_the_files_are_loaded(warehouse):
    files = _rows(
        warehouse,
        "select pr_number, file_path from staging.stg_github__pull_request_files "
        "where repository = 'acme/mono' and pr_number = 4",
    )
    assert files == {(4, "services/search/d.py"), (4, "docs/x.md")}


def test_files_are_read_only_where_services_own_paths(warehouse):
    """acme/api's service owns no paths: its pull request's file is not read (the marts never use it)."""
    read = _rows(warehouse, "select distinct repository from raw_github.pull_request_files")
    assert read == {("acme/mono",)}
    assert _rows(warehouse, "select distinct repository from raw_github.commit_files") == {("acme/mono",)}


def test_the_files_of_possible_direct_pushes_are_loaded(warehouse):
    """The main line's commits with one parent and no pull request in their subject (the stub's squash
    commits name none), each read once through its commit detail."""
    files = _rows(warehouse, "select commit_sha, file_path from staging.stg_github__commit_files")
    assert {row for row in files if row[0] in ("m0", "d5")} == {
        ("m0", "README.md"),
        ("d5", "services/pay/e.py"),
        ("d5", "services/search/f.py"),
    }
    assert {sha for sha, _ in files} == {"m0", "s1", "s2", "s3", "s4", "d5"}


def test_each_change_counts_for_the_services_it_touches(warehouse):
    assert _rows(warehouse, "select change_id, service, matched_by from marts.fct_change_services") == {
        ("acme/mono#1", "pay", "path"),
        ("acme/mono#1", "search", "path"),
        ("acme/mono#2", "pay", "path"),
        ("acme/mono#3", "shared", "repository"),
        ("acme/mono#4", "search", "path"),
        ("acme/mono#4", "shared", "repository"),
        ("acme/mono@m0", "shared", "repository"),  # a direct push of README.md: the fallback service
        ("acme/mono@d5", "pay", "path"),  # a direct push: each service its files touch
        ("acme/mono@d5", "search", "path"),
        ("acme/api#1", "api", "repository"),
        ("acme/api@a0", "api", "repository"),
    }


def test_deployments_belong_to_the_service_whose_rule_claims_them(warehouse):
    assert _rows(
        warehouse,
        "select source_deployment_id, service, environment, is_production from marts.fct_deployments",
    ) == {
        ("1", "pay", "production", True),
        ("2", "search", "production", True),
        ("3", "shared", "production", True),
        ("4", "search", "production", True),
        ("5", "pay", "production", True),
        ("6", "shared", "production", True),
        ("7", "search", "production", True),
        ("8", "api", "production", True),
        ("9", "api", "production", True),
    }


def test_each_service_ships_its_changes_with_its_own_lead_time(warehouse):
    """Lead time: the branch commit's 09:00 to the service's first production deployment shipping it.
    shared's deployment of s3 also reaches s1 and s2, and search's of s4 reaches s2 and s3: neither ships
    a change that is not theirs. shared never deployed s4 (mono#4)."""
    got = _rows(
        warehouse,
        "select changes.change_id, changes.service, deployments.source_deployment_id, "
        "changes.lead_time_minutes from marts.fct_change_services as changes "
        "left join marts.fct_deployments as deployments using (deployment_id)",
    )
    assert got == {
        ("acme/mono#1", "pay", "5", 30 * 60.0),  # 06-02 09:00 → 06-03 15:00
        ("acme/mono#1", "search", "4", 5 * 60.0),  # 06-02 09:00 → 14:00
        ("acme/mono#2", "pay", "5", 6 * 60.0),  # 06-03 09:00 → 15:00
        ("acme/mono#3", "shared", "6", 7 * 60.0),  # 06-04 09:00 → 16:00
        ("acme/mono#4", "search", "7", 4 * 60.0),  # 06-05 09:00 → 13:00
        ("acme/mono#4", "shared", None, None),
        ("acme/mono@m0", "shared", "3", None),  # shipped by shared's baseline
        ("acme/mono@d5", "pay", None, None),  # deployed nowhere yet
        ("acme/mono@d5", "search", None, None),
        ("acme/api#1", "api", "9", 4 * 60.0),  # 06-02 09:00 → 13:00
        ("acme/api@a0", "api", "8", None),
    }


def test_fct_changes_keeps_one_row_per_change_under_its_first_service(warehouse):
    assert _rows(warehouse, "select change_id, service, lead_time_minutes from marts.fct_changes") == {
        ("acme/mono#1", "pay", 30 * 60.0),
        ("acme/mono#2", "pay", 6 * 60.0),
        ("acme/mono#3", "shared", 7 * 60.0),
        ("acme/mono#4", "search", 4 * 60.0),
        ("acme/mono@m0", "shared", None),
        ("acme/mono@d5", "pay", None),  # the first of its services by name
        ("acme/api#1", "api", 4 * 60.0),
        ("acme/api@a0", "api", None),
    }


def test_rollups_count_each_service_and_each_team_once(warehouse):
    """Week of 06-01. Per service: pay mono#1 and #2, search mono#1 and #4, shared mono#3. Per team:
    platform counts mono#3 and api#1; money mono#1, #2; find mono#1, #4. The org counts each change once."""
    got = _rows(
        warehouse,
        "select grouping, group_value, changes, lead_time_median_minutes from marts.dora_rollup_weekly "
        "where grouping in ('org', 'team', 'service')",
    )
    assert got == {
        ("org", "(org)", 5, 6 * 60.0),
        ("team", "money", 2, 18 * 60.0),
        ("team", "find", 2, 4.5 * 60.0),
        ("team", "platform", 2, 5.5 * 60.0),
        ("service", "pay", 2, 18 * 60.0),
        ("service", "search", 2, 4.5 * 60.0),
        ("service", "shared", 1, 7 * 60.0),
        ("service", "api", 1, 4 * 60.0),
    }


def test_team_weekly_counts_each_change_once_per_team(warehouse):
    got = _rows(warehouse, "select team, changes, lead_time_median_minutes from marts.dora_team_weekly")
    assert got == {("money", 2, 18 * 60.0), ("find", 2, 4.5 * 60.0), ("platform", 2, 5.5 * 60.0)}


def test_a_services_deployment_counts_only_its_own_pull_requests(warehouse):
    """shared's deployment of s3 reaches s1 and s2 too, search's of s4 reaches s2 and s3: each counts only
    the pull requests of its service. The baselines ship no pull request."""
    got = _rows(warehouse, "select source_deployment_id, pr_count, batch_pr_count from marts.fct_deployments")
    assert got == {
        ("1", 0, 0),
        ("2", 0, 0),
        ("3", 0, 0),
        ("4", 1, 1),  # search: mono#1
        ("5", 2, 2),  # pay: mono#1, mono#2
        ("6", 1, 1),  # shared: mono#3
        ("7", 1, 1),  # search: mono#4
        ("8", 0, 0),
        ("9", 1, 1),
    }


def test_rollups_count_a_change_once_per_department_and_label(warehouse):
    """commerce (money: pay) counts mono#1 (30 h) and #2 (6 h); discovery (find: search) mono#1 (5 h) and #4
    (4 h). The label api (pay and search) counts mono#1 once, at search's deployment (5 h, before pay's),
    #2 (6 h) and #4 (4 h); payments (pay) mono#1 (30 h) and #2 (6 h)."""
    got = _rows(
        warehouse,
        "select grouping, group_value, changes, lead_time_median_minutes from marts.dora_rollup_weekly "
        "where grouping in ('department', 'label')",
    )
    assert got == {
        ("department", "commerce", 2, 18 * 60.0),
        ("department", "discovery", 2, 4.5 * 60.0),
        ("label", "api", 3, 5 * 60.0),
        ("label", "payments", 2, 18 * 60.0),
    }


# ------------------------------------------------------------------------------ the app on the monorepo


def _open(app_warehouse: Path, monkeypatch: pytest.MonkeyPatch, page: str, query: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    from app import queries

    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(app_warehouse))
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.query_params = query
    app_test.run()
    app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    return app_test


def _frame(app_test, column: str):
    return next(frame.value for frame in app_test.dataframe if column in frame.value.columns)


PERIOD = {"from": "2026-06-01", "to": "2026-06-05"}


def test_lead_time_page_shows_a_change_under_each_service_with_its_lead_time(app_warehouse, monkeypatch):
    """Unfiltered, mono#1 is listed for pay (30 h) and for search (5 h); per team it counts once for money
    and once for find, each with its own service's lead time."""
    app_test = _open(app_warehouse, monkeypatch, "lead_time", PERIOD)
    slowest = _frame(app_test, "Lead time (h)")
    assert set(zip(slowest["Change"], slowest["Service"], slowest["Lead time (h)"], strict=True)) == {
        ("acme/mono#1", "pay", 30.0),
        ("acme/mono#1", "search", 5.0),
        ("acme/mono#2", "pay", 6.0),
        ("acme/mono#3", "shared", 7.0),
        ("acme/mono#4", "search", 4.0),
        ("acme/api#1", "api", 4.0),
    }
    teams = _frame(app_test, "Median (h)")
    assert set(zip(teams["Team"], teams["Changes"], teams["Median (h)"], strict=True)) == {
        ("find", 2, 4.5),
        ("money", 2, 18.0),
        ("platform", 2, 5.5),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # search's own changes: mono#1 is search's as well as pay's (fct_changes files it under pay)
        ({"service": "search"}, {("acme/mono#1", "search", 5.0), ("acme/mono#4", "search", 4.0)}),
        # the label api: pay's and search's rows
        (
            {"label": "api"},
            {
                ("acme/mono#1", "pay", 30.0),
                ("acme/mono#1", "search", 5.0),
                ("acme/mono#2", "pay", 6.0),
                ("acme/mono#4", "search", 4.0),
            },
        ),
        # the language go: search only
        ({"language": "go"}, {("acme/mono#1", "search", 5.0), ("acme/mono#4", "search", 4.0)}),
    ],
)
def test_lead_time_page_filters_changes_by_the_services_they_touch(
    app_warehouse, monkeypatch, query, expected
):
    app_test = _open(app_warehouse, monkeypatch, "lead_time", {**PERIOD, **query})
    slowest = _frame(app_test, "Lead time (h)")
    assert set(zip(slowest["Change"], slowest["Service"], slowest["Lead time (h)"], strict=True)) == expected


def test_where_is_my_change_finds_a_change_by_any_service_it_touches(app_warehouse, monkeypatch):
    """Filtered to search, the search for "1" finds mono#1 (filed under pay in fct_changes) and not api#1;
    it reached production twice: search's deployment 4 (06-02 14:00), pay's 5 (06-03 15:00)."""
    app_test = _open(app_warehouse, monkeypatch, "where_is_my_change", {"service": "search", "q": "1"})
    assert app_test.selectbox(key="change_pick").options == ["acme/mono#1 · change 1 · ann"]
    assert any("services pay, search" in item.value for item in app_test.caption)
    reach = _frame(app_test, "Matched by")
    production = reach[reach["Production"]]
    assert list(zip(production["Service"], production["Reached at (UTC)"].astype(str), strict=True)) == [
        ("pay", "2026-06-03 15:00:00"),
        ("search", "2026-06-02 14:00:00"),
    ]


def test_where_is_my_change_lists_what_waits_per_service(app_warehouse, monkeypatch):
    """mono#4 is in production for search but shared has not deployed it: it waits for shared only. The
    direct push d5 waits for pay and search, the services its files touch, and for no other."""
    app_test = _open(app_warehouse, monkeypatch, "where_is_my_change", {"service": "shared"})
    waiting = _frame(app_test, "merged_at")
    assert list(zip(waiting["change_id"], waiting["service"], strict=True)) == [("acme/mono#4", "shared")]
    for service in ("pay", "search"):
        app_test = _open(app_warehouse, monkeypatch, "where_is_my_change", {"service": service})
        waiting = _frame(app_test, "merged_at")
        assert list(zip(waiting["change_id"], waiting["service"], strict=True)) == [("acme/mono@d5", service)]
    app_test = _open(app_warehouse, monkeypatch, "where_is_my_change", {"service": "api"})
    assert not [frame for frame in app_test.dataframe if "merged_at" in frame.value.columns]
    assert any("Nothing waits" in item.value for item in app_test.success)


def test_a_deployment_card_lists_the_changes_it_shipped_for_its_service(app_warehouse, monkeypatch):
    """search's deployment 4 shipped mono#1 for search (5 h), though fct_changes names pay's deployment 5;
    pay's deployment 5 shipped mono#1 (30 h) and mono#2 (6 h) for pay."""
    with duckdb.connect(str(app_warehouse), read_only=True) as con:
        sql = "select source_deployment_id, deployment_id from marts.fct_deployments"
        ids = dict(con.execute(sql).fetchall())
    shipped = {}
    for source_id in ("4", "5"):
        app_test = _open(app_warehouse, monkeypatch, "deployments", {"deployment": ids[source_id]})
        changes = _frame(app_test, "lead_time_minutes")
        shipped[source_id] = set(zip(changes["change_id"], changes["lead_time_minutes"], strict=True))
    assert shipped == {
        "4": {("acme/mono#1", 5 * 60.0)},
        "5": {("acme/mono#1", 30 * 60.0), ("acme/mono#2", 6 * 60.0)},
    }
