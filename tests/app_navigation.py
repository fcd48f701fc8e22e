"""The app's pages as the tests open them: the navigation's page names and one way to open a page with a
query in the URL, checked for exceptions and errors (tests/test_app_every_page.py and the reliability test of
a warehouse without production deployments use it)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

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


def open_page(page: str, query: dict) -> AppTest:
    app_test = AppTest.from_file(str(ENTRY_POINT), default_timeout=120)
    app_test.query_params = dict(query)
    app_test.run()
    app_test.switch_page(f"app_pages/{page}.py").run()
    assert not app_test.exception, [item.value for item in app_test.exception]
    assert app_test.error.len == 0, [item.value for item in app_test.error]
    return app_test


def messages(app_test: AppTest) -> list[str]:
    return [item.value for item in [*app_test.info, *app_test.success, *app_test.warning]]
