"""The last lines of a refresh: what failed, what warned, what is stale, and what to do about it.

Dagster reports a failing step as `DagsterExecutionStepExecutionError: Error occurred while executing op
"load_github"` with the real reason several causes down, in a traceback. A person at the terminal needs the
reason and the fix in one line each; the traceback only when asked (`--verbose` or DEPLOYLENS_DEBUG=1).
Health tables other steps write (`meta.check_results`, `meta.source_loads`, docs/architecture.md) are read
for the run when they exist.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

# Exit codes of `deploylens refresh` (README, docs/architecture.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_STALE = 3

DEBUG_ENV = "DEPLOYLENS_DEBUG"


def debug_requested() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class RefreshReport:
    run_id: str
    failures: list[str] = field(default_factory=list)  # one line each: what failed and what to do
    warnings: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    budget: list[str] = field(default_factory=list)  # what each API source spent of its rate budget

    @property
    def exit_code(self) -> int:
        if self.failures:
            return EXIT_FAILED
        return EXIT_STALE if self.stale else EXIT_OK

    def lines(self, verbose: bool = False) -> list[str]:
        """The report, last lines last: tracebacks (only when asked) come before the summary."""
        out = list(self.tracebacks) if verbose else []
        if self.failures:
            out.append(f"refresh failed (run {self.run_id}); the warehouse keeps its last publish:")
            out += [f"  - {line}" for line in self.failures]
        for line in self.stale:
            out.append(f"stale: {line}")
        for line in self.warnings:
            out.append(f"warning: {line}")
        if self.failures and not verbose:
            out.append(
                f"  (traceback: rerun with --verbose or {DEBUG_ENV}=1; every event: the Dagster run "
                f"{self.run_id} in the UI)"
            )
        out += self.budget
        return out


# ----------------------------------------------------------------------------------------------- errors
def _chain(error: Any) -> list[Any]:
    """The error and its causes (SerializableErrorInfo: `cause`, then `context`), outermost first."""
    out, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        out.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return out


def _token_hint(config_path: Path | None, source: str) -> str:
    """Where the token of `source` comes from, as the configuration file says (never the token)."""
    try:
        spec = (yaml.safe_load(Path(config_path).read_text()) or {})["sources"][source]
    except Exception:  # noqa: BLE001 - a hint only
        return "the configured token"
    if spec.get("token_env"):
        return str(spec["token_env"])
    return f"sources.{source}.token in {Path(config_path).name}"


def _first_line(message: str) -> str:
    """The first line of an error message, without the `package.module.ErrorClass: ` prefix."""
    text = (message or "").strip()
    if not text:
        return ""
    return re.sub(r"^[A-Za-z_][\w.]*(Error|Exception|Exhausted|Failed): ", "", text.splitlines()[0])


def explain_step_error(step_key: str, error: Any, config_path: Path | None = None) -> str:
    """One line: what went wrong in a step and what to do, from the innermost error we recognise."""
    source = step_key.removeprefix("load_") if step_key.startswith("load_") else None
    chain = _chain(error)
    names = [getattr(e, "cls_name", "") for e in chain]
    who = source or step_key

    def find(*cls: str) -> Any:
        return next((e for e in chain if getattr(e, "cls_name", "") in cls), None)

    if found := find("ApiAuthError"):
        hint = _token_hint(config_path, source) if source else "the configured token"
        return f"{who}: the token was rejected (401) — check {hint}. ({_first_line(found.message)})"
    if found := find("RetryBudgetExhausted"):
        return (
            f"{who}: {_first_line(found.message)} — the API kept throttling or failing (rate limit or "
            "an unhealthy endpoint); rerun later, or check the API's status and rate limits"
        )
    if found := find("ApiError"):
        message = _first_line(found.message)
        if re.search(r"status 404\b", message):
            return (
                f"{who}: endpoint missing (404): {message} — check base_url and the organisation, "
                "repository or service names in the configuration"
            )
        if re.search(r"status 403\b", message):
            return f"{who}: access denied (403): {message} — the token lacks a permission it needs"
        return f"{who}: {message}"
    inner = chain[-1] if chain else None
    if step_key == "transform" or "DagsterDbtCliRuntimeError" in names:
        reason = _first_line(inner.message) if inner is not None else ""
        return f"{step_key}: dbt build failed" + (f" ({reason})" if reason else "")
    if inner is None:
        return f"{step_key} failed"
    return f"{who}: {getattr(inner, 'cls_name', 'error')}: {_first_line(inner.message)}"


def dbt_failures(target: Path) -> list[str]:
    """The dbt models and tests that errored or failed in the last build (its run_results.json)."""
    try:
        results = json.loads((target / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    out = []
    for result in results:
        if result.get("status") not in ("error", "fail", "runtime error"):
            continue
        unique_id = result.get("unique_id", "?")
        parts = unique_id.split(".")  # kind.package.name[.hash]
        kind, name = parts[0], parts[2] if len(parts) > 2 else unique_id
        message = _first_line(result.get("message") or "")
        out.append(f"dbt {kind} {name} {result['status']}" + (f": {message}" if message else ""))
    return out


# ------------------------------------------------------------------------------------------ meta tables
def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'meta'"
        ).fetchall()
    }


def read_health(databases: list[Path], run_id: str) -> tuple[list[tuple], list[tuple]] | None:
    """(failed checks, failed source loads) of `run_id` from the first database that opens; None if none.

    Rows: (check_name, severity, details) and (source, error). Tables missing in a database read as empty.
    """
    for database in databases:
        if not database.exists():
            continue
        try:
            con = duckdb.connect(str(database), read_only=True)
        except duckdb.Error:
            continue  # a writer holds it, or it is not a database: try the next one
        try:
            tables = _tables(con)
            checks = loads = []
            if "check_results" in tables:
                checks = con.execute(
                    """
                    select check_name, severity, details
                    from meta.check_results
                    where run_id = ? and not passed and severity in ('warn', 'error')
                    order by severity, check_name
                    """,
                    [run_id],
                ).fetchall()
            if "source_loads" in tables:
                loads = con.execute(
                    """
                    select source, error
                    from meta.source_loads
                    where run_id = ? and status = 'failed'
                    order by source
                    """,
                    [run_id],
                ).fetchall()
            return checks, loads
        except duckdb.Error:
            continue
        finally:
            con.close()
    return None


def read_budget(databases: list[Path], run_id: str) -> list[tuple]:
    """(source, requests, points, remaining, reset_at) of the loads of `run_id` that counted their API
    requests, from the first database holding them; empty when none did."""
    for database in databases:
        if not database.exists():
            continue
        try:
            con = duckdb.connect(str(database), read_only=True)
        except duckdb.Error:
            continue
        try:
            columns = {
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'meta' and table_name = 'source_loads'"
                ).fetchall()
            }
            if "api_requests" not in columns:
                continue
            return con.execute(
                """
                select source, api_requests, api_points, api_rate_remaining, api_rate_reset_at
                from meta.source_loads
                where run_id = ? and api_requests is not null
                order by source
                """,
                [run_id],
            ).fetchall()
        except duckdb.Error:
            continue
        finally:
            con.close()
    return []


def budget_lines(rows: list[tuple]) -> list[str]:
    """One line per source: `github: 812 requests, 9,340 GraphQL points (rate limit 4,188 left, resets
    16:04 UTC)`; points only when the source spent any."""
    out = []
    for source, requests, points, remaining, reset_at in rows:
        line = f"{source}: {requests:,} request{'s' if requests != 1 else ''}"
        if points:
            line += f", {points:,} GraphQL points"
        if remaining is not None and reset_at is not None:
            line += f" (rate limit {remaining:,} left, resets {reset_at:%H:%M} UTC)"
        out.append(line)
    return out


def _stale_advice(source: str, error: str, config_path: Path | None) -> str:
    """What to do about a source that went stale, from its recorded (token-free) error."""
    if re.search(r"token was rejected|\b401\b", error):
        return f" — the token was rejected: check {_token_hint(config_path, source)}"
    if re.search(r"status 404\b", error):
        return " — endpoint missing: check base_url and the names in the configuration"
    if re.search(r"status 403\b", error):
        return " — access denied: the token lacks a permission it needs"
    if "gave up after" in error:
        return " — the API kept throttling or failing: the next refresh tries again"
    return ""


def add_check_evaluations(report: RefreshReport, evaluations: Any) -> None:
    """Dagster's asset check evaluations that did not pass: a blocking one fails the refresh, a warning warns.

    A dbt data test is named as the run's health names it (`dbt test <name>`, read by `add_health` after
    this), so it is reported once, with its failing row count rather than dagster-dbt's metadata."""
    for evaluation in evaluations:
        if evaluation.passed:
            continue
        metadata = {key: getattr(value, "value", value) for key, value in evaluation.metadata.items()}
        name = evaluation.check_name
        if str(metadata.get("unique_id", "")).startswith("test."):
            name = f"dbt test {name}"
        detail = metadata.pop("result", None)
        if detail is None and "dagster_dbt/failed_row_count" in metadata:
            count = metadata["dagster_dbt/failed_row_count"]
            detail = f"{count} failing row" + ("" if count == 1 else "s")
        detail = detail if detail is not None else metadata
        if getattr(evaluation.severity, "value", "ERROR") == "WARN":  # a non-blocking check
            report.warnings.append(f"check {name} warned: {detail}")
        else:
            report.failures.append(f"check {name} failed: {detail}")


