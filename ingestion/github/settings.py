"""Constants for the GitHub source."""

DEFAULT_BASE_URL = "https://api.github.com"
PER_PAGE = 100  # GitHub's maximum page size for list endpoints
API_VERSION = "2022-11-28"

# Deployment statuses arrive after the deployment was created; re-read deployments created within this
# many days before the cursor so late statuses are picked up.
DEPLOYMENT_LOOKBACK_DAYS = 3
# Commits reachable from the default branch can carry committer dates older than the last run (merges of
# long-lived branches); re-read this many days before the cursor.
COMMIT_LOOKBACK_DAYS = 3

# Keys whose values are bulky and useless for delivery analytics.
DROP_KEYS = frozenset(
    {
        "_links",
        "permissions",
        "license",
        "template_repository",
        "security_and_analysis",
        "code_of_conduct",
        "assignees",
        "requested_reviewers",
        "requested_teams",
        "milestone",
        "auto_merge",
        "verification",
        "tree",
        "files",
        "stats",
        "body_html",
        "body_text",
        "reactions",
        "performed_via_github_app",
        "organization",
        "parent",
        "source",
        "custom_properties",
        "repo",  # head.repo and base.repo: a full repository object on every pull request
    }
)
# URL fields worth keeping; every other `url` / `*_url` is an API link derivable from ids.
KEEP_URLS = frozenset({"html_url", "target_url", "log_url", "environment_url"})
# GitHub user objects: keep who, not their thirty profile links.
USER_KEYS = ("login", "id", "type")
USER_FIELDS = frozenset({"user", "author", "committer", "creator", "merged_by", "owner", "assignee"})

# Workflow runs change after they are created (queued → in_progress → completed); re-read runs created within
# this many days before the cursor, and always from the oldest run that was still unfinished.
WORKFLOW_RUN_LOOKBACK_DAYS = 1
# GitHub answers at most 1,000 workflow runs for one filtered query; wider `created` ranges are split.
WORKFLOW_RUN_QUERY_LIMIT = 1000
# The run listing repeats its last `created>=` query (so an unchanged listing answers 304) until the listing
# answers while that bound lags the re-read window by more than this many days (a first load from the start
# date does); then the query is narrowed, and its ETag taken at once.
WORKFLOW_RUN_REQUERY_DAYS = 7
# Releases can be edited or published from a draft after creation; re-read this many days before the cursor.
RELEASE_LOOKBACK_DAYS = 3
# Statuses with which an optional resource (Actions, releases, tags, PR files and comments) answers when it
# is not available for a repository or token: not found, not permitted, empty repository.
UNAVAILABLE_STATUSES = frozenset({403, 404, 409, 410})
# Asked-for repositories of the organisation read from its listing (100 a page) instead of one request
# each, from this many on; the listing is given at most a quarter of that many pages (repos.py)
REPOSITORY_LISTING_MIN = 50
