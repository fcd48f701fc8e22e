"""Constants for the GitLab source."""

DEFAULT_BASE_URL = "https://gitlab.com"
API_PREFIX = "/api/v4"
PER_PAGE = 100  # GitLab's maximum page size

# `since` on the commits endpoint filters on the committer date; branches pushed late can carry older
# dates, so each run re-reads this many days before the newest commit seen.
COMMIT_LOOKBACK_DAYS = 3

# Keys whose values are bulky and useless for delivery analytics.
DROP_KEYS = frozenset(
    {
        "_links",
        "permissions",
        "avatar_url",
        "time_stats",
        "task_completion_status",
        "milestone",
        "assignee",
        "assignees",
        "references",
        "description_html",
        "runner",
        "runner_manager",
        "artifacts",
        "artifacts_file",
        "artifacts_expire_at",
        "assets",
        "evidences",
        "description",
        "container_expiration_policy",
        "shared_with_groups",
        "import_error",
        "statistics",
        "tag_list",
        "topics",
        "last_deployment",
        "commit_path",
        "tag_path",
        "trailers",
        "extended_trailers",
    }
)
# GitLab user objects: keep who, not their profile links.
USER_KEYS = ("id", "username", "name")
USER_FIELDS = frozenset({"author", "user", "merged_by", "closed_by", "merge_user", "owner", "prepared_by"})
