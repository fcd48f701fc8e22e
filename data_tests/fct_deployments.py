"""Business-level expectations on `marts.fct_deployments`.

Keys and relationships are dbt tests; this suite holds what dbt tests say badly: ranges, cross-column rules
and "does this look like a plausible deployment history". It validates through GX's pandas path, because
GX's SQL path on DuckDB is broken in current releases (GX issues #10738, #11579): the mart is read with
DuckDB into a dataframe first (`load_fct_deployments`).

Each expectation has a severity. 'error' (GX `critical`) is kept for what would make the marts wrong:
duplicate keys, a broken contract, a non-canonical status, failure flags that contradict their signals
(incident, rollback, revert, hotfix, alert), recovery, detection and rework facts on deployments that did
not fail or were no production deployment, an unknown batch size class, impossible times and counts.
'warn' (GX `warning`) is for what ordinary real data shows and the marts handle: no rows yet, no
successful production deployment yet, deployments whose environment no rule matched, status words a
source does not document, an implausibly long restore or deploy pipeline. Only errors block the
publish; every outcome is recorded in `meta.check_results`.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Set before GX is imported: it reads these at import time. Validation runs inside the refresh and tests,
# where usage analytics and progress bars are noise.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

import duckdb  # noqa: E402
import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402

from data_tests.check_results import CheckResult  # noqa: E402
from data_tests.statuses import (  # noqa: E402
    BATCH_SIZE_CLASSES,
    CANONICAL_STATUSES,
    documented_source_statuses,
)

SUITE_NAME = "fct_deployments"

# The canonical deployment statuses, read from the seed the dbt mapping uses (data_tests/statuses.py).
KNOWN_STATUSES = CANONICAL_STATUSES

# A restore taking longer than this is far more likely a join or timestamp bug than a real outage.
MAX_TIME_TO_RESTORE_MINUTES = 90 * 24 * 60

# A deploy pipeline running longer than a day is more often a timestamp taken from the wrong event.
MAX_PIPELINE_DURATION_MINUTES = 24 * 60

# How a failed deployment recovered (docs/metrics.md, "Failure signals, recovery, time to detect and rework").
RECOVERY_KINDS = ("incident_resolved", "rollback", "fix_deployment")

# The failure signals besides incident and rollback, each with the flag fct_deployments sets for it.
OTHER_SIGNALS = {
    "has_revert_failure": "a revert of a change it shipped",
    "has_hotfix_failure": "a hotfix",
    "has_alert_failure": "a monitoring alert",
}

# No deployment API we read predates this; earlier timestamps are epoch/zero-date artefacts.
EARLIEST_DEPLOYED_AT = dt.datetime(2000, 1, 1)

# Tolerated clock skew between the source system and the machine validating.
FUTURE_SKEW = dt.timedelta(hours=1)

# Source systems whose status words the seed documents, as a person names them in a warning.
SOURCE_LABELS = {
    "github": "GitHub deployment statuses",
    "github_actions": "GitHub Actions run conclusions and statuses",
    "gitlab": "GitLab deployment statuses",
    "jenkins": "Jenkins build results",
}

# The lower-cased source_status the suite compares with the documented words (added before validating).
STATUS_KEY = "source_status_key"

ERROR = FailureSeverity.CRITICAL
WARN = FailureSeverity.WARNING

# Columns the suite reads; the full contract is checked by dbt's model contract.
REQUIRED_COLUMNS = (
    "deployment_id",
    "source_system",
    "status",
    "source_status",
    "is_production",
    "environment_rank",
    "deployed_at",
    "is_baseline",
    "is_failure",
    "has_incident_failure",
    "has_rollback_failure",
    "recovered_at",
    "time_to_restore_minutes",
    "commit_count",
    "pr_count",
    "has_revert_failure",
    "has_hotfix_failure",
    "has_alert_failure",
    "time_to_detect_minutes",
    "recovery_kind",
    "is_recovered",
    "is_rework",
    "batch_pr_count",
    "batch_author_count",
    "batch_lines_changed",
    "batch_size_class",
    "pipeline_duration_minutes",
)

# Counts and durations that cannot be negative (commit_count, pr_count and environment_rank have their own).
NOT_NEGATIVE = (
    "batch_pr_count",
    "batch_author_count",
    "batch_lines_changed",
    "pipeline_duration_minutes",
    "time_to_detect_minutes",
)


@dataclass(frozen=True)
class FailedExpectation:
    """One broken rule, phrased so a person reading a refresh log can act on it."""

    expectation_type: str
    column: str | None
    description: str
    details: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        return f"{self.description}{where}: {self.details}"


@dataclass(frozen=True)
class ValidationSummary:
    """The part of a GX result callers need, free of GX types so callers need not import GX.

    `success` is false only when an 'error' expectation failed; `failed` lists every failure, warnings
    included (each with its severity); `results` holds every expectation's outcome for meta.check_results.
    """

    success: bool
    statistics: dict[str, Any]
    failed: list[FailedExpectation] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)

    @property
    def errors(self) -> list[FailedExpectation]:
        return [failure for failure in self.failed if failure.severity == "error"]

    @property
    def warnings(self) -> list[FailedExpectation]:
        return [failure for failure in self.failed if failure.severity == "warn"]

    def describe(self) -> str:
        """A multi-line text for logs and Dagster check metadata."""
        if not self.failed:
            return f"all {self.statistics.get('evaluated_expectations', 0)} expectations passed"
        lines = [f"error: {failure}" for failure in self.errors]
        lines += [f"warn: {failure}" for failure in self.warnings]
        return "\n".join(lines)


def _successful_production() -> Any:
    return (Column("status") == "success") & (Column("is_production") == True)  # noqa: E712


def _ephemeral_context() -> Any:
    """A fresh in-memory context: nothing is written to disk, and concurrent callers share no state."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def build_suite(now: dt.datetime | None = None, context: Any | None = None) -> gx.ExpectationSuite:
    """The suite, built in code so it is reviewed and versioned like the models it guards.

    `now` (naive UTC) bounds "not in the future"; it defaults to the current time and is a parameter
    so tests are deterministic. GX binds suites to an active context, so one is made when none is given.
    """
    if context is None:
        _ephemeral_context()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    expectations = gx.expectations
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    rules = [
        # Warnings: what ordinary data shows, and the marts handle.
        expectations.ExpectTableRowCountToBeBetween(
            min_value=1,
            severity=WARN,
            description="fct_deployments has at least one row (none yet: no deploy rule or environment "
            "matched anything, or nothing was loaded)",
        ),
        expectations.ExpectTableRowCountToBeBetween(
            min_value=1,
            row_condition=_successful_production(),
            severity=WARN,
            description="there is at least one successful production deployment (none yet: deployment "
            "frequency, lead time and change failure rate stay empty)",
        ),
        expectations.ExpectColumnValuesToBeNull(
            column="source_environment",
            row_condition=Column("environment_rank").is_null(),
            severity=WARN,
            description="every deployment's environment matches a deploy rule or environment pattern (an "
            "unmatched name is kept as it is and is never production)",
        ),
        *(
            expectations.ExpectColumnValuesToBeInSet(
                column=STATUS_KEY,
                value_set=sorted(words),
                row_condition=Column("source_system") == source,
                severity=WARN,
                description=f"source_status is one of the documented {SOURCE_LABELS.get(source, source)} "
                "(an undocumented word reads as status 'other')",
            )
            for source, words in sorted(documented_source_statuses().items())
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="time_to_restore_minutes",
            max_value=MAX_TIME_TO_RESTORE_MINUTES,
            severity=WARN,
            description="time to restore is at most 90 days (longer is more often a join or timestamp bug "
            "than an outage)",
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="pipeline_duration_minutes",
            max_value=MAX_PIPELINE_DURATION_MINUTES,
            severity=WARN,
            description="a deploy pipeline takes at most a day (longer is more often a timestamp from the "
            "wrong event than a real pipeline)",
        ),
        # Errors: the marts would be wrong.
        expectations.ExpectTableColumnsToMatchSet(
            column_set=list(REQUIRED_COLUMNS),
            exact_match=False,
            description="fct_deployments has the columns the contract promises",
        ),
        expectations.ExpectColumnValuesToBeUnique(
            column="deployment_id",
            description="each deployment appears once (a duplicated row would double every count)",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=list(KNOWN_STATUSES),
            description="status is a canonical deployment status",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="is_failure",
            value_set=[False],
            row_condition=(Column("status") != "success") | (Column("is_production") == False),  # noqa: E712
            description="only successful production deployments can be change failures",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="is_failure",
            value_set=[True],
            row_condition=_successful_production() & (Column("has_incident_failure") == True),  # noqa: E712
            description="a production deployment blamed for an incident is a change failure",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="is_failure",
            value_set=[True],
            row_condition=_successful_production() & (Column("has_rollback_failure") == True),  # noqa: E712
            description="a production deployment undone by a rollback is a change failure",
        ),
        *(
            expectations.ExpectColumnValuesToBeInSet(
                column="is_failure",
                value_set=[True],
                row_condition=_successful_production() & (Column(flag) == True),  # noqa: E712
                description=f"a production deployment failed by {signal} is a change failure",
            )
            for flag, signal in OTHER_SIGNALS.items()
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="is_rework",
            value_set=[False],
            row_condition=(Column("status") != "success") | (Column("is_production") == False),  # noqa: E712
            description="only successful production deployments can be rework",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="recovery_kind",
            value_set=list(RECOVERY_KINDS),
            description="recovery_kind is incident_resolved, rollback or fix_deployment",
        ),
        *(
            expectations.ExpectColumnValuesToBeNull(
                column=column,
                row_condition=Column("is_failure") == False,  # noqa: E712
                description=f"only failed deployments have {what}",
            )
            for column, what in (
                ("recovery_kind", "a recovery kind"),
                ("is_recovered", "a recovered flag"),
                ("time_to_detect_minutes", "a time to detect"),
            )
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="batch_size_class",
            value_set=list(BATCH_SIZE_CLASSES),
            description="batch_size_class is a class of the batch_size_classes seed",
        ),
        expectations.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=["success"],
            row_condition=Column("is_baseline") == True,  # noqa: E712
            description="a baseline deployment is a successful one",
        ),
        expectations.ExpectColumnValuesToBeNull(
            column="time_to_restore_minutes",
            row_condition=Column("is_failure") == False,  # noqa: E712
            description="only failed deployments have a time to restore",
        ),
        expectations.ExpectColumnValuesToBeNull(
            column="recovered_at",
            row_condition=Column("is_failure") == False,  # noqa: E712
            description="only failed deployments have a recovery time",
        ),
        expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recovered_at",
            column_B="deployed_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="recovery happens at or after the deployment",
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="time_to_restore_minutes",
            min_value=0,
            description="time to restore is not negative",
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="deployed_at",
            min_value=EARLIEST_DEPLOYED_AT,
            max_value=now + FUTURE_SKEW,
            description="deployed_at is not before 2000 and not in the future",
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="commit_count", min_value=0, description="commit_count is not negative"
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="pr_count", min_value=0, description="pr_count is not negative"
        ),
        expectations.ExpectColumnValuesToBeBetween(
            column="environment_rank", min_value=0, description="environment_rank is not negative"
        ),
        *(
            expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, description=f"{column} is not negative"
            )
            for column in NOT_NEGATIVE
        ),
    ]
    for rule in rules:
        suite.add_expectation(rule)
    return suite


