"""Constants for the organisation configuration source."""

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
