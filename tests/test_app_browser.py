"""A real browser on the running app (tests/browser.py): every page of the app serving the tiny org's
published warehouse (real marts, with departments, labels and benchmarks), with no exception shown, one
drill-down followed, and a screenshot of each page saved to .deploylens/artifacts/screenshots/. The mixed
demo org gets the same check in the module that builds it (tests/test_deploy_rules_mixed.py); the small
demo org, built by the same generator as the tiny one, is checked against its truth without a browser
(tests/test_end_to_end.py).

Skipped where no chromium executable exists (`apt-get install chromium`, or DEPLOYLENS_CHROMIUM=<path>);
with DEPLOYLENS_REQUIRE_BROWSER=1 (CI) the missing browser is a failure instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import (
    LAUNCH_ARGS,
    METRIC,
    PAGE_TIMEOUT_MS,
    PAGES,
    REPO_ROOT,
    SCREENSHOTS,
    chromium_or_skip,
    open_every_page,
    serving,
    settle,
)
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def app_url(tiny_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    with serving(tiny_warehouse, tmp_path_factory.mktemp("streamlit")) as url:
        yield url


def test_every_page_renders_in_a_real_browser(chromium: str, app_url: str, tiny_warehouse: Path) -> None:  # noqa: F811
    open_every_page(chromium, app_url, tiny_warehouse, SCREENSHOTS)


# Metric labels and values whose text is cut off (an ellipsis): wider than the box that shows them.
TRUNCATED_METRIC_TEXT = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *, '
    + '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *'
)).filter((element) => element.clientWidth > 0 && element.scrollWidth > element.clientWidth + 1)
  .map((element) => element.textContent.trim())"""
# A card's text fits wider boxes once it fits the narrowest: the range's two ends.
CARD_WIDTHS = (1280, 1920)
# Pages with a row of cards, and how many.
CARD_PAGES = {"": 5, "teams": 4}


def test_the_cards_read_whole_from_1280_to_1920_px(chromium: str, app_url: str) -> None:
    """The Overview's five cards and the Teams page's four in one row: no label or value cut off at any common
    desktop width."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            for width in CARD_WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                for path, cards in CARD_PAGES.items():
                    page.goto(f"{app_url}/{path}")
                    settle(page, METRIC)
                    # On a loaded machine the first card can show before the row's last: wait for the row.
                    page.wait_for_function(
                        "([selector, n]) => document.querySelectorAll(selector).length >= n",
                        arg=[METRIC, cards],
                        timeout=PAGE_TIMEOUT_MS,
                    )
                    assert page.locator(METRIC).count() == cards
                    truncated = page.evaluate(TRUNCATED_METRIC_TEXT)
                    page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}-{width}.png"))
                    assert truncated == [], f"{path or 'overview'} cut off at {width} px: {truncated}"
                page.close()
        finally:
            browser.close()


def test_the_browser_test_opens_every_page_of_the_navigation() -> None:
    """PAGES must follow app/streamlit_app.py: a page added to the navigation is opened here too."""
    source = (REPO_ROOT / "app" / "streamlit_app.py").read_text()
    navigation = re.findall(r'st\.Page\(\s*"app_pages/(\w+)\.py"', source)
    assert len(navigation) >= 12
    opened = {path or "overview" for path in PAGES}
    assert sorted(opened) == sorted(navigation)