def _describe_result(result: Any) -> str:
    """Turn one GX result into a sentence: counts and a few offending values, or the error it raised."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return f"could not be evaluated: {info.get('exception_message')}"
    # Results of expectations that could not run carry their errors keyed by metric.
    nested = [value for value in info.values() if isinstance(value, dict) and value.get("raised_exception")]
    if nested:
        return f"could not be evaluated: {nested[0].get('exception_message')}"
    details = result.result or {}
    if "unexpected_count" in details:
        sample = ", ".join(str(value) for value in (details.get("partial_unexpected_list") or [])[:5])
        rows = details.get("partial_unexpected_index_list") or []
        text = f"{details['unexpected_count']} of {details.get('element_count')} rows break it"
        if sample:
            text += f" (e.g. {sample})"
        if rows:
            text += f"; row positions {list(rows)[:5]}"
        return text
    missing = ((details.get("details") or {}).get("mismatched") or {}).get("missing")
    if missing:
        return f"missing columns {sorted(missing)}"
    if "observed_value" in details:
        observed = details["observed_value"]
        if isinstance(observed, list):
            observed = sorted(str(value) for value in observed)
        return f"observed {observed}"
    return "failed"


def _with_status_key(df: pd.DataFrame) -> pd.DataFrame:
    """The frame plus source_status lower-cased and trimmed, as the dbt mapping compares it."""
    if "source_status" not in df.columns:
        return df
    key = df["source_status"].astype("string").str.strip().str.lower()
    return df.assign(**{STATUS_KEY: key.astype(object).where(key.notna(), None)})


def _severity(config: Any) -> str:
    severity = getattr(config, "severity", None)
    return "warn" if severity in (WARN, WARN.value) else "error"


def suite_columns(suite: gx.ExpectationSuite) -> set[str]:
    """Every column the suite reads: its expectations' columns, column sets and row conditions' columns."""
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            column = value.get("column")
            if isinstance(column, dict) and isinstance(column.get("name"), str):
                names.add(column["name"])
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    for expectation in suite.expectations:
        configuration = expectation.configuration
        kwargs = dict(configuration.kwargs or {})
        names.update(kwargs.get(key) for key in ("column", "column_A", "column_B") if kwargs.get(key))
        names.update(kwargs.get("column_set") or ())
        condition = kwargs.get("row_condition")
        visit(condition.dict() if hasattr(condition, "dict") else condition)
    return names


def _fit_for_validation(df: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """The columns the suite reads, in a form GX's pandas engine evaluates vectorised.

    GX filters every row condition with `DataFrame.query`, which copies every column of the matching rows,
    and hashes the whole frame for its batch id: columns the suite never reads only cost time. Its range
    check compares datetimes vectorised only at nanosecond precision (others go through a Python
    function per value, the same comparison), so a datetime column in microseconds is converted when every
    value fits the nanosecond range; one that does not (before 1677 or after 2262: a bad value the range
    check reports) stays as it is.
    """
    fitted = df[[column for column in df.columns if column in columns or column == "source_status"]]
    converted = {}
    for column in fitted.columns:
        series = fitted[column]
        if not pd.api.types.is_datetime64_dtype(series.dtype) or isinstance(series.dtype, pd.DatetimeTZDtype):
            continue
        if pd.api.types.is_datetime64_ns_dtype(series.dtype):
            continue
        present = series.dropna()
        if present.empty or (present.min() >= pd.Timestamp.min and present.max() <= pd.Timestamp.max):
            converted[column] = series.astype("datetime64[ns]")
    return _with_status_key(fitted.assign(**converted) if converted else fitted)


def validate_fct_deployments(df: pd.DataFrame, now: dt.datetime | None = None) -> ValidationSummary:
    """Validate a dataframe holding `marts.fct_deployments`, returning a summary instead of raising."""
    context = _ephemeral_context()
    suite = build_suite(now=now, context=context)
    source = context.data_sources.add_pandas(f"fct_deployments_{uuid.uuid4().hex[:8]}")
    batch_definition = source.add_dataframe_asset("fct_deployments").add_batch_definition_whole_dataframe(
        "whole"
    )
    frame = _fit_for_validation(df, suite_columns(suite))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite)

    failed = []
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        kwargs = config.kwargs or {}
        column = kwargs.get("column") or (
            f"{kwargs['column_A']}, {kwargs['column_B']}" if "column_A" in kwargs else None
        )
        description = config.description or config.type
        severity = _severity(config)
        details = "passed" if item.success else _describe_result(item)
        outcomes.append(
            CheckResult(
                check_name=f"gx {SUITE_NAME}: {description}",
                severity=severity,
                passed=bool(item.success),
                details=details,
            )
        )
        if not item.success:
            failed.append(
                FailedExpectation(
                    expectation_type=config.type,
                    column=column,
                    description=description,
                    details=details,
                    severity=severity,
                )
            )
    return ValidationSummary(
        success=not any(failure.severity == "error" for failure in failed),
        statistics=dict(result.statistics),
        failed=failed,
        results=outcomes,
    )


def load_fct_deployments(warehouse: str | Path, columns: set[str] | None = None) -> pd.DataFrame:
    """Read the mart (only `columns` of it, those it has, when given) with a short-lived read-only
    connection."""
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        selected = "*"
        if columns is not None:
            present = [
                name
                for (name,) in connection.execute(
                    "select column_name from information_schema.columns where table_schema = 'marts' "
                    "and table_name = 'fct_deployments' order by ordinal_position"
                ).fetchall()
                if name in columns
            ]
            selected = ", ".join(f'"{name}"' for name in present) or "*"
        return connection.execute(f"select {selected} from marts.fct_deployments").df()
    finally:
        connection.close()


def validate_warehouse(warehouse: str | Path, now: dt.datetime | None = None) -> ValidationSummary:
    """Validate the mart inside a DuckDB file: what the refresh's asset check calls."""
    needed = suite_columns(build_suite(now=now)) | {"source_status"}
    return validate_fct_deployments(load_fct_deployments(warehouse, needed), now=now)