# dbt's own message for a failed test: only the count, which Dagster's evaluation line already gives.
_DBT_COUNT_ONLY = re.compile(r"^(?:(?:fail|warn|error): )?Got \d+ results?, configured to ")


def add_health(
    report: RefreshReport,
    health: tuple[list[tuple], list[tuple]] | None,
    config_path: Path | None = None,
) -> None:
    """Failed 'error' checks fail the refresh; failed 'warn' checks warn; failed loads are stale sources."""
    if health is None:
        return
    checks, loads = health
    for name, severity, details in checks:
        line = f"check {name} failed" + (f": {_first_line(details)}" if details else "")
        lines, prefix = (report.failures, "failed") if severity == "error" else (report.warnings, "warned")
        line = line.replace(" failed", f" {prefix}", 1)
        reported = [i for i, text in enumerate(lines) if text.startswith(f"check {name} {prefix}")]
        if not reported:
            lines.append(line)
        elif details and not _DBT_COUNT_ONLY.match(details):
            # Dagster's evaluation gave the failing row count; the recorded details say more (which
            # columns are null): one line still, with them.
            lines[reported[0]] = f"check {name} {prefix}: " + re.sub(
                r"^(fail|warn): ", "", _first_line(details)
            )
    for source, error in loads:
        report.stale.append(
            f"{source} did not load this time ({_first_line(error) or 'no reason recorded'}); "
            "the warehouse keeps its previous data for it" + _stale_advice(source, error or "", config_path)
        )
