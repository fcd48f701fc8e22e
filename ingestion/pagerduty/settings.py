"""Constants for the PagerDuty source."""

DEFAULT_BASE_URL = "https://api.pagerduty.com"
PAGE_LIMIT = 100  # PagerDuty's maximum `limit`
MAX_OFFSET = 10_000  # PagerDuty refuses offset + limit beyond this; split the time window instead
# Incidents change status (acknowledged, resolved) after they were created: every run re-reads incidents
# created within this many days before the newest one already loaded.
INCIDENT_LOOKBACK_DAYS = 14
# PagerDuty accepts at most about six months between `since` and `until`; stay well inside.
MAX_WINDOW_DAYS = 90
# Without a configured start date the first run reaches back this far.
DEFAULT_BACKFILL_DAYS = 90
