"""The organisation's own configuration (teams, services, environments, settings) as raw tables.

Models join source data to what the platform lead declared (which repository is which service, which
environment is production); loading the declaration alongside the data keeps that join in SQL. The
tables are replaced on every run: the file is the truth. Tokens and other secrets never reach here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.patterns import path_pattern_regex

from .settings import (
    DEFAULT_BENCHMARKS,
    DEFAULT_HOTFIX_PATTERNS,
    DEFAULT_INCIDENT_WINDOW_HOURS,
    DEFAULT_WORKFLOW_EVENTS,
    DEPLOY_RULE_KINDS,
    FAILURE_SIGNALS,
    SERVICE_TEXT_DIMENSIONS,
    TEAM_DIMENSIONS,
)


def _team_rows(teams: list[dict]) -> list[dict]:
    return [
        {
            "team": t.get("team", t.get("name")),
            "description": t.get("description"),
            **{key: t.get(key) for key in TEAM_DIMENSIONS},
        }
        for t in teams
    ]


def _labels(service: dict) -> list[str]:
    labels = service.get("labels") or []
    return sorted({str(label) for label in ([labels] if isinstance(labels, str) else labels)})


def _service_rows(services: list[dict]) -> list[dict]:
    return [
        {
            "service": s.get("service", s.get("name")),
            "team": s.get("team"),
            "repository": s.get("repository"),
            **{key: None if s.get(key) is None else str(s[key]) for key in SERVICE_TEXT_DIMENSIONS},
            "labels": _labels(s),
        }
        for s in services
    ]


def _service_pagerduty_rows(services: list[dict]) -> list[dict]:
    return [
        {"service": s.get("service", s.get("name")), "pd_service_id": pd_id}
        for s in services
        for pd_id in s.get("pagerduty_services") or []
    ]


def service_path_rows(services: list[dict]) -> list[dict]:
    """One row per path pattern of a service that owns part of its repository (`paths:`), with the
    anchored regular expression the models match file paths with."""
    return [
        {
            "service": s.get("service", s.get("name")),
            "path_index": index,
            "path_pattern": pattern,
            "path_regex": path_pattern_regex(pattern),
        }
        for s in services
        for index, pattern in enumerate(s.get("paths") or [])
    ]


def _environment_rows(environments: list[dict]) -> list[dict]:
    rows = []
    for rank, env in enumerate(environments):
        name = env.get("environment", env.get("name"))
        rows.append(
            {
                "environment": name,
                "environment_rank": env.get("environment_rank", rank),
                "match_pattern": env.get("match_pattern", env.get("match")),
                "is_production": bool(env.get("is_production", env.get("production", False))),
            }
        )
    return rows


def _workflow_filters(rule: dict) -> dict[str, Any]:
    """A workflow rule's run filters: the events it counts (lower case; default pushes and dispatches)
    and whether runs whose head repository is a fork count. None for the other kinds."""
    if rule["kind"] != "workflow":
        return {"events": None, "include_forks": None}
    events = rule.get("events")
    if isinstance(events, str):
        events = [events]
    return {
        "events": [e.lower() for e in events] if events else list(DEFAULT_WORKFLOW_EVENTS),
        "include_forks": bool(rule.get("include_forks")),
    }


def deploy_rule_rows(services: list[dict], environments: list[dict]) -> list[dict]:
    """One row per deploy rule of each service. A service without rules gets the default: its GitHub
    deployments mapped by the environments' own patterns, in environment order (the behaviour before
    rules existed), so models treat every service alike."""
    envs = _environment_rows(environments)
    rows = []
    for svc in services:
        service = svc.get("service", svc.get("name"))
        rules = svc.get("deploy_rules")
        if rules is None:
            rules = [
                {
                    "environment": rule.get("environment"),
                    "kind": kind,
                    "pattern": rule[kind],
                    "branch_pattern": rule.get("branch"),
                    "events": rule.get("events"),
                    "include_forks": rule.get("forks"),
                }
                for rule in svc.get("deployments") or []
                for kind in DEPLOY_RULE_KINDS
                if kind in rule
            ]
        if rules:
            rows += [
                {
                    "service": service,
                    "rule_index": index,
                    "kind": rule["kind"],
                    "environment": rule["environment"],
                    "pattern": rule["pattern"],
                    "branch_pattern": rule.get("branch_pattern"),
                    **_workflow_filters(rule),
                    "is_default": False,
                }
                for index, rule in enumerate(rules)
            ]
        else:
            rows += [
                {
                    "service": service,
                    "rule_index": env["environment_rank"],
                    "kind": "github_environment",
                    "environment": env["environment"],
                    "pattern": env["match_pattern"],
                    "branch_pattern": None,
                    "events": None,
                    "include_forks": None,
                    "is_default": True,
                }
                for env in envs
            ]
    return rows


def _settings_row(settings: dict) -> dict[str, Any]:
    """The one settings row: the incident window, and the failure signals (ingestion/config.py validates
    them; a settings dict without them gets every signal on, the default patterns, the incident window)."""
    window = settings.get("incident_window_hours")
    if window is None:
        window = (settings.get("failure") or {}).get("incident_window_hours", DEFAULT_INCIDENT_WINDOW_HOURS)
    row: dict[str, Any] = {
        "incident_window_hours": float(window),
        "failure_window_hours": float(settings.get("failure_window_hours", window)),
    }
    for signal in FAILURE_SIGNALS:
        row[f"{signal}_signal_enabled"] = bool(settings.get(f"{signal}_signal_enabled", True))
    for key, default in DEFAULT_HOTFIX_PATTERNS.items():
        row[f"hotfix_{key}_pattern"] = settings.get(f"hotfix_{key}_pattern", default)
    row["bot_logins"] = list(settings.get("bot_logins") or [])
    return row


SETTINGS_COLUMNS: dict[str, Any] = {
    "incident_window_hours": {"data_type": "double"},
    "failure_window_hours": {"data_type": "double"},
    **{f"{signal}_signal_enabled": {"data_type": "bool"} for signal in FAILURE_SIGNALS},
    **{f"hotfix_{key}_pattern": {"data_type": "text"} for key in DEFAULT_HOTFIX_PATTERNS},
    # the configured `bots:` logins, lower-cased; a list kept in one column (json)
    "bot_logins": {"data_type": "json", "nullable": True},
}


@dlt.source(name="org_config")
def org_config_source(
    teams: list[dict],
    services: list[dict],
    environments: list[dict],
    settings: dict,
    benchmarks: dict | None = None,
) -> Sequence[DltResource]:
    """Tables of the validated configuration. Accepts validated rows (`team`, `service`, ...) or the
    file's own spelling (`name`, `match`, `production`) so it can be fed either. `benchmarks`: the
    validated `benchmarks:` block (the defaults when None)."""
    chosen = {**DEFAULT_BENCHMARKS, **(benchmarks or {})}
    tables: dict[str, tuple[list[dict], dict[str, Any]]] = {
        "teams": (
            _team_rows(teams),
            {
                "team": {"data_type": "text", "nullable": True},
                "description": {"data_type": "text", "nullable": True},
                **{key: {"data_type": "text", "nullable": True} for key in TEAM_DIMENSIONS},
            },
        ),
        "services": (
            _service_rows(services),
            {
                "service": {"data_type": "text", "nullable": True},
                "team": {"data_type": "text", "nullable": True},
                "repository": {"data_type": "text", "nullable": True},
                **{key: {"data_type": "text", "nullable": True} for key in SERVICE_TEXT_DIMENSIONS},
                # a list kept in one column (json); [] for a service without labels
                "labels": {"data_type": "json", "nullable": True},
            },
        ),
        "service_pagerduty": (
            _service_pagerduty_rows(services),
            {
                "service": {"data_type": "text", "nullable": True},
                "pd_service_id": {"data_type": "text", "nullable": True},
            },
        ),
        "service_paths": (
            service_path_rows(services),
            {
                "service": {"data_type": "text", "nullable": True},
                "path_index": {"data_type": "bigint"},
                "path_pattern": {"data_type": "text", "nullable": True},
                "path_regex": {"data_type": "text", "nullable": True},
            },
        ),
        "environments": (
            _environment_rows(environments),
            {
                "environment": {"data_type": "text", "nullable": True},
                "environment_rank": {"data_type": "bigint"},
                "match_pattern": {"data_type": "text", "nullable": True},
                "is_production": {"data_type": "bool"},
            },
        ),
        "deploy_rules": (
            deploy_rule_rows(services, environments),
            {
                "service": {"data_type": "text", "nullable": True},
                "rule_index": {"data_type": "bigint"},
                "kind": {"data_type": "text", "nullable": True},
                "environment": {"data_type": "text", "nullable": True},
                "pattern": {"data_type": "text", "nullable": True},
                "branch_pattern": {"data_type": "text", "nullable": True},
                # a list kept in one column (json): the rule's row stays one row
                "events": {"data_type": "json", "nullable": True},
                "include_forks": {"data_type": "bool", "nullable": True},
                "is_default": {"data_type": "bool"},
            },
        ),
        "settings": ([_settings_row(settings)], SETTINGS_COLUMNS),
    }

    # Which DORA Quick Check edition and segments the scores compare with (never the folder's path).
    tables["benchmarks"] = (
        [
            {
                "edition": int(chosen["edition"]),
                "industry": chosen["industry"],
                "organization_size": chosen["organization_size"],
                "has_quickcheck_dir": chosen["quickcheck_dir"] is not None,
            }
        ],
        {
            "edition": {"data_type": "bigint"},
            "industry": {"data_type": "text"},
            "organization_size": {"data_type": "text"},
            "has_quickcheck_dir": {"data_type": "bool"},
        },
    )

    def make(name: str, rows: list[dict], columns: dict[str, Any]) -> DltResource:
        def rows_of() -> Iterator[list[dict]]:
            yield rows

        return dlt.resource(rows_of, name=name, write_disposition="replace", columns=columns)()

    return [make(name, rows, columns) for name, (rows, columns) in tables.items()]
