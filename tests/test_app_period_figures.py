"""The Overview's, Teams' and Services' period figures over periods that are not whole months, on the tiny
simulated org's published warehouse: one starting mid-week, one reaching past the last loaded day. Counts,
rates and deployments per week are summed here from the daily rollup (`dora_rollup_daily`), whose loaded
days say which days count (docs/metrics.md: days not loaded are not days without deployments); medians,
which do not add up from days, come from plain SQL on the facts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from conftest_app import tiny_warehouse  # noqa: F401 - module fixture
from test_app_pages_real import _open, _sql, _table

from app import queries


@pytest.fixture
def warehouse(tiny_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv(queries.WAREHOUSE_ENV, str(tiny_warehouse))
    return tiny_warehouse


def _loaded(path: Path) -> tuple[dt.date, dt.date]:
    row = _sql(
        path,
        "select min(period_start) as first, max(period_start) as last from marts.dora_rollup_daily"
        " where grouping = 'org'",
    ).iloc[0]
    return pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date()


def _mid_week(path: Path) -> tuple[dt.date, dt.date]:
    """From the first Wednesday a week into the data, 26 days on (to a Monday): no whole month, no whole
    first or last week."""
    first, _ = _loaded(path)
    start = first + dt.timedelta(days=7)
    start += dt.timedelta(days=(2 - start.weekday()) % 7)
    return start, start + dt.timedelta(days=26)


def _past_the_data(path: Path) -> tuple[dt.date, dt.date]:
    """From a Thursday before the last loaded day to three weeks after it."""
    _, last = _loaded(path)
    start = last - dt.timedelta(days=10)
    start -= dt.timedelta(days=(start.weekday() - 3) % 7)
    return start, last + dt.timedelta(days=21)


PERIODS = {"mid_week": _mid_week, "past_the_data": _past_the_data}


def _rollup_sums(path: Path, grouping: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per group: the daily rollup's counts over the period, and the period's loaded days (the org's daily
    rows run over every loaded day, zeros included)."""
    return _sql(
        path,
        """
        with days as (
            select * from marts.dora_rollup_daily where period_start between ? and ?
        ),
        loaded as (
            select sum(loaded_days) as loaded_days from days where grouping = 'org'
        )
        select
            group_value as key,
            sum(deployments) as deployments,
            sum(failed_deployments) as failed,
            sum(rework_deployments) as rework,
            any_value(loaded.loaded_days) as loaded_days,
        from days
        cross join loaded
        where grouping = ?
        group by group_value
        """,
        start,
        end,
        grouping,
    ).set_index("key")


