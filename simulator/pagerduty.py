"""PagerDuty REST v2 object shapes (incidents, services), rendered as of a moment.

References carry PagerDuty's `{id, type, summary, self, html_url}` form; an incident's status,
acknowledgements and `resolved_at` reflect only what had happened by the emulator's "now".
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import Any

from simulator.clock import iso
from simulator.world import Incident, PagerDutyService, World

HTML = "https://acme.pagerduty.com"


class PagerDutyRenderer:
    """Builds PagerDuty JSON objects whose `self` links point back at the emulator."""

    def __init__(self, world: World, api: str):
        self.world = world
        self.api = api.rstrip("/")
        # each PagerDuty service's incident creation times, in order: its last incident by a bisection
        self._created: dict[str, list[datetime]] = {}
        for inc in world.incidents:
            self._created.setdefault(inc.pd_service_id, []).append(inc.created_at)
        for times in self._created.values():
            times.sort()

    def _ref(self, kind: str, ident: str, summary: str, path: str, html_path: str) -> dict[str, Any]:
        return {
            "id": ident,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": f"{self.api}/{path}/{ident}",
            "html_url": f"{HTML}/{html_path}/{ident}",
        }

    def user_ref(self, login: str, pd_id: str) -> dict[str, Any]:
        name = self.world.developers[login].name
        return self._ref("user", pd_id, name, "users", "users")

    def escalation_policy_ref(self, svc: PagerDutyService) -> dict[str, Any]:
        return self._ref(
            "escalation_policy",
            self.world.escalation_policy_id,
            f"{svc.team.title()} on-call",
            "escalation_policies",
            "escalation_policies",
        )

    def service(self, svc: PagerDutyService, now: datetime) -> dict[str, Any]:
        created = self._created.get(svc.pd_service_id, [])
        last = created[: bisect_right(created, now)]
        return {
            "id": svc.pd_service_id,
            "type": "service",
            "summary": svc.name,
            "self": f"{self.api}/services/{svc.pd_service_id}",
            "html_url": f"{HTML}/service-directory/{svc.pd_service_id}",
            "name": svc.name,
            "description": f"Alerts for {svc.name}, owned by the {svc.team} team",
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 1800,
            "created_at": iso(svc.created_at),
            "updated_at": iso(svc.created_at),
            "status": "active",
            "last_incident_timestamp": iso(last[-1]) if last else None,
            "escalation_policy": self.escalation_policy_ref(svc),
            "response_play": None,
            "teams": [self._ref("team", "T" + svc.pd_service_id[1:], svc.team, "teams", "teams")],
            "integrations": [],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "support_hours": None,
            "scheduled_actions": [],
            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": {"type": None},
            "auto_pause_notifications_parameters": {"enabled": False, "timeout": None},
        }

    def incident(self, inc: Incident, svc: PagerDutyService, now: datetime) -> dict[str, Any]:
        acked = inc.acknowledged_at is not None and inc.acknowledged_at <= now
        resolved = inc.resolved_at is not None and inc.resolved_at <= now
        if resolved:
            status, last_change = "resolved", inc.resolved_at
        elif acked:
            status, last_change = "acknowledged", inc.acknowledged_at
        else:
            status, last_change = "triggered", inc.created_at
        responder = self.user_ref(inc.responder.login, inc.responder_pd_id)
        service_ref = self._ref("service", svc.pd_service_id, svc.name, "services", "service-directory")
        return {
            "id": inc.incident_id,
            "type": "incident",
            "summary": f"[#{inc.number}] {inc.title}",
            "self": f"{self.api}/incidents/{inc.incident_id}",
            "html_url": f"{HTML}/incidents/{inc.incident_id}",
            "incident_number": inc.number,
            "title": inc.title,
            "description": inc.title,
            "created_at": iso(inc.created_at),
            "updated_at": iso(last_change),
            "status": status,
            "incident_key": f"{svc.key}-{inc.number}",
            "service": service_ref,
            "assignments": [] if resolved else [{"at": iso(inc.created_at), "assignee": responder}],
            "assigned_via": "escalation_policy",
            "last_status_change_at": iso(last_change),
            "resolved_at": iso(inc.resolved_at) if resolved else None,
            "first_trigger_log_entry": self._ref(
                "trigger_log_entry",
                "R" + inc.incident_id[1:],
                "Triggered through the API",
                "log_entries",
                f"incidents/{inc.incident_id}/log_entries",
            ),
            "alert_counts": {"all": 1, "triggered": 0 if resolved else 1, "resolved": 1 if resolved else 0},
            "is_mergeable": True,
            "escalation_policy": self.escalation_policy_ref(svc),
            "teams": [],
            "pending_actions": [],
            "acknowledgements": [{"at": iso(inc.acknowledged_at), "acknowledger": responder}]
            if acked and not resolved
            else [],
            "basic_alert_grouping": None,
            "alert_grouping": None,
            "last_status_change_by": responder if (acked or resolved) else service_ref,
            "priority": None,
            "resolve_reason": None,
            "incidents_responders": [],
            "responder_requests": [],
            "subscriber_requests": [],
            "urgency": inc.urgency,
        }
