"""Every app page on a benchmark warehouse, headless (Streamlit's AppTest), filters on.

Pages are those the entry point's navigation lists (every `st.Page(...)` in app/streamlit_app.py). The
filters are a link's: one team and a twelve-week period in the URL's query parameters. Each page is
opened once in a fresh process with empty caches (cold: queries run against the warehouse), then rerun
(warm: what a person clicking around sees). What a server does once at its start, before any visitor
(Streamlit's discovery of installed components), is done first and timed apart. Run as `python -m
benchmarks.app_pages WAREHOUSE`: prints one JSON object, {"server_start_ms": ..., "pages": {page ->
{"cold_ms": ..., "warm_ms": [...], "errors": [...]}}}.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = ROOT / "app" / "streamlit_app.py"
WARM_RUNS = 20
TIMEOUT_S = 120


def navigation_pages(entry_point: Path = ENTRY_POINT) -> list[str]:
    """The page files the navigation lists, in order (the first argument of each `st.Page` call)."""
    pages = []
    for node in ast.walk(ast.parse(entry_point.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Page"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            pages.append(node.args[0].value)
    return pages


def busiest_team_and_period(warehouse: Path) -> tuple[str, dt.date, dt.date]:
    """The team with the most production deployments, and the twelve weeks ending on the last one."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        team, last = con.execute(
            """
            select team, max(deployed_at)::date
            from marts.fct_deployments
            where is_production and team is not null
            group by team
            order by count(*) desc, team
            limit 1
            """
        ).fetchone()
    finally:
        con.close()
    return team, last - dt.timedelta(weeks=12) + dt.timedelta(days=1), last


def _server_start() -> tuple[object, float]:
    """What a Streamlit server does once when it starts, before its first visitor: discover the custom
    components of every installed distribution (reading each one's metadata: about half a second beside
    this project's packages). AppTest does it in a test's first run instead; the pages share this one, as
    a server's sessions share its runtime, so a page's cold figure is its first view on a running server.
    Returns the registry and the milliseconds it took."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    started = time.perf_counter()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    return components, (time.perf_counter() - started) * 1000


def _time_pages(warehouse: Path) -> dict[str, dict]:
    from streamlit.testing.v1 import AppTest

    os.environ["DEPLOYLENS_WAREHOUSE"] = str(warehouse)
    team, start, end = busiest_team_and_period(warehouse)
    components, server_start_ms = _server_start()
    timings: dict[str, dict] = {}
    for page in navigation_pages():
        app = AppTest.from_file(str(ENTRY_POINT), default_timeout=TIMEOUT_S)
        if not hasattr(app, "_bidi_component_manager"):
            raise RuntimeError(
                "this Streamlit's AppTest keeps no component registry to share: see _server_start"
            )
        app._bidi_component_manager = components
        app.query_params.update({"team": team, "from": start.isoformat(), "to": end.isoformat()})
        started = time.perf_counter()
        app.switch_page(page).run()
        cold = (time.perf_counter() - started) * 1000
        errors = [str(element.value) for element in app.exception]
        warm = []
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            app.run()
            warm.append((time.perf_counter() - started) * 1000)
        timings[page] = {"cold_ms": cold, "warm_ms": warm, "errors": errors}
    return {"server_start_ms": server_start_ms, "pages": timings}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def page_timings(warehouse: Path) -> dict[str, dict]:
    """Time every page in a fresh process (so the first run of each page meets empty caches): the
    server's start (`server_start_ms`, not a page's) and each page's figures (`pages`)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.app_pages", str(warehouse)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"timing the app pages failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def app_benchmarks(warehouse: Path, scale_name) -> dict[str, dict]:
    """`large_app_page_cold_ms` (the slowest page's first run) and `large_app_page_warm_p95_ms` (the
    slowest page's 95th percentile of reruns), with every page's figures printed."""
    measured = page_timings(warehouse)
    timings = measured["pages"]
    print(
        "  the server's start (component discovery, once, before any page):"
        f" {measured['server_start_ms']:.0f} ms"
    )
    for page, figures in timings.items():
        print(
            f"  {page:<36} cold {figures['cold_ms']:7.0f} ms   warm p95 {p95(figures['warm_ms']):6.0f} ms"
            + (f"   ERRORS: {figures['errors']}" if figures["errors"] else "")
        )
    broken = {page: figures["errors"] for page, figures in timings.items() if figures["errors"]}
    if broken:
        raise RuntimeError(f"pages raised exceptions: {broken}")
    cold = max(figures["cold_ms"] for figures in timings.values())
    warm = max(p95(figures["warm_ms"]) for figures in timings.values())
    return {
        scale_name("large_app_page_cold_ms"): {"value": round(cold), "unit": "ms"},
        scale_name("large_app_page_warm_p95_ms"): {"value": round(warm), "unit": "ms"},
    }


if __name__ == "__main__":
    print(json.dumps(_time_pages(Path(sys.argv[1]))))
