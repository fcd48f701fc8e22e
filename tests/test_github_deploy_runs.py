"""Which Actions runs the GitHub source reads jobs for: those a `workflow` deploy rule counts, matched as
int_deployments_unioned matches them (workflow name, head branch, event, head repository), ignoring case."""

from __future__ import annotations

from ingestion.config import parse_config, workflow_rules
from ingestion.github import DeployRuns

RULES = {
    "Acme/Shop": [
        {
            "pattern": "^deploy$",
            "branch_pattern": "^main$",
            "events": ["push", "workflow_run"],
            "include_forks": False,
        },
        {
            "pattern": "release",
            "branch_pattern": None,
            "events": ["workflow_dispatch"],
            "include_forks": True,
        },
    ]
}


def _run(
    name: str,
    branch: str = "main",
    event: str = "push",
    head: str | None = "acme/shop",
    repo: str = "acme/shop",
):
    return {
        "repository": repo,
        "name": name,
        "head_branch": branch,
        "event": event,
        "head_repository__full_name": head,
    }


def test_only_runs_a_rule_counts() -> None:
    runs = [
        _run("deploy"),  # counted
        _run("Deploy", event="WORKFLOW_RUN"),  # names and events are compared case-insensitively
        _run("ci", event="pull_request"),  # no rule names it
        _run("deploy", branch="feature/x"),  # not the rule's branch
        _run("deploy", event="pull_request_target"),  # not one of the rule's events
        _run("deploy", head="someone/shop"),  # a fork's head: the rule does not count forks
        _run("deploy", head=None),  # a run without a head repository is the repository's own
        _run("nightly-release", branch="any", event="workflow_dispatch", head="fork/shop"),  # forks counted
        _run("deploy", repo="acme/other"),  # a repository without rules
    ]
    matcher = DeployRuns(RULES)
    try:
        assert matcher.select(runs) == [True, True, False, False, False, False, True, True, False]
    finally:
        matcher.close()


def test_rules_come_from_the_configuration() -> None:
    config = parse_config(
        """
org: acme
sources:
  github:
    base_url: https://api.github.com/
    organization: acme
    token: x
teams:
  - name: shop
services:
  - name: shop
    team: shop
    repository: acme/shop
    deployments:
      - {environment: production, workflow: "^deploy$", branch: "^main$"}
      - {environment: staging, workflow: "^deploy-staging$", events: [push], forks: true}
      - {environment: production, tag: "^v"}
environments:
  - {name: staging, match: "^stag"}
  - {name: production, match: "^prod", production: true}
"""
    )
    rules = workflow_rules(config)
    assert list(rules) == ["acme/shop"]
    assert [(r["pattern"], r["branch_pattern"], r["include_forks"]) for r in rules["acme/shop"]] == [
        ("^deploy$", "^main$", False),
        ("^deploy-staging$", None, True),
    ]
    assert rules["acme/shop"][1]["events"] == ["push"]
    runs = [_run("deploy"), _run("deploy-staging", branch="x", head="fork/shop"), _run("ci")]
    matcher = DeployRuns(rules)
    try:
        assert matcher.select(runs) == [True, True, False]
    finally:
        matcher.close()


def test_a_page_of_runs_asks_each_pattern_once() -> None:
    """A page's texts are matched together: one DuckDB query per pattern with texts it has not seen (every
    pull request's run has a branch of its own), none for a page whose texts are all known."""
    runs = [_run("deploy", branch=f"feature/{n}") for n in range(50)] + [_run("deploy"), _run("release")]
    matcher = DeployRuns(RULES)
    asked: list[tuple[str, int]] = []
    search = matcher.engine.search
    matcher.engine.search = lambda pattern, texts: (
        asked.append((pattern, len(texts))) or search(pattern, texts)
    )
    try:
        first = matcher.select(runs)
        assert first == [False] * 50 + [True, False]
        assert sorted(asked) == [("^deploy$", 2), ("^main$", 51), ("release", 2)]
        asked.clear()
        assert matcher.select(list(reversed(runs))) == list(reversed(first))
        assert asked == []
    finally:
        matcher.close()
