"""The cross-team rollups against figures computed here from the simulator's truth files alone.

The tiny org's `org.yml` carries departments and labels (tests/orgs.py `add_dimensions`); which service
belongs to which team, department and label is read from that file, everything else from `truth/`. Counts
and rates must match exactly, durations within a minute, and the set of (group, period) rows both ways.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from truth import PRODUCTION, read_truth

pytestmark = pytest.mark.e2e

GRAINS = {"day": "dora_rollup_daily", "week": "dora_rollup_weekly", "month": "dora_rollup_monthly"}
COUNTS = ["deployments", "deploy_days", "failed_deployments", "changes", "incidents", "loaded_days"]
DURATIONS = [
    "lead_time_median_minutes",
    "lead_time_p75_minutes",
    "lead_time_p90_minutes",
    "lead_time_mean_minutes",
    "time_to_restore_median_minutes",
]


def _period_start(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(start: date, grain: str) -> date:
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _groups(org: dict) -> dict[str, list[tuple[str, str]]]:
    """Each service's groups, from the configuration file."""
    department = {team["name"]: team.get("department") for team in org["teams"]}
    out = {}
    for service in org["services"]:
        groups = [("org", "(org)"), ("team", service["team"]), ("service", service["name"])]
        if department[service["team"]]:
            groups.append(("department", department[service["team"]]))
        groups += [("label", label) for label in sorted(set(service.get("labels") or []))]
        out[service["name"]] = groups
    return out


def _explode(frame: pd.DataFrame, groups: dict, day_column: str, grain: str) -> pd.DataFrame:
    rows = []
    for record in frame.to_dict("records"):
        day = record[day_column].date()
        for grouping, value in groups[record["service"]]:
            rows.append(
                {
                    **record,
                    "grouping": grouping,
                    "group_value": value,
                    "period_start": _period_start(day, grain),
                    "day": day,
                }
            )
    columns = [*frame.columns, "grouping", "group_value", "period_start", "day"]
    return pd.DataFrame(rows, columns=columns)


def expected_rollup(truth: dict[str, pd.DataFrame], org: dict, grain: str) -> pd.DataFrame:
    groups = _groups(org)
    deployments = truth["deployments"]
    loaded_from = min(deployments["deployed_at"].min(), truth["incidents"]["created_at"].min()).date()
    loaded_through = max(deployments["deployed_at"].max(), truth["incidents"]["created_at"].max()).date()
    production = deployments[
        deployments["environment"].str.match(PRODUCTION) & deployments["service"].isin(groups)
    ]
    production = production.assign(
        restore=(production["recovered_at"] - production["deployed_at"]).dt.total_seconds() / 60
    )
    changes = truth["changes"]
    # Direct pushes authored before the load's horizon are history the first deployment stands for: not
    # loaded, so not changes (docs/metrics.md, "Commits before the ingestion horizon").
    horizon = pd.Timestamp(org["sources"]["github"]["start_date"])
    before_horizon = changes["pr_number"].isna() & (changes["first_commit_at"] < horizon)
    changes = changes[changes["deployed_at"].notna() & changes["service"].isin(groups) & ~before_horizon]
    changes = changes.assign(lead=(changes["deployed_at"] - changes["started_at"]).dt.total_seconds() / 60)
    incidents = truth["incidents"][truth["incidents"]["service"].isin(groups)]

    key = ["grouping", "group_value", "period_start"]
    dep = _explode(production, groups, "deployed_at", grain)
    dep_agg = dep.groupby(key).agg(
        deployments=("deployment_id", "size"),
        deploy_days=("day", "nunique"),
        failed_deployments=("is_failure", "sum"),
        time_to_restore_median_minutes=("restore", lambda v: v[v.notna()].median()),
        last_day=("day", "max"),
    )
    chg = _explode(changes, groups, "deployed_at", grain)
    chg_agg = chg.groupby(key).agg(
        changes=("lead", "size"),
        lead_time_median_minutes=("lead", lambda v: np.percentile(v, 50)),
        lead_time_p75_minutes=("lead", lambda v: np.percentile(v, 75)),
        lead_time_p90_minutes=("lead", lambda v: np.percentile(v, 90)),
        lead_time_mean_minutes=("lead", "mean"),
    )
    inc_agg = (
        _explode(incidents, groups, "created_at", grain).groupby(key).agg(incidents=("incident_id", "size"))
    )

    data = pd.concat([dep_agg, chg_agg, inc_agg], axis=1)
    rows = []
    last_period = _period_start(loaded_through, grain)
    for (grouping, value), part in data.groupby(level=[0, 1]):
        start = min(part.index.get_level_values(2))
        last_deploy = (
            dep_agg.loc[(grouping, value)]["last_day"].max()
            if (grouping, value) in dep_agg.index.droplevel(2)
            else None
        )
        while start <= last_period:
            end = _next_period(start, grain) - timedelta(days=1)
            loaded = (min(end, loaded_through) - max(start, loaded_from)).days + 1
            rows.append(
                {
                    "grouping": grouping,
                    "group_value": value,
                    "period_start": start,
                    "loaded_days": loaded,
                    "is_complete_period": loaded == (end - start).days + 1,
                    "has_stopped_deploying": last_deploy is None or last_deploy < start,
                }
            )
            start = _next_period(start, grain)
    calendar = pd.DataFrame(rows).set_index(key)
    out = calendar.join(data.drop(columns="last_day"), how="left")
    for column in ["deployments", "deploy_days", "failed_deployments", "changes", "incidents"]:
        out[column] = out[column].fillna(0).astype(int)
    out["change_failure_rate"] = np.where(
        out["deployments"] > 0,
        out["failed_deployments"] / out["deployments"].where(out["deployments"] > 0),
        np.nan,
    )
    out["deployments_per_week"] = out["deployments"] * 7 / out["loaded_days"]
    return out.reset_index()


