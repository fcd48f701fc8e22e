"""A real browser on the running app: Debian's chromium driven by Playwright opens every page of the app
serving the tiny org's warehouse, waits for each page's main table or figure, checks that no exception is
shown, follows one drill-down link, and saves a screenshot of each page to .deploylens/artifacts/screenshots/.

Skipped where no chromium executable exists (`apt-get install chromium`, or DEPLOYLENS_CHROMIUM=<path>);
with DEPLOYLENS_REQUIRE_BROWSER=1 (CI) the missing browser is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / ".deploylens" / "artifacts" / "screenshots"
CHROMIUM_ENV = "DEPLOYLENS_CHROMIUM"
REQUIRE_ENV = "DEPLOYLENS_REQUIRE_BROWSER"
START_TIMEOUT_SECONDS = 120
PAGE_TIMEOUT_MS = 90_000

# Page path -> the element that shows the page has drawn its main content.
TABLE = '[data-testid="stDataFrame"]'
CHART = '[data-testid="stVegaLiteChart"]'
METRIC = '[data-testid="stMetric"]'
PAGES = {
    "": METRIC,  # Overview
    "teams": TABLE,
    "services": TABLE,
    "deployments": TABLE,
    "lead_time": CHART,
    "failures": CHART,
    "where_is_my_change": TABLE,
    "outliers": TABLE,
    "environments": TABLE,
    "data_health": METRIC,
    "benchmarks": TABLE,
    "assessment": TABLE,
}
EXCEPTION = '[data-testid="stException"]'


def _chromium() -> str | None:
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given if Path(given).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _chromium()
    if found is None:
        reason = (
            "no chromium executable found (install Debian's `chromium` package, or set "
            f"{CHROMIUM_ENV} to a Chromium binary): the browser test of the app does not run"
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tiny_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "DEPLOYLENS_WAREHOUSE": str(tiny_warehouse)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "app" / "streamlit_app.py"),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _change_id(warehouse: Path) -> str:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return connection.execute(
            """
            select change_id from marts.fct_changes
            where change_kind = 'pull_request' and deployment_id is not null
            order by lead_time_minutes desc nulls last, change_id limit 1
            """
        ).fetchone()[0]
    finally:
        connection.close()


def _settle(page, selector: str) -> None:
    """Wait for the page's main element, then for the script run to finish (the status widget goes)."""
    page.wait_for_selector(selector, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=PAGE_TIMEOUT_MS
    )
    page.wait_for_timeout(500)


def test_every_page_renders_in_a_real_browser(chromium: str, app_url: str, tiny_warehouse: Path) -> None:  # noqa: F811
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    change_id = _change_id(tiny_warehouse)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, selector in PAGES.items():
                query = f"?q={quote(change_id)}" if path == "where_is_my_change" else ""
                page.goto(f"{app_url}/{path}{query}")
                _settle(page, selector)
                assert page.locator(EXCEPTION).count() == 0, (
                    f"{path or 'overview'}: {page.locator(EXCEPTION).first.inner_text()}"
                )
                page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"), full_page=True)

            # Drill down: from the change to the deployment card that shipped it.
            page.goto(f"{app_url}/where_is_my_change?q={quote(change_id)}")
            _settle(page, TABLE)
            link = page.get_by_role("link", name="Open the deployment card that shipped it to production")
            href = link.get_attribute("href")
            assert href and href.startswith("deployments?deployment=")
            with (
                page.context.expect_page()
                if link.get_attribute("target") == "_blank"
                else _same_page(page) as opened
            ):
                link.click()
            card = opened.value if hasattr(opened, "value") else page
            _settle(card, METRIC)
            assert card.locator(EXCEPTION).count() == 0
            assert "deployment=" in card.url
            assert card.get_by_text("Changes shipped first here").count() == 1
            card.screenshot(path=str(SCREENSHOTS / "deployment_card.png"), full_page=True)
        finally:
            browser.close()


# Metric labels and values whose text is cut off (an ellipsis): wider than the box that shows them.
TRUNCATED_METRIC_TEXT = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *, '
    + '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *'
)).filter((element) => element.clientWidth > 0 && element.scrollWidth > element.clientWidth + 1)
  .map((element) => element.textContent.trim())"""
CARD_WIDTHS = (1280, 1600, 1920)
# Pages with a row of cards, and how many.
CARD_PAGES = {"": 5, "teams": 4}


def test_the_cards_read_whole_from_1280_to_1920_px(chromium: str, app_url: str) -> None:
    """The Overview's five cards and the Teams page's four in one row: no label or value cut off at any common
    desktop width."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            for width in CARD_WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                for path, cards in CARD_PAGES.items():
                    page.goto(f"{app_url}/{path}")
                    _settle(page, METRIC)
                    assert page.locator(METRIC).count() == cards
                    truncated = page.evaluate(TRUNCATED_METRIC_TEXT)
                    page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}-{width}.png"))
                    assert truncated == [], f"{path or 'overview'} cut off at {width} px: {truncated}"
                page.close()
        finally:
            browser.close()


class _same_page:
    """A stand-in for `expect_page` when the link opens in the same tab."""

    def __init__(self, page) -> None:
        self.page = page

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.page.wait_for_load_state()


def test_the_browser_test_opens_every_page_of_the_navigation() -> None:
    """PAGES must follow app/streamlit_app.py: a page added to the navigation is opened here too."""
    import re

    source = (REPO_ROOT / "app" / "streamlit_app.py").read_text()
    navigation = re.findall(r'st\.Page\(\s*"app_pages/(\w+)\.py"', source)
    assert len(navigation) >= 12
    opened = {path or "overview" for path in PAGES}
    assert sorted(opened) == sorted(navigation)
