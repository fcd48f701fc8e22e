"""Compare a built warehouse with the simulator's ground truth (the outside world's own records).

The truth comes from the simulator's causal records; the warehouse from what the APIs served. Each
comparison returns plain numbers and mismatches so tests can assert the product's promises on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

PRODUCTION = re.compile(r"^prod", re.IGNORECASE)


def _naive_utc(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        values = pd.to_datetime(frame[column], utc=True)
        frame[column] = values.dt.tz_localize(None).astype("datetime64[us]")
    return frame


def read_truth(truth_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        "deployments": _naive_utc(
            pd.read_parquet(truth_dir / "deployments.parquet"), ["deployed_at", "recovered_at"]
        ),
        "changes": _naive_utc(
            pd.read_parquet(truth_dir / "changes.parquet"),
            ["first_commit_at", "opened_at", "started_at", "first_review_at", "merged_at", "deployed_at"],
        ),
        "incidents": _naive_utc(
            pd.read_parquet(truth_dir / "incidents.parquet"), ["created_at", "resolved_at"]
        ),
        "commits": _naive_utc(pd.read_parquet(truth_dir / "commits.parquet"), ["authored_at", "deployed_at"]),
        "change_services": _naive_utc(
            pd.read_parquet(truth_dir / "change_services.parquet"), ["started_at", "merged_at", "deployed_at"]
        ),
    }


def read_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            name: con.execute(f"select * from marts.{name}").df()
            for name in ("fct_deployments", "fct_changes", "fct_commits", "fct_incidents", "dim_services")
        }
    finally:
        con.close()


def _minutes(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 60.0


@dataclass
class Comparison:
    production_deployments_missing: set = field(default_factory=set)
    production_deployments_extra: set = field(default_factory=set)
    commit_mismatches: pd.DataFrame | None = None
    commits_compared: int = 0
    change_deployment_mismatches: pd.DataFrame | None = None
    changes_compared: int = 0
    direct_pushes_compared: int = 0
    lead_time_mismatches: pd.DataFrame | None = None
    lead_times_compared: int = 0
    failure_agreement: float = 0.0
    production_deployments: int = 0
    truth_failures: int = 0
    blame_precision: float = 0.0
    blame_recall: float = 0.0
    truth_blamed_incidents: int = 0
    recovery_mismatches: pd.DataFrame | None = None
    recoveries_compared: int = 0
    failure_precision: float = 0.0
    failure_recall: float = 0.0
    rework_precision: float = 0.0
    rework_recall: float = 0.0
    truth_rework: int = 0
    # per fix-forward signal (revert, hotfix): failed deployments the truth says it revealed, and the share
    # of them whose failure_signals name it
    truth_fix_signals: dict = field(default_factory=dict)
    fix_signal_recall: dict = field(default_factory=dict)


def compare(
    truth: dict[str, pd.DataFrame], marts: dict[str, pd.DataFrame], horizon: pd.Timestamp | None = None
) -> Comparison:
    """`horizon`: the configured start_date; commits authored before it are outside the load (history the
    baseline deployment stands for), so their absence is not a mismatch — any that are loaded still count."""
    out = Comparison()
    deployments = marts["fct_deployments"]
    prod = deployments[(deployments["is_production"]) & (deployments["status"] == "success")]
    prod_ids = {(row.service, str(row.source_deployment_id)) for row in prod.itertuples()}
    t_dep = truth["deployments"]
    t_prod = t_dep[t_dep["environment"].str.match(PRODUCTION)]
    t_prod_ids = {(row.service, str(row.deployment_id)) for row in t_prod.itertuples()}
    out.production_deployments_missing = t_prod_ids - prod_ids
    out.production_deployments_extra = prod_ids - t_prod_ids
    out.production_deployments = len(t_prod)

    source_id = dict(
        zip(deployments["deployment_id"], deployments["source_deployment_id"].astype(str), strict=True)
    )

    # Each commit's first production deployment, exactly.
    commits = marts["fct_commits"].copy()
    commits["source_deployment"] = commits["deployment_id"].map(source_id)
    joined = truth["commits"].merge(
        commits[["commit_sha", "service", "source_deployment"]],
        on=["commit_sha", "service"],
        how="left",
        indicator=True,
    )
    truth_dep = joined["deployment_id"].astype("string").fillna("-")
    mart_dep = joined["source_deployment"].astype("string").fillna("-")
    before_horizon = joined["authored_at"] < horizon if horizon is not None else False
    outside = (joined["_merge"] == "left_only") & before_horizon
    out.commit_mismatches = joined[((truth_dep != mart_dep) | (joined["_merge"] != "both")) & ~outside]
    out.commits_compared = len(joined)

    # Each PR's first production deployment, exactly; lead time and phases within a minute.
    changes = marts["fct_changes"].copy()
    changes["source_deployment"] = changes["deployment_id"].map(source_id)
    is_direct = changes["change_kind"] == "direct_push"
    t_changes = truth["changes"]
    t_direct = t_changes["pr_number"].isna()
    joined = t_changes[~t_direct].merge(
        changes[~is_direct], on=["service", "pr_number"], how="left", suffixes=("_truth", ""), indicator=True
    )
    truth_dep = joined["deployment_id_truth"].astype("string").fillna("-")
    mart_dep = joined["source_deployment"].astype("string").fillna("-")
    mismatched = joined[(truth_dep != mart_dep) | (joined["_merge"] != "both")]
    out.changes_compared = len(joined)

    # Each direct push is its own change, and nothing else is one: matched by commit, both ways. Pushes
    # authored before the horizon are outside the load (a local clone loads them all: not compared).
    direct = changes[is_direct].assign(commit_sha=lambda f: f["change_id"].str.rsplit("@", n=1).str[1])
    t_pushes = t_changes[t_direct]
    if horizon is not None:
        t_pushes = t_pushes[t_pushes["first_commit_at"] >= horizon]
        direct = direct[direct["first_commit_at"] >= horizon]
    pushes = t_pushes.merge(
        direct, on=["service", "commit_sha"], how="outer", suffixes=("_truth", ""), indicator=True
    )
    truth_dep = pushes["deployment_id_truth"].astype("string").fillna("-")
    mart_dep = pushes["source_deployment"].astype("string").fillna("-")
    out.change_deployment_mismatches = pd.concat(
        [mismatched, pushes[(truth_dep != mart_dep) | (pushes["_merge"] != "both")]]
    )
    out.direct_pushes_compared = len(pushes)

    both = pd.concat([joined, pushes[pushes["_merge"] == "both"]], ignore_index=True)
    deployed = both[both["deployed_at_truth"].notna()].copy()
    expected = pd.DataFrame(
        {
            "lead_time_minutes": _minutes(deployed["deployed_at_truth"] - deployed["started_at_truth"]),
            "coding_minutes": _minutes(deployed["opened_at_truth"] - deployed["started_at_truth"]),
            "pickup_minutes": _minutes(deployed["first_review_at_truth"] - deployed["opened_at_truth"]),
            "review_minutes": _minutes(deployed["merged_at_truth"] - deployed["first_review_at_truth"]),
            "deploy_minutes": _minutes(deployed["deployed_at_truth"] - deployed["merged_at_truth"]),
        },
        index=deployed.index,
    )
    # A pull request read from git history alone has no opened time and no reviews: lead time and the
    # deploy phase are all it can be held to.
    from_git = deployed["is_from_git_history"].fillna(False).astype(bool)
    bad = pd.Series(False, index=deployed.index)
    for column in expected.columns:
        truth_value = expected[column]
        mart_value = deployed[column].astype("float64")
        both_null = truth_value.isna() & mart_value.isna()
        wrong = ~both_null & ~((truth_value - mart_value).abs() <= 1.0)
        if column in ("coding_minutes", "pickup_minutes", "review_minutes"):
            wrong &= ~from_git
        bad |= wrong
    mismatches = deployed[bad].copy()
    for column in expected.columns:
        mismatches[f"expected_{column}"] = expected.loc[bad, column].to_numpy()
    out.lead_time_mismatches = mismatches
    out.lead_times_compared = len(deployed)

    # Failure flag agreement on production deployments.
    flags = t_prod.merge(
        prod.assign(deployment_id=prod["source_deployment_id"].astype(str))[
            ["deployment_id", "is_failure", "recovered_at", "failure_signals", "is_rework"]
        ],
        left_on=t_prod["deployment_id"].astype(str),
        right_on="deployment_id",
        how="left",
        suffixes=("_truth", ""),
    )
    truth_flag = flags["is_failure_truth"].fillna(False).astype(bool)
    mart_flag = flags["is_failure"].fillna(False).astype(bool)
    out.failure_agreement = float((truth_flag == mart_flag).mean()) if len(flags) else 1.0
    out.truth_failures = int(truth_flag.sum())
    both_failed = int((truth_flag & mart_flag).sum())
    out.failure_precision = both_failed / int(mart_flag.sum()) if mart_flag.any() else 1.0
    out.failure_recall = both_failed / out.truth_failures if out.truth_failures else 1.0
    truth_rework = flags["is_rework_truth"].fillna(False).astype(bool)
    mart_rework = flags["is_rework"].fillna(False).astype(bool)
    out.truth_rework = int(truth_rework.sum())
    both_rework = int((truth_rework & mart_rework).sum())
    out.rework_precision = both_rework / int(mart_rework.sum()) if mart_rework.any() else 1.0
    out.rework_recall = both_rework / out.truth_rework if out.truth_rework else 1.0
    for signal in ("revert", "hotfix"):
        named = flags["failure_signals_truth"].map(lambda signals, s=signal: s in list(signals))
        found = flags.loc[named, "failure_signals"].map(
            lambda signals, s=signal: signals is not None and s in list(signals)
        )
        out.truth_fix_signals[signal] = int(named.sum())
        out.fix_signal_recall[signal] = float(found.mean()) if len(found) else 1.0

    # Recovery where both say the deployment failed.
    both = flags[truth_flag & mart_flag]
    recovery_bad = ~(
        (both["recovered_at_truth"].isna() & both["recovered_at"].isna())
        | ((both["recovered_at_truth"] - both["recovered_at"]).abs() <= pd.Timedelta(minutes=1))
    )
    out.recovery_mismatches = both[recovery_bad]
    out.recoveries_compared = len(both)

    # Incident blame precision and recall.
    incidents = marts["fct_incidents"].copy()
    incidents["source_deployment"] = incidents["deployment_id"].map(source_id)
    mart_pairs = {
        (str(row.source_incident_id), str(row.source_deployment))
        for row in incidents.itertuples()
        if pd.notna(row.deployment_id)
    }
    t_inc = truth["incidents"]
    truth_pairs = {
        (str(row.incident_id), str(row.deployment_id))
        for row in t_inc.itertuples()
        if pd.notna(row.deployment_id)
    }
    correct = mart_pairs & truth_pairs
    out.blame_precision = len(correct) / len(mart_pairs) if mart_pairs else 1.0
    out.blame_recall = len(correct) / len(truth_pairs) if truth_pairs else 1.0
    out.truth_blamed_incidents = len(truth_pairs)
    return out


def assert_matches_truth(result: Comparison) -> None:
    """The product's promises against the simulator's truth (issue: walking skeleton, 'done when')."""
    assert result.production_deployments > 0
    assert not result.production_deployments_missing, sorted(result.production_deployments_missing)[:10]
    assert not result.production_deployments_extra, sorted(result.production_deployments_extra)[:10]
    assert result.commits_compared > 0
    assert result.commit_mismatches.empty, result.commit_mismatches.head(10).to_string()
    assert result.changes_compared > 0
    assert result.direct_pushes_compared > 0
    assert result.change_deployment_mismatches.empty, result.change_deployment_mismatches.head(10).to_string()
    assert result.lead_times_compared > 0
    assert result.lead_time_mismatches.empty, result.lead_time_mismatches.head(10).to_string()
    assert result.truth_failures > 0
    assert result.failure_agreement >= 0.97, result.failure_agreement
    assert result.failure_precision >= 0.95, result.failure_precision
    assert result.failure_recall >= 0.95, result.failure_recall
    assert result.truth_rework > 0
    assert result.rework_precision >= 0.95, result.rework_precision
    assert result.rework_recall >= 0.95, result.rework_recall
    # the fix-forward signals are found where the world fixed forward
    for signal, recall in result.fix_signal_recall.items():
        assert recall >= 0.95, (signal, recall, result.truth_fix_signals)
    assert result.truth_blamed_incidents > 0
    assert result.blame_precision >= 0.95, result.blame_precision
    assert result.blame_recall >= 0.95, result.blame_recall
    assert result.recoveries_compared > 0
    assert result.recovery_mismatches.empty, result.recovery_mismatches.head(10).to_string()


# The public marts and their keys: what "identical marts, no duplicate keys" is checked on.
MART_KEYS = {
    "dim_teams": ["team"],
    "dim_services": ["service"],
    "fct_deployments": ["deployment_id"],
    "fct_commits": ["commit_sha", "service"],
    "fct_changes": ["change_id"],
    "fct_incidents": ["incident_id"],
    "dora_team_weekly": ["team", "week_start"],
    "dora_org_weekly": ["week_start"],
    "dora_rollup_daily": ["grouping", "group_value", "period_start"],
    "dora_rollup_weekly": ["grouping", "group_value", "period_start"],
    "dora_rollup_monthly": ["grouping", "group_value", "period_start"],
    "fct_change_outliers": ["change_id", "baseline_grouping", "baseline_group"],
    "fct_deployment_outliers": ["deployment_id", "measure", "baseline_grouping"],
    "team_weekly_anomalies": ["team", "week_start", "metric"],
    "team_suggestions": ["team", "period_start"],
    "fct_commit_promotions": ["service", "upstream_environment", "downstream_environment", "commit_sha"],
    "fct_promotions": ["deployment_id", "upstream_environment"],
    "drift_daily": ["service", "upstream_environment", "downstream_environment", "day"],
    "dora_levels": ["grouping", "group_value", "period_grain", "period_start", "report_year", "metric"],
    "dora_quickcheck_scores": ["team", "period_grain", "period_start", "metric"],
    # fct_assessments and assessment_section_scores are empty in an org without assessment files; their
    # keys are dbt tests (unique_combination_of_columns).
}


def snapshot_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    """Every public mart, sorted by its key, for comparing two publishes."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for name, key in MART_KEYS.items():
            frame = con.execute(f"select * from marts.{name}").df()
            out[name] = frame.sort_values(key).reset_index(drop=True)
        return out
    finally:
        con.close()
