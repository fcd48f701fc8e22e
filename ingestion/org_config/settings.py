"""Constants for the organisation configuration source."""

# What a `workflow` rule counts when it lists no `events`, for rules given in the file's own spelling: the
# loader's default (ingestion/config.py says why).
from ingestion.config import (
    DEFAULT_BENCHMARKS,
    DEFAULT_HOTFIX_PATTERNS,
    DEFAULT_WORKFLOW_EVENTS,
    FAILURE_SIGNALS,
    SERVICE_DIMENSIONS,
    TEAM_DIMENSIONS,
)

# The service dimensions kept as text columns (`labels` is a list, loaded as json).
SERVICE_TEXT_DIMENSIONS = tuple(key for key in SERVICE_DIMENSIONS if key != "labels")

DEFAULT_INCIDENT_WINDOW_HOURS = 24.0

# Deploy rule kinds as org.yml spells them (ingestion/config.py validates them).
DEPLOY_RULE_KINDS = (
    "github_environment",
    "gitlab_environment",
    "tag",
    "workflow",
    "jenkins_job",
    "branch_push",
)

__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_HOTFIX_PATTERNS",
    "FAILURE_SIGNALS",
    "DEFAULT_INCIDENT_WINDOW_HOURS",
    "DEFAULT_WORKFLOW_EVENTS",
    "DEPLOY_RULE_KINDS",
    "SERVICE_TEXT_DIMENSIONS",
    "TEAM_DIMENSIONS",
]
