"""A real browser on the running app: Debian's chromium driven by Playwright.

`serving(warehouse)` runs the app (`streamlit run`, as `deploylens serve` does) on a warehouse file;
`open_every_page` opens each page of the navigation in chromium, waits for the page's main table or figure,
checks that no exception is shown, follows one drill-down (a change to the deployment card that shipped it)
and saves a screenshot of each page. tests/test_app_browser.py drives it on the tiny org's warehouse (the
app's fixture); tests/test_deploy_rules_mixed.py on the mixed org.

Skipped where no chromium executable exists (`apt-get install chromium`, or DEPLOYLENS_CHROMIUM=<path>);
with DEPLOYLENS_REQUIRE_BROWSER=1 (CI) the missing browser is a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest

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
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]


def chromium_or_skip() -> str:
    """The chromium executable; skips the test without one (fails it where CI requires a browser)."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        found = given if Path(given).exists() else None
    else:
        found = shutil.which("chromium") or shutil.which("chromium-browser")
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


@contextlib.contextmanager
def serving(warehouse: Path, log_dir: Path) -> Iterator[str]:
    """The app serving `warehouse` on a free local port; yields its URL and stops it afterwards."""
    port = _free_port()
    log = log_dir / "streamlit.log"
    env = {**os.environ, "DEPLOYLENS_WAREHOUSE": str(warehouse)}
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
    """The pull request change with the longest lead time: the drill-down's starting point."""
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = connection.execute(
            """
            select change_id from marts.fct_changes
            where change_kind = 'pull_request' and deployment_id is not null
            order by lead_time_minutes desc nulls last, change_id limit 1
            """
        ).fetchone()
    finally:
        connection.close()
    assert found, f"{warehouse} has no pull request shipped to production to drill down from"
    return found[0]


def settle(page, selector: str) -> None:
    """Wait for the page's main element, then for the script run to finish (the status widget goes)."""
    page.wait_for_selector(selector, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=PAGE_TIMEOUT_MS
    )
    page.wait_for_timeout(500)


def _no_exception(page, where: str) -> None:
    shown = page.locator(EXCEPTION)
    assert shown.count() == 0, f"{where}: {shown.first.inner_text()}"


class _same_page:
    """A stand-in for `expect_page` when the link opens in the same tab."""

    def __init__(self, page) -> None:
        self.page = page

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.page.wait_for_load_state()


def open_every_page(chromium: str, url: str, warehouse: Path, screenshots: Path) -> None:
    """Every page of the navigation, then one drill-down, in a real browser; a screenshot of each."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    change_id = _change_id(warehouse)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, selector in PAGES.items():
                query = f"?q={quote(change_id)}" if path == "where_is_my_change" else ""
                page.goto(f"{url}/{path}{query}")
                settle(page, selector)
                _no_exception(page, path or "overview")
                page.screenshot(path=str(screenshots / f"{path or 'overview'}.png"), full_page=True)

            # Drill down: from the change to the deployment card that shipped it.
            page.goto(f"{url}/where_is_my_change?q={quote(change_id)}")
            settle(page, TABLE)
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
            settle(card, METRIC)
            _no_exception(card, "deployment card")
            assert "deployment=" in card.url
            assert card.get_by_text("Changes shipped first here").count() == 1
            card.screenshot(path=str(screenshots / "deployment_card.png"), full_page=True)
        finally:
            browser.close()


def every_page_renders(warehouse: Path, log_dir: Path, screenshots: Path) -> None:
    """The whole browser check on one warehouse: serve it, open every page, stop the app."""
    chromium = chromium_or_skip()
    with serving(warehouse, log_dir) as url:
        open_every_page(chromium, url, warehouse, screenshots)