def _mart(warehouse, name: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.execute(f"select * from marts.{name}").df()
    finally:
        con.close()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


@pytest.fixture(scope="module")
def inputs(tiny_org):
    return read_truth(tiny_org.workdir.truth), yaml.safe_load(tiny_org.config_path.read_text())


@pytest.mark.parametrize("grain", list(GRAINS))
def test_rollups_match_truth(tiny_org, inputs, grain):
    truth, org = inputs
    expected = expected_rollup(truth, org, grain)
    actual = _mart(tiny_org.workdir.warehouse, GRAINS[grain])
    key = ["grouping", "group_value", "period_start"]
    joined = expected.merge(actual, on=key, how="outer", suffixes=("_truth", ""), indicator=True)
    assert (joined["_merge"] == "both").all(), (
        joined.loc[joined["_merge"] != "both", [*key, "_merge"]].head(20).to_string()
    )
    assert set(expected["grouping"]) == {"org", "department", "team", "service", "label"}

    problems = []
    for column in [*COUNTS, "is_complete_period", "has_stopped_deploying"]:
        bad = joined[joined[f"{column}_truth"] != joined[column]]
        problems += [
            f"{column} {row[key].tolist()}: truth {row[f'{column}_truth']} warehouse {row[column]}"
            for _, row in bad.head(5).iterrows()
        ]
    for column in ["change_failure_rate", "deployments_per_week"]:
        truth_value, mart_value = joined[f"{column}_truth"].astype(float), joined[column].astype(float)
        bad = joined[~((truth_value.isna() & mart_value.isna()) | ((truth_value - mart_value).abs() < 1e-9))]
        problems += [
            f"{column} {row[key].tolist()}: truth {row[f'{column}_truth']} warehouse {row[column]}"
            for _, row in bad.head(5).iterrows()
        ]
    for column in DURATIONS:
        truth_value, mart_value = joined[f"{column}_truth"].astype(float), joined[column].astype(float)
        bad = joined[~((truth_value.isna() & mart_value.isna()) | ((truth_value - mart_value).abs() <= 1.0))]
        problems += [
            f"{column} {row[key].tolist()}: truth {row[f'{column}_truth']} warehouse {row[column]}"
            for _, row in bad.head(5).iterrows()
        ]
    assert not problems, "\n".join(problems)

    # The cases the rules are about are in the data compared: periods without a deployment (a zero row,
    # not a missing one) and, for weeks and months, the partial last period the data ends in (the tiny org's
    # data ends before October does: every month is partial).
    if grain != "month":
        idle = joined[joined["grouping"].isin(["team", "service"]) & (joined["deployments"] == 0)]
        assert len(idle) > 0, "a team or service period without deployments"
    if grain != "day":
        assert (~joined["is_complete_period"]).any()
    if grain == "week":
        assert joined["is_complete_period"].any()


def test_weekly_previous_period_and_team_ranks_match_truth(tiny_org, inputs):
    truth, org = inputs
    expected = expected_rollup(truth, org, "week").sort_values(["grouping", "group_value", "period_start"])
    expected["previous_deployments"] = expected.groupby(["grouping", "group_value"])["deployments"].shift()
    teams = expected[expected["grouping"] == "team"].copy()
    teams["rank"] = teams.groupby("period_start")["deployments_per_week"].rank(method="min", ascending=False)
    actual = _mart(tiny_org.workdir.warehouse, "dora_rollup_weekly")
    joined = expected.merge(actual, on=["grouping", "group_value", "period_start"], suffixes=("_truth", ""))
    previous_truth = joined["previous_deployments_truth"].astype(float)
    previous = joined["previous_deployments"].astype(float)
    assert ((previous_truth.isna() & previous.isna()) | (previous_truth == previous)).all()
    ranked = teams.merge(
        actual, left_on=["group_value", "period_start"], right_on=["group_value", "period_start"]
    )
    ranked = ranked[ranked["grouping_y"] == "team"]
    assert len(ranked) == len(teams)
    assert (ranked["rank"].astype(int) == ranked["deployments_per_week_rank"].astype(int)).all()


def test_org_weighted_lead_time_matches_truth(tiny_org, inputs):
    truth, org = inputs
    weekly = expected_rollup(truth, org, "week")
    teams = weekly[(weekly["grouping"] == "team") & weekly["lead_time_median_minutes"].notna()]
    weighted = (teams["lead_time_median_minutes"] * teams["deployments"]).groupby(
        teams["period_start"]
    ).sum() / teams["deployments"].groupby(teams["period_start"]).sum()
    actual = _mart(tiny_org.workdir.warehouse, "dora_rollup_weekly")
    org_rows = actual[actual["grouping"] == "org"].set_index("period_start")
    compared = pd.concat(
        [weighted.rename("truth"), org_rows["team_lead_time_median_deploy_weighted_minutes"]], axis=1
    )
    compared = compared[compared["truth"].notna() | compared.iloc[:, 1].notna()]
    assert len(compared) > 0
    assert ((compared["truth"] - compared.iloc[:, 1]).abs() <= 1.0).all(), compared.to_string()
