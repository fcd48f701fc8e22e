"""Promotion staging → production and daily drift against the simulator's own records.

`truth/promotions.parquet` says, per main commit of a service with staging, which staging and which
production deployment first contained it (from the main positions the generator recorded, not from any
graph walk). Per-deployment promotions and per-day drift are derived here from those rows alone, with
plain loops, and must equal the marts exactly. Commits authored before the configured horizon are outside
the load (history the baseline deployment stands for) and are not compared.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.e2e

PAIR = ("staging", "production")


def _naive(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).astype("datetime64[us]")


@pytest.fixture(scope="module")
def inputs(tiny_org):
    truth_dir = tiny_org.workdir.truth
    promotions = pd.read_parquet(truth_dir / "promotions.parquet")
    for column in ("reached_upstream_at", "reached_downstream_at"):
        promotions[column] = _naive(promotions[column])
    commits = pd.read_parquet(truth_dir / "commits.parquet")
    commits["authored_at"] = _naive(commits["authored_at"])
    deployments = pd.read_parquet(truth_dir / "deployments.parquet")
    deployments["deployed_at"] = _naive(deployments["deployed_at"])
    horizon = pd.Timestamp(
        yaml.safe_load(tiny_org.config_path.read_text())["sources"]["github"]["start_date"]
    )
    authored = commits.set_index(["service", "commit_sha"])["authored_at"]
    keys = pd.MultiIndex.from_frame(promotions[["service", "commit_sha"]])
    loaded = promotions[authored.reindex(keys).to_numpy() >= horizon].reset_index(drop=True)
    con = duckdb.connect(str(tiny_org.workdir.warehouse), read_only=True)
    try:
        marts = {
            name: con.execute(f"select * from marts.{name}").df()  # noqa: S608 - fixed names
            for name in ("fct_commit_promotions", "fct_promotions", "drift_daily", "fct_deployments")
        }
    finally:
        con.close()
    source_id = dict(
        zip(
            marts["fct_deployments"]["deployment_id"],
            marts["fct_deployments"]["source_deployment_id"].astype(str),
            strict=True,
        )
    )
    return loaded, commits[commits["authored_at"] >= horizon], deployments, marts, source_id


def test_truth_and_marts_promote_the_same_services(inputs):
    loaded, _, deployments, marts, _ = inputs
    assert len(loaded) > 100, "the tiny org promotes commits"
    staged = set(deployments.loc[~deployments["environment"].str.match("^prod"), "service"])
    assert set(loaded["service"]) <= staged
    assert set(marts["fct_commit_promotions"]["service"]) == set(loaded["service"])


def test_each_commit_reaches_staging_and_production_as_the_truth_says(inputs):
    loaded, _, _, marts, source_id = inputs
    mart = marts["fct_commit_promotions"].copy()
    assert set(zip(mart["upstream_environment"], mart["downstream_environment"], strict=True)) == {PAIR}
    mart["upstream_deployment_id"] = mart["upstream_deployment_id"].map(source_id)
    mart["downstream_deployment_id"] = mart["downstream_deployment_id"].map(source_id)
    joined = loaded.merge(
        mart, on=["service", "commit_sha"], how="outer", suffixes=("_truth", ""), indicator=True
    )
    assert (joined["_merge"] == "both").all(), joined[joined["_merge"] != "both"][
        ["service", "commit_sha", "_merge"]
    ]
    for column in (
        "upstream_deployment_id",
        "reached_upstream_at",
        "downstream_deployment_id",
        "reached_downstream_at",
    ):
        truth = joined[f"{column}_truth"].astype("string").fillna("-")
        mart_value = joined[column].astype("string").fillna("-")
        assert (truth == mart_value).all(), joined[truth != mart_value][["service", "commit_sha", column]]


def _expected_promotions(loaded: pd.DataFrame, commits: pd.DataFrame) -> pd.DataFrame:
    """Per production deployment that shipped commits (not the first one, the baseline): what it promoted."""
    shipped = commits.dropna(subset=["deployment_id"]).groupby("deployment_id").size()
    rows = []
    for deployment_id, group in loaded.dropna(subset=["downstream_deployment_id"]).groupby(
        "downstream_deployment_id"
    ):
        promoted = group[group["reached_upstream_at"] <= group["reached_downstream_at"]]
        latest = promoted.sort_values("reached_upstream_at").iloc[-1] if len(promoted) else None
        deployed_at = group["reached_downstream_at"].iloc[0]
        rows.append(
            {
                "deployment_id": deployment_id,
                "commits_shipped": int(shipped.get(deployment_id, 0)),
                "commits_promoted": len(promoted),
                "promoted_deployment_id": None if latest is None else latest["upstream_deployment_id"],
                "promotion_lag_minutes": None
                if latest is None
                else (deployed_at - latest["reached_upstream_at"]).total_seconds() / 60,
            }
        )
    return pd.DataFrame(rows)


def test_promotions_match_the_truth(inputs):
    loaded, commits, _, marts, source_id = inputs
    mart = marts["fct_promotions"].copy()
    mart["deployment_id"] = mart["deployment_id"].map(source_id)
    mart["promoted_deployment_id"] = mart["promoted_deployment_id"].map(source_id)
    expected = _expected_promotions(loaded, commits)
    # Production deployments that shipped only commits staging never had are not in the truth's rows.
    mart = mart[mart["commits_promoted"] > 0]
    expected = expected[expected["commits_promoted"] > 0]
    assert len(expected) > 20
    joined = expected.merge(mart, on="deployment_id", how="outer", suffixes=("_truth", ""), indicator=True)
    assert (joined["_merge"] == "both").all(), joined[joined["_merge"] != "both"]
    for column in ("commits_shipped", "commits_promoted", "promoted_deployment_id"):
        assert (joined[f"{column}_truth"] == joined[column]).all(), joined[[f"{column}_truth", column]]
    lag = (joined["promotion_lag_minutes_truth"].astype(float) - joined["promotion_lag_minutes"]).abs()
    assert (lag < 1e-6).all()


def test_daily_drift_matches_the_truth(inputs):
    loaded, _, deployments, marts, _ = inputs
    last_day = deployments["deployed_at"].max().date()
    mart = marts["drift_daily"].set_index(["service", "day"])
    compared = waiting_days = 0
    for service, group in loaded.groupby("service"):
        day = group["reached_upstream_at"].min().date()
        while day <= last_day:
            end = pd.Timestamp(day + timedelta(days=1))
            waiting = group[
                (group["reached_upstream_at"] < end)
                & (group["reached_downstream_at"].isna() | (group["reached_downstream_at"] >= end))
            ]
            row = mart.loc[(service, pd.Timestamp(day))]
            assert row["commits_waiting"] == len(waiting), (service, day)
            if len(waiting):
                oldest = waiting["reached_upstream_at"].min()
                assert row["oldest_waiting_commit_at"] == oldest, (service, day)
                assert abs(row["oldest_waiting_age_hours"] - (end - oldest).total_seconds() / 3600) < 1e-6
                waiting_days += 1
            else:
                assert pd.isna(row["oldest_waiting_commit_at"]), (service, day)
            compared += 1
            day += timedelta(days=1)
    assert compared == len(marts["drift_daily"]), (
        "drift_daily has exactly the days from first arrival to the last"
    )
    assert waiting_days > 10, "some days end with commits waiting"
