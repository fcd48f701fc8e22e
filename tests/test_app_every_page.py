"""Every page of the navigation, on real published warehouses: each table has its CSV download, an empty
selection says why it is empty, and a warehouse without a single production deployment (a new setup whose
environment patterns match none) says what to check rather than "widen the date range"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from orgs import build_org
from streamlit.testing.v1 import AppTest
from test_app_pages_real import _sql

from app import queries

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = REPO_ROOT / "app" / "streamlit_app.py"
PAGES = [
    "overview",
    "teams",
    "services",
    "deployments",
    "lead_time",
    "failures",
    "where_is_my_change",
    "outliers",
    "environments",
    "data_health",
    "benchmarks",
    "assessment",
]
# The pages whose figures need production deployments: without any they say so and what to check.
NEED_PRODUCTION = ["overview", "teams", "services", "lead_time", "failures", "outliers", "benchmarks"]
NO_PRODUCTION = "No successful production deployment has been loaded yet"


def _open(page: str, query: dict) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.query_params = dict(query)
    app_test.run()
    app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    return app_test


def _messages(app_test: AppTest) -> list[str]:
    return [item.value for item in [*app_test.info, *app_test.success, *app_test.warning]]


def test_the_pages_here_are_the_navigation() -> None:
    navigation = re.findall(r'st\.Page\(\s*"app_pages/(\w+)\.py"', ENTRY_POINT.read_text())
    assert sorted(navigation) == sorted(PAGES)


@pytest.fixture
def tiny(tiny_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_warehouse))
    return tiny_warehouse


@pytest.mark.parametrize("page", PAGES)
def test_every_table_has_its_csv_download(tiny, page):
    query = {}
    if page == "deployments":  # with a card open: its changes, commits and incidents are tables too
        failed = _sql(
            tiny,
            """
            select deployment_id from marts.fct_deployments
            where deployment_id in (select deployment_id from marts.fct_incidents)
                and deployment_id in (select deployment_id from marts.fct_changes)
            order by deployed_at desc limit 1
            """,
        )
        query["deployment"] = failed["deployment_id"].iloc[0]
    if page == "where_is_my_change":
        shipped = _sql(
            tiny, "select change_id from marts.fct_changes where deployment_id is not null limit 1"
        )
        query["q"] = shipped["change_id"].iloc[0]
    app_test = _open(page, query)
    assert app_test.dataframe.len > 0
    downloads = app_test.get("download_button")
    assert len(downloads) == app_test.dataframe.len
    assert all(button.proto.label == "Download as CSV" for button in downloads)


BEFORE_THE_DATA = {"from": "1999-01-01", "to": "1999-02-01"}
ANOTHER_TEAMS_SERVICE = {"team": "platform", "service": "storefront-web"}
# Team figures cover all of a team's services (the marts roll up per team): the service filter leaves them.
TEAM_FIGURES = ("overview", "teams", "benchmarks")


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_selection_explains_itself(tiny, page):
    owner = _sql(tiny, "select team from marts.dim_services where service = 'storefront-web'")
    assert owner["team"].tolist() == ["storefront"]
    selections = [BEFORE_THE_DATA] + ([] if page in TEAM_FIGURES else [ANOTHER_TEAMS_SERVICE])
    for query in selections:
        query = {**query, "q": "no-such-change"} if page == "where_is_my_change" else query
        app_test = _open(page, query)
        if page == "data_health":  # not about a selection: it reports the last refresh
            assert app_test.subheader.len >= 3
            continue
        assert _messages(app_test), (page, query)


@pytest.fixture(scope="module")
def staging_only(tmp_path_factory) -> Path:
    """The tiny org refreshed with a production pattern that matches none of its deployments."""

    def production_matches_nothing(org: dict) -> dict:
        for environment in org["environments"]:
            if environment.get("production"):
                environment["match"] = "^production-in-another-account$"
        return org

    built = build_org(
        tmp_path_factory.mktemp("staging-only"), "tiny", seed=11, edit_config=production_matches_nothing
    )
    built.emulator.stop()
    return built.workdir.warehouse


@pytest.mark.parametrize("page", PAGES)
def test_a_warehouse_without_production_deployments_explains_itself(staging_only, monkeypatch, page):
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(staging_only))
    counts = _sql(
        staging_only,
        "select count(*) as deployments, count(*) filter (where is_production) as production"
        " from marts.fct_deployments",
    ).iloc[0]
    assert counts["deployments"] > 0 and counts["production"] == 0
    app_test = _open(page, {})
    messages = _messages(app_test)
    if page in NEED_PRODUCTION:
        assert any(message.startswith(NO_PRODUCTION) for message in messages), messages
        assert not any("Widen the date range" in message for message in messages), messages
    else:
        # These show what was loaded (deployments to staging, the refresh's checks) or what to do next.
        assert not any(message.startswith(NO_PRODUCTION) for message in messages), messages
        assert app_test.dataframe.len > 0 or messages, page
