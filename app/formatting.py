"""Turning mart values into labels. Presentation only: units and wording, never a metric's arithmetic."""

from __future__ import annotations

import math
from typing import Any

# Colours Streamlit's badges and markdown accept; the order reads like a traffic light.
LEVEL_COLORS = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}

LEVEL_LABELS = {"elite": "Elite", "high": "High", "medium": "Medium", "low": "Low"}

MISSING = "—"


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA, which the marts use for "no data this period"."""
    if value is None:
        return True
    try:
        return bool(math.isnan(value))
    except (TypeError, ValueError):
        return str(value) in {"<NA>", "NaT"}


def format_duration(minutes: Any) -> str:
    """Minutes as the unit a person reads fastest: minutes under an hour, hours under two days, else days."""
    if is_missing(minutes):
        return MISSING
    value = float(minutes)
    size = abs(value)
    if size < 60:
        return f"{value:.0f} min"
    if size < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / (24 * 60):.1f} d"


def format_duration_delta(minutes: Any) -> str | None:
    """A signed duration for st.metric's delta; None hides the delta."""
    if is_missing(minutes):
        return None
    sign = "+" if float(minutes) >= 0 else "-"
    return f"{sign}{format_duration(abs(float(minutes)))}"


def format_rate(rate: Any) -> str:
    """A 0..1 rate as a percentage."""
    if is_missing(rate):
        return MISSING
    return f"{float(rate) * 100:.1f} %"


def format_rate_delta(rate_change: Any) -> str | None:
    """A change of a rate in percentage points, signed."""
    if is_missing(rate_change):
        return None
    return f"{float(rate_change) * 100:+.1f} pp"


def format_per_week(value: Any) -> str:
    """Deployments per week."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.1f} / week"


def format_per_week_delta(change: Any) -> str | None:
    """A signed change of deployments per week."""
    if is_missing(change):
        return None
    return f"{float(change):+.1f} / week"


def format_number(value: Any) -> str:
    """A figure whose unit is in its label (deployments per week on a card), one decimal."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.1f}"


def format_number_delta(change: Any) -> str | None:
    """A signed change of such a figure; None hides the delta."""
    if is_missing(change):
        return None
    return f"{float(change):+.1f}"


def level_label(level: Any) -> str:
    """A DORA level as a word, or a plain "no data" when the period has none for this metric."""
    if is_missing(level):
        return "No data"
    return LEVEL_LABELS.get(str(level), str(level))


def level_color(level: Any) -> str:
    """The badge colour of a level; grey for unknown or missing."""
    if is_missing(level):
        return "gray"
    return LEVEL_COLORS.get(str(level), "gray")


def minutes_to_hours(value: Any) -> float | None:
    """Hours for table columns, which sort numerically; None stays None."""
    if is_missing(value):
        return None
    return float(value) / 60


# fct_deployments.recovery_kind, as the pages write it.
RECOVERY_KINDS = {
    "incident_resolved": "incident resolved",
    "rollback": "rolled back",
    "fix_deployment": "fix deployed",
}


def recovery_label(kind: Any) -> str | None:
    """A recovery kind for people; None when the deployment has not recovered (or did not fail)."""
    return None if is_missing(kind) else RECOVERY_KINDS.get(str(kind), str(kind))