def _medians(path: Path, group: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Median lead time (changes first shipped in the period) and time to restore (the period's failed
    production deployments), in hours, per team or service and for all of them ('(org)')."""
    column = {"team": "team", "service": "service"}[group]
    changes = _sql(
        path,
        "select " + column + " as key, lead_time_minutes from marts.fct_changes"
        " where lead_time_minutes is not null and team is not null and deployed_at::date between ? and ?",
        start,
        end,
    )
    restores = _sql(
        path,
        "select " + column + " as key, time_to_restore_minutes from marts.fct_deployments"
        " where status = 'success' and is_production and team is not null"
        " and deployed_at::date between ? and ? and time_to_restore_minutes is not null",
        start,
        end,
    )
    lead = changes.groupby("key")["lead_time_minutes"].median() / 60
    restore = restores.groupby("key")["time_to_restore_minutes"].median() / 60
    lead.loc[queries.ORG_TEAM] = changes["lead_time_minutes"].median() / 60
    restore.loc[queries.ORG_TEAM] = restores["time_to_restore_minutes"].median() / 60
    return pd.DataFrame({"lead_time_hours": lead, "restore_hours": restore})


def _close(shown: pd.Series, expected: pd.Series) -> None:
    expected = expected.reindex(shown.index)
    assert shown.astype("float64").to_numpy() == pytest.approx(
        expected.astype("float64").to_numpy(), rel=1e-9, nan_ok=True
    ), pd.DataFrame({"shown": shown, "expected": expected})


def _check_period(path: Path, start: dt.date, end: dt.date) -> None:
    """Sanity of the period itself: it is what the test means it to be."""
    first, last = _loaded(path)
    assert first <= start <= last
    assert start.weekday() != 0 and start.day != 1  # neither a week's nor a month's first day
    if end > last:
        assert (last - start).days + 1 < (end - start).days + 1  # some days are not loaded


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_teams_figures_equal_the_daily_rollup(warehouse, period):
    start, end = PERIODS[period](warehouse)
    _check_period(warehouse, start, end)
    app_test = _open("teams", {"from": start.isoformat(), "to": end.isoformat()})
    table = _table(app_test, "Frequency rank").set_index("Team")
    sums = _rollup_sums(warehouse, "team", start, end)
    loaded_days = int(sums["loaded_days"].iloc[0])
    assert loaded_days == (min(end, _loaded(warehouse)[1]) - start).days + 1
    deployments = sums["deployments"].reindex(table.index).fillna(0).astype(int)
    assert list(table["Deployments"]) == list(deployments)
    assert table["Deployments"].sum() > 0
    _close(table["Per week"], sums["deployments"] * 7 / loaded_days)
    _close(table["Change failure rate (%)"], sums["failed"] / sums["deployments"] * 100)
    _close(table["Rework rate (%)"], sums["rework"] / sums["deployments"] * 100)
    medians = _medians(warehouse, "team", start, end)
    _close(table["Lead time median (h)"], medians["lead_time_hours"])
    _close(table["Time to restore median (h)"], medians["restore_hours"])
    if end > _loaded(warehouse)[1]:
        # Not over the calendar days: the days after the data are not weeks without deployments.
        calendar = sums["deployments"] * 7 / ((end - start).days + 1)
        assert table["Per week"].astype("float64").to_numpy() != pytest.approx(
            calendar.reindex(table.index).astype("float64").to_numpy()
        )


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_overview_figures_equal_the_daily_rollup(warehouse, period):
    start, end = PERIODS[period](warehouse)
    app_test = _open("overview", {"from": start.isoformat(), "to": end.isoformat()})
    org = _rollup_sums(warehouse, "org", start, end).loc[queries.ORG_TEAM]
    medians = _medians(warehouse, "team", start, end).loc[queries.ORG_TEAM]
    cards = {metric.label: metric.value for metric in app_test.metric}
    assert cards == {
        "Deploys / week": f"{org['deployments'] * 7 / org['loaded_days']:.1f}",
        "Lead time": _duration(medians["lead_time_hours"]),
        "Failure rate": f"{org['failed'] / org['deployments'] * 100:.1f} %",
        "Time to restore": _duration(medians["restore_hours"]),
        "Rework rate": f"{org['rework'] / org['deployments'] * 100:.1f} %",
    }
    table = _table(app_test, "Deploy days / week (median)").set_index("Team")
    sums = _rollup_sums(warehouse, "team", start, end)
    _close(table["Per week"], sums["deployments"] * 7 / org["loaded_days"])
    _close(table["Change failure rate (%)"], sums["failed"] / sums["deployments"] * 100)


def _duration(hours: float) -> str:
    """The card's unit, written out here: minutes under an hour, hours under two days, else days."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_services_figures_equal_the_daily_rollup(warehouse, period):
    start, end = PERIODS[period](warehouse)
    app_test = _open("services", {"from": start.isoformat(), "to": end.isoformat()})
    table = _table(app_test, "Team view").set_index("Service")
    sums = _rollup_sums(warehouse, "service", start, end)
    loaded_days = int(sums["loaded_days"].iloc[0])
    deployments = sums["deployments"].reindex(table.index).fillna(0).astype(int)
    assert list(table["Deployments"]) == list(deployments)
    _close(table["Per week"], deployments * 7 / loaded_days)
    _close(table["Change failure rate (%)"], sums["failed"] / sums["deployments"] * 100)
    medians = _medians(warehouse, "service", start, end)
    _close(table["Lead time median (h)"], medians["lead_time_hours"])
    _close(table["Time to restore median (h)"], medians["restore_hours"])
