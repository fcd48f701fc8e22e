"""`fourkeys_ratio`: the four keys the Four Keys way (benchmarks/fourkeys.sql) beside our `dora_team_weekly`.

Prints the time ratio — Four Keys' query on the staging views ÷ the dbt models between staging and
`dora_team_weekly` (their execution times in the benchmark refresh's run_results.json) — and, per metric,
how many team-weeks disagree and why, from counts that show each reason in the data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb

SQL = Path(__file__).with_name("fourkeys.sql")
METRICS = {
    # metric: (ours, theirs, tolerance)
    "deployments": ("deployments", "deployments", 0),
    "change failure rate": ("change_failure_rate", "change_failure_rate", 1e-9),
    "lead time (median)": ("lead_time_median_minutes", "lead_time_median_minutes", 1.0),
    "time to restore (median)": ("time_to_restore_median_minutes", "time_to_restore_median_minutes", 1.0),
}


def ours_seconds(dbt_target: Path, model: str = "dora_team_weekly") -> float | None:
    """Execution seconds of `model` and the models upstream of it (not the staging views' sources)."""
    try:
        manifest = json.loads((dbt_target / "manifest.json").read_text())
        results = json.loads((dbt_target / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None
    node = next(
        (key for key in manifest["nodes"] if key.startswith("model.") and key.endswith(f".{model}")), None
    )
    if node is None:
        return None
    upstream, todo = set(), [node]
    while todo:
        current = todo.pop()
        if current in upstream:
            continue
        upstream.add(current)
        todo.extend(manifest.get("parent_map", {}).get(current, []))
    return sum(
        float(result.get("execution_time") or 0)
        for result in results
        if result["unique_id"] in upstream and result["unique_id"].startswith(("model.", "seed."))
    )


def _differs(ours, theirs, tolerance: float) -> bool:
    if ours is None and theirs is None:
        return False
    if ours is None or theirs is None:
        return True
    return abs(float(ours) - float(theirs)) > tolerance


def _reasons(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """One line per metric: counts in the data behind each way the two methods part."""

    def one(sql: str) -> int:
        return con.execute(sql).fetchone()[0] or 0

    statuses = one("select count(*) from staging.stg_github__deployment_statuses where state = 'success'")
    production = one(
        """
        select count(*)
        from staging.stg_github__deployment_statuses as statuses
        inner join staging.stg_github__deployments as deployments using (repository, deployment_id)
        where statuses.state = 'success'
          and deployments.environment in (
              select distinct source_environment from marts.fct_deployments where is_production
          )
        """
    )
    ours_production = one(
        "select count(*) from marts.fct_deployments where is_production and not is_baseline"
    )
    other_systems = one(
        "select count(*) from marts.fct_deployments where is_production and source_system <> 'github'"
    )
    incidents = one("select count(*) from staging.stg_pagerduty__incidents")
    named = one(
        "select count(*) from staging.stg_pagerduty__incidents"
        " where regexp_matches(title, 'root cause: [[:alnum:]]+')"
    )
    blamed = one("select count(*) from marts.fct_incidents where deployment_id is not null")
    return {
        "deployments": (
            f"Four Keys counts every successful deployment status ({statuses:,}, of which {production:,} in "
            f"production environments) with no environment mapping and no baseline; we count "
            f"{ours_production:,} production deployments ({other_systems:,} of them outside GitHub "
            "deployments: tags, Actions runs, GitLab, Jenkins, which its GitHub query does not read)"
        ),
        "change failure rate": (
            f"Four Keys needs each incident to name its cause (`root cause: <sha>`): {named:,} of "
            f"{incidents:,} incidents do, so its rate stays 0 where we blame {blamed:,} incidents on the "
            "deployment before them (and count rollbacks)"
        ),
        "lead time (median)": (
            "Four Keys takes the deployed push's commit list only (a pull request's own commits) and counts "
            "staging deployments; we take every commit first shipped to production by the deployment, from "
            "its first commit time"
        ),
        "time to restore (median)": (
            "Four Keys measures incident created→resolved in the week the incident opened, every incident; "
            "we measure a failed production deployment to its recovery, in the deployment's week"
        ),
    }


def fourkeys_comparison(warehouse: Path, dbt_target: Path, result_name: str) -> dict[str, dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        started = time.perf_counter()
        theirs = con.execute(SQL.read_text()).fetchall()
        theirs_s = time.perf_counter() - started
        columns = ["team", "week_start", *[spec[1] for spec in METRICS.values()]]
        theirs_rows = {(row[0], row[1]): dict(zip(columns, row, strict=True)) for row in theirs}
        cursor = con.execute(
            "select team, week_start, "
            + ", ".join(spec[0] for spec in METRICS.values())
            + " from marts.dora_team_weekly"
        )
        ours_rows = {
            (row[0], row[1]): dict(
                zip(["team", "week_start", *[s[0] for s in METRICS.values()]], row, strict=True)
            )
            for row in cursor.fetchall()
        }
        reasons = _reasons(con)
    finally:
        con.close()
    ours_s = ours_seconds(dbt_target)
    keys = sorted(set(theirs_rows) | set(ours_rows), key=repr)
    print(
        f"  Four Keys' query: {theirs_s:.2f} s; our models up to dora_team_weekly: "
        + (f"{ours_s:.2f} s" if ours_s is not None else "unknown (no run_results.json)")
    )
    print(f"  {len(keys)} team-weeks ({len(ours_rows)} ours, {len(theirs_rows)} Four Keys')")
    for metric, (ours_col, theirs_col, tolerance) in METRICS.items():
        differ = sum(
            _differs(
                (ours_rows.get(key) or {}).get(ours_col, 0 if metric == "deployments" else None),
                (theirs_rows.get(key) or {}).get(theirs_col, 0 if metric == "deployments" else None),
                tolerance,
            )
            for key in keys
        )
        print(f"  {metric:<26} {differ:>5} of {len(keys)} team-weeks disagree: {reasons[metric]}")
    if not ours_s:
        return {}
    return {result_name: {"value": round(theirs_s / ours_s, 3), "unit": "x"}}
