"""Every page of the navigation, on a real published warehouse: each table has its CSV download and an empty
selection says why it is empty. A warehouse without a single production deployment, on every page:
tests/reliability/test_statuses_refresh.py, which builds one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_navigation import ENTRY_POINT, PAGES, open_page
from app_navigation import messages as shown_messages
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from test_app_pages_real import _sql

from app import queries


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
    app_test = open_page(page, query)
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
        app_test = open_page(page, query)
        if page == "data_health":  # not about a selection: it reports the last refresh
            assert app_test.subheader.len >= 3
            continue
        assert shown_messages(app_test), (page, query)
