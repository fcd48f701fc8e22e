"""deploylens dashboard: entry point with the shared filters and the page navigation.

Run with `streamlit run app/streamlit_app.py`; `DEPLOYLENS_WAREHOUSE` names the published warehouse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts this folder, not the repository root, on sys.path; the pages import `app.*`.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from app import queries  # noqa: E402
from app.state import Choices, render_sidebar  # noqa: E402

st.set_page_config(page_title="deploylens", page_icon=":material/rocket_launch:", layout="wide")


def _render_missing_warehouse(path: Path) -> None:
    st.title("deploylens")
    st.warning(f"No warehouse found at `{path}`.")
    st.markdown(
        "The dashboard reads the published warehouse, which a refresh builds. To build one:\n\n"
        "- `make demo` builds a simulated organisation end to end, or\n"
        "- `deploylens refresh` loads your own organisation as configured in `.deploylens/org.yml`.\n\n"
        f"To read a warehouse elsewhere, set `{queries.WAREHOUSE_ENV}` to its path and restart the app."
    )


def main() -> None:
    """Check the warehouse, draw the shared filters, then hand over to the selected page."""
    path = queries.warehouse_path()
    if not path.exists():
        _render_missing_warehouse(path)
        return
    try:
        bounds, options = queries.filter_choices(path)
        choices = Choices(**options, report_years=queries.report_years(path))
    except queries.WarehouseUnavailable as error:
        st.title("deploylens")
        st.error(f"The warehouse could not be read right now. Reload in a moment.\n\n{error}")
        return

    render_sidebar(bounds, choices)
    page = st.navigation(
        [
            st.Page("app_pages/overview.py", title="Overview", icon=":material/insights:", default=True),
            st.Page("app_pages/teams.py", title="Teams", icon=":material/groups:"),
            st.Page("app_pages/services.py", title="Services", icon=":material/dns:"),
            st.Page("app_pages/deployments.py", title="Deployments", icon=":material/list:"),
            st.Page("app_pages/lead_time.py", title="Lead time", icon=":material/timer:"),
            st.Page("app_pages/failures.py", title="Failures & recovery", icon=":material/crisis_alert:"),
            st.Page("app_pages/where_is_my_change.py", title="Where is my change", icon=":material/search:"),
            st.Page("app_pages/outliers.py", title="Outliers & suggestions", icon=":material/troubleshoot:"),
            st.Page(
                "app_pages/environments.py", title="Environments & drift", icon=":material/compare_arrows:"
            ),
            st.Page("app_pages/data_health.py", title="Data health", icon=":material/health_and_safety:"),
            st.Page("app_pages/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
            st.Page("app_pages/assessment.py", title="Baseline assessment", icon=":material/checklist:"),
        ]
    )
    page.run()


main()
