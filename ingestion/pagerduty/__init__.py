"""PagerDuty source: services and incidents (REST API v2)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from ingestion.cursors import Watermark
from ingestion.dates import iso_seconds, parse_ts, start_of
from ingestion.http import RetryPolicy, json_selector
from ingestion.quarantine import Contract, Quarantine, newest_wins, prepare, quarantine_resource

from .helpers import list_window, make_client, offset_paginator, windows
from .settings import DEFAULT_BACKFILL_DAYS, DEFAULT_BASE_URL, INCIDENT_LOOKBACK_DAYS


def _hint(data_type: str) -> dict[str, Any]:
    # a fresh dict per column: dlt writes the column name into the hint it is given
    return {"data_type": data_type, "nullable": True}


SERVICE_COLUMNS: dict[str, Any] = {
    "id": _hint("text"),
    "name": _hint("text"),
    "description": _hint("text"),
    "status": _hint("text"),
    "created_at": _hint("timestamp"),
    "teams": _hint("json"),
}
INCIDENT_COLUMNS: dict[str, Any] = {
    "id": _hint("text"),
    "incident_number": _hint("bigint"),
    "title": _hint("text"),
    "status": _hint("text"),
    "urgency": _hint("text"),
    "created_at": _hint("timestamp"),
    "updated_at": _hint("timestamp"),
    "resolved_at": _hint("timestamp"),
    "last_status_change_at": _hint("timestamp"),
    "acknowledged_at": _hint("timestamp"),
    "service__id": _hint("text"),
    "service__summary": _hint("text"),
    "priority__summary": _hint("text"),
    "acknowledgements": _hint("json"),
    "assignments": _hint("json"),
    "teams": _hint("json"),
}
# PagerDuty REST v2 enumerations (developer.pagerduty.com, API Reference: Incidents, Services).
INCIDENT_STATUSES = frozenset({"triggered", "acknowledged", "resolved"})
URGENCIES = frozenset({"high", "low"})
SERVICE_CONTRACT = Contract("services", key={"id": str}, times=("created_at",))
INCIDENT_CONTRACT = Contract(
    "incidents",
    key={"id": str},
    times=("created_at", "updated_at", "resolved_at", "last_status_change_at"),
    required_times=("created_at",),
    enums={"status": INCIDENT_STATUSES, "urgency": URGENCIES},
    version="updated_at",
)

# Incident fields too bulky or too volatile to keep (links, full escalation objects, alert bodies).
_DROP = frozenset(
    {"self", "first_trigger_log_entry", "escalation_policy", "pending_actions", "body", "alert_counts"}
)

# Service settings irrelevant to delivery analytics (alerting and paging configuration).
_SERVICE_DROP = frozenset(
    {
        "self",
        "integrations",
        "escalation_policy",
        "alert_grouping_parameters",
        "auto_pause_notifications_parameters",
        "incident_urgency_rule",
        "scheduled_actions",
        "support_hours",
        "response_play",
    }
)


def _ref(obj: Any) -> Any:
    """A PagerDuty reference object reduced to what identifies it."""
    if isinstance(obj, dict):
        return {k: obj.get(k) for k in ("id", "type", "summary") if k in obj}
    return obj


def _shape_incident(raw: dict) -> dict:
    # nulls are left out (a missing key loads as NULL) so dlt sees no untyped columns
    row = {k: v for k, v in raw.items() if k not in _DROP and v is not None}
    for key in ("service", "priority", "last_status_change_by", "escalation_policy", "conference_bridge"):
        if isinstance(row.get(key), dict):
            row[key] = _ref(row[key])
    acks = [
        {"at": ack.get("at"), "acknowledger": _ref(ack.get("acknowledger"))}
        for ack in raw.get("acknowledgements") or []
    ]
    row["acknowledgements"] = acks
    row["assignments"] = [
        {"at": a.get("at"), "assignee": _ref(a.get("assignee"))} for a in raw.get("assignments") or []
    ]
    row["teams"] = [_ref(team) for team in raw.get("teams") or []]
    # The first acknowledgement, when the API still shows it; an explicit field wins.
    if not row.get("acknowledged_at"):
        times = sorted(a["at"] for a in acks if a.get("at"))
        row["acknowledged_at"] = times[0] if times else None
    if not row.get("resolved_at") and raw.get("status") == "resolved":
        # Older payloads lack `resolved_at`; a resolved incident's last status change is its resolution.
        row["resolved_at"] = raw.get("last_status_change_at")
    return row


def _keep_acknowledgement(row: dict, acks: dict[str, str]) -> None:
    """PagerDuty clears `acknowledgements` when an incident resolves; remember the first acknowledgement
    of open incidents across runs so the resolved row keeps it."""
    incident_id = row.get("id")
    if row.get("acknowledged_at"):
        acks.setdefault(incident_id, row["acknowledged_at"])
        row["acknowledged_at"] = acks[incident_id]
    elif incident_id in acks:
        row["acknowledged_at"] = acks[incident_id]
    if row.get("status") == "resolved":
        acks.pop(incident_id, None)


def _shape_service(raw: dict) -> dict:
    row = {k: v for k, v in raw.items() if k not in _SERVICE_DROP and v is not None}
    row["escalation_policy_id"] = (raw.get("escalation_policy") or {}).get("id")
    row["teams"] = [_ref(team) for team in raw.get("teams") or []]
    return row


def services_resource(client: RESTClient, quarantine: Quarantine) -> DltResource:
    @dlt.resource(name="services", primary_key="id", write_disposition="merge", columns=SERVICE_COLUMNS)
    def services() -> Iterator[list[dict]]:
        for listed in client.paginate(
            "/services", paginator=offset_paginator(), data_selector=json_selector("services")
        ):
            page = yield from quarantine.screen(SERVICE_CONTRACT, listed, listing="services")
            rows = [_shape_service(raw) for raw in page]
            if rows:
                yield rows

    return services


def _first_read_start(start_date: str | None) -> datetime:
    """Where the first run reads from: the configured start, else the default backfill before now."""
    return start_of(start_date) or datetime.now(UTC) - timedelta(days=DEFAULT_BACKFILL_DAYS)


def incidents_resource(
    client: RESTClient,
    quarantine: Quarantine,
    start_date: str | None,
    end_date: str | None,
    lookback_days: float,
) -> DltResource:
    @dlt.resource(
        name="incidents",
        primary_key="id",
        write_disposition="merge",
        columns=newest_wins(INCIDENT_COLUMNS, "updated_at"),
    )
    def incidents() -> Iterator[list[dict]]:
        state = dlt.current.resource_state("incidents")
        # one cursor for the account (incidents are listed account-wide): the newest creation time read
        cursor = Watermark(state, "created_at")
        until = parse_ts(end_date) if end_date else datetime.now(UTC) + timedelta(days=1)
        since = cursor.since(lookback_days, clamp=False) or _first_read_start(start_date)
        acks = state.setdefault("open_acknowledgements", {})
        for low, high in windows(since, until):
            for listed in list_window(client, "/incidents", "incidents", low, high, {}):
                page = yield from quarantine.screen(INCIDENT_CONTRACT, listed, listing=iso_seconds(low))
                rows = [_shape_incident(raw) for raw in page]
                for row in rows:
                    _keep_acknowledgement(row, acks)
                    cursor.see(parse_ts(row.get("created_at")))
                if rows:
                    yield rows
        cursor.save()

    return incidents


@dlt.source(name="pagerduty")
def pagerduty_source(
    base_url: str = DEFAULT_BASE_URL,
    token: str = dlt.secrets.value,
    start_date: str | None = None,
    end_date: str | None = None,
    max_retries: int = 5,
    max_retry_wait_seconds: float = 60.0,
    backoff_factor: float = 1.0,
    request_timeout_seconds: float = 60.0,
    incident_lookback_days: float = INCIDENT_LOOKBACK_DAYS,
) -> Sequence[DltResource]:
    """Load PagerDuty services and incidents.

    The first run reads incidents created since `start_date` (ISO date; 90 days back when absent); later
    runs re-read the last `incident_lookback_days` before the newest incident loaded, so incidents
    acknowledged or resolved since are updated in place (merge on id). `end_date` bounds the reading
    (defaults to a day past the wall clock, which tolerates clock skew with the server).
    """
    client = make_client(
        base_url,
        token,
        RetryPolicy(max_retries, backoff_factor, max_retry_wait_seconds, request_timeout_seconds),
    )
    quarantine = Quarantine("pagerduty")
    resources = (
        services_resource(client, quarantine),
        incidents_resource(client, quarantine, start_date, end_date, incident_lookback_days),
        quarantine_resource(),
    )
    prepare(resources)
    return resources
