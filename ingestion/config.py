"""The organisation configuration file (`org.yml`): load, validate, resolve secrets.

A platform lead edits one file; every error names the bad key and its line so they can fix it without
reading our code. Secrets are resolved here (literal `token:` or `token_env:`) and never written anywhere:
the warehouse only receives teams, services, environments and settings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ingestion.catalog import Catalog, CatalogError, read_catalog
from ingestion.patterns import RegexEngine, path_pattern_regex

KNOWN_SOURCES = ("github", "gitlab", "jenkins", "pagerduty", "git")
# How the GitHub source reads pull requests and deployments: GraphQL (many to a request) or REST (for servers
# without GraphQL).
GITHUB_APIS = ("graphql", "rest")
# Which Actions runs the GitHub source lists: those the `workflow` deploy rules can count, or every run.
GITHUB_WORKFLOW_RUNS = ("deploy", "all")
# Sources read without an API: no base URL, no token.
LOCAL_SOURCES = ("git",)
# How a service's deployments are recognised (docs/configuration.md, "Deploy rules"). Each rule is a
# case-insensitive regular expression on what the source reports: the GitHub or GitLab deployment's
# environment name, the tag name, the GitHub Actions workflow name, the Jenkins job's full name, or the
# branch whose first-parent commits are each a deployment (teams that deploy on merge).
DEPLOY_RULE_KINDS = (
    "github_environment",
    "gitlab_environment",
    "tag",
    "workflow",
    "jenkins_job",
    "branch_push",
)
# Kinds that also take an optional `branch` regex on the branch the run or build was for.
BRANCH_FILTERED_KINDS = ("workflow", "jenkins_job")
# The events whose GitHub Actions runs a `workflow` rule counts unless it lists its own `events`: pushes
# and manual or API-dispatched runs. Pull request runs (`pull_request`, `pull_request_target`) test a change
# before it merges, and a run triggered by another run (`workflow_run`) carries that run's head: neither is
# a deployment unless a rule says so.
DEFAULT_WORKFLOW_EVENTS = ("push", "workflow_dispatch", "repository_dispatch")
# The events that trigger GitHub Actions workflows, as a run's `event` reports them (GitHub's "Events that
# trigger workflows"; `dynamic` is GitHub's own runs, such as Dependabot updates and CodeQL default setup;
# not `workflow_call`: a called workflow runs as part of its caller's run, under the caller's event). A name
# outside this list is a typo that would silently match nothing.
GITHUB_ACTIONS_EVENTS = (
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "dynamic",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_dispatch",
    "workflow_run",
)
DEFAULT_INCIDENT_WINDOW_HOURS = 24
# The signals that mark a production deployment failed (docs/metrics.md, "Failure signals"), each on unless
# `failure_signals:` switches it off.
FAILURE_SIGNALS = ("incident", "rollback", "revert", "hotfix", "alert")
# What marks a change as a hotfix: case-insensitive regular expressions on a pull/merge request's title,
# on each of its labels, and on its source branch. "Fix" alone is everyday work ("Fix typo in README"),
# so the defaults ask for the word hotfix (or hot-fix, hot fix).
DEFAULT_HOTFIX_PATTERNS = {
    "title": r"\bhot[ _-]?fix",
    "label": r"^hot[ _-]?fix",
    "branch": r"^hot[ _-]?fix[/_-]",
}

# The DORA Quick Check editions whose benchmark files the models understand, and what `benchmarks:`
# defaults to: the newest edition, compared with all industries and all organisation sizes.
QUICKCHECK_EDITIONS = (2024, 2025)
DEFAULT_BENCHMARKS: dict[str, Any] = {
    "edition": 2025,
    "industry": "all",
    "organization_size": "all",
    "quickcheck_dir": None,
}
# Optional dimensions of a team and of a service (docs/configuration.md, "Dimensions"): free text the
# rollups group by. A service's `labels` is a list.
TEAM_DIMENSIONS = ("department", "reporting_line")
SERVICE_DIMENSIONS = ("language", "tier", "labels", "service_type", "system")


class ConfigError(ValueError):
    """A configuration problem, phrased for the person editing the file."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    base_url: str
    token: str = field(repr=False)
    start_date: str | None
    options: dict[str, Any]


def _validate_git_source(v: _Validator, spec: dict, where: tuple, base: Path) -> dict[str, Any]:
    """`sources.git.repositories: [{path, name}]`: clones on disk, paths relative to the file's folder."""
    v.unknown_keys(spec, {"repositories"}, where)
    repos = v.sequence(spec.get("repositories"), where + ("repositories",))
    if not repos:
        v.fail(where + ("repositories",), "name at least one repository (path: a clone on disk)")
    out: list[dict[str, str]] = []
    names: set[str] = set()
    for i, repo in enumerate(repos):
        at = where + ("repositories", i)
        if isinstance(repo, str):
            repo = {"path": repo}
        repo = v.mapping(repo, at)
        v.unknown_keys(repo, {"path", "name"}, at)
        raw_path = v.text(repo.get("path"), at + ("path",))
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = (base / path).resolve()
        if not path.is_dir():
            v.fail(at + ("path",), f"no such folder: {path}")
        default_name = path.parent.name if path.name == ".git" else path.name.removesuffix(".git")
        name = v.text(repo.get("name"), at + ("name",), required=False) or default_name
        if re.search(r"\s", name):
            v.fail(at + ("name",), f"a repository name holds no spaces, got {name!r}")
        if name in names:
            v.fail(at + ("name",), f"duplicate repository name {name!r}")
        names.add(name)
        out.append({"path": str(path), "name": name})
    return {"repositories": out}


def _validate_deploy_rules(
    v: _Validator, rules: Any, where: tuple, environment_names: list[str]
) -> list[dict[str, Any]]:
    """A service's `deployments:` list; each rule names one environment and one kind with its pattern."""
    out = []
    for j, rule in enumerate(v.sequence(rules, where)):
        at = where + (j,)
        rule = v.mapping(rule, at)
        v.unknown_keys(rule, {"environment", "branch", "events", "forks", *DEPLOY_RULE_KINDS}, at)
        environment = v.text(rule.get("environment"), at + ("environment",))
        if environment not in environment_names:
            v.fail(
                at + ("environment",),
                f"unknown environment {environment!r} (environments: {', '.join(environment_names)})",
            )
        kinds = [kind for kind in DEPLOY_RULE_KINDS if kind in rule]
        if len(kinds) != 1:
            v.fail(at, f"give exactly one of {', '.join(DEPLOY_RULE_KINDS)} (a regular expression)")
        kind = kinds[0]
        pattern = v.regex(rule[kind], at + (kind,))
        branch = None
        if "branch" in rule:
            if kind not in BRANCH_FILTERED_KINDS:
                v.fail(
                    at + ("branch",),
                    f"branch applies to {' and '.join(BRANCH_FILTERED_KINDS)} rules only, not to {kind}",
                )
            branch = v.regex(rule["branch"], at + ("branch",))
        for key in ("events", "forks"):
            if key in rule and kind != "workflow":
                v.fail(at + (key,), f"{key} applies to workflow rules only, not to {kind}")
        rule_out = {"environment": environment, "kind": kind, "pattern": pattern}
        if branch is not None:
            rule_out["branch_pattern"] = branch
        if kind == "workflow":
            rule_out["events"] = _workflow_events(v, rule.get("events"), at + ("events",))
            forks = rule.get("forks", False)
            if not isinstance(forks, bool):
                v.fail(at + ("forks",), "expected true or false")
            rule_out["include_forks"] = forks
        out.append(rule_out)
    return out


def _workflow_events(v: _Validator, value: Any, where: tuple) -> list[str]:
    """A workflow rule's `events`: GitHub Actions event names, lower case, each once; the default when
    absent."""
    if value is None:
        return list(DEFAULT_WORKFLOW_EVENTS)
    if isinstance(value, str):
        value = [value]
    events: list[str] = []
    for i, item in enumerate(v.sequence(value, where)):
        event = v.text(item, where + (i,)).lower()
        if event not in GITHUB_ACTIONS_EVENTS:
            v.fail(
                where + (i,),
                f"unknown GitHub Actions event {event!r} (e.g. {', '.join(DEFAULT_WORKFLOW_EVENTS)}, "
                "workflow_run, pull_request; docs/configuration.md lists them)",
            )
        if event not in events:
            events.append(event)
    if not events:
        v.fail(where, "name at least one event (or leave events out for the default)")
    return events


@dataclass(frozen=True)
class OrgConfig:
    """A validated configuration. `sources` hold resolved tokens: do not log or persist them."""

    path: Path
    org: str
    sources: dict[str, SourceConfig]
    teams: list[dict[str, Any]]
    services: list[dict[str, Any]]
    environments: list[dict[str, Any]]
    settings: dict[str, Any]
    # `benchmarks:` (docs/configuration.md): edition, industry, organization_size, quickcheck_dir (a Path
    # or None); always present, with defaults, so the models know the chosen edition.
    benchmarks: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_BENCHMARKS))
    # `assessments_dir:` resolved against the file's folder; None means the workdir's `assessments/`.
    assessments_dir: Path | None = None


def _compose_with_lines(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML and remember the line of every key/item, addressed by its path of keys and indexes."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    lines: dict[tuple, int] = {}

    def build(node: yaml.Node, where: tuple) -> Any:
        lines[where] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out = {}
            for key_node, value_node in node.value:
                key = key_node.value
                lines[where + (key,)] = key_node.start_mark.line + 1
                out[key] = build(value_node, where + (key,))
                lines[where + (key,)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, where + (index,)) for index, item in enumerate(node.value)]
        return yaml.SafeLoader(  # resolve scalars exactly as safe_load would (ints, bools, dates)
            ""
        ).construct_object(node, deep=True)

    data = build(root, ()) if root is not None else {}
    return data, lines


class _Validator:
    def __init__(self, path: Path, lines: dict[tuple, int]):
        self.path = path
        self.lines = lines
        self.regexes = RegexEngine()

    def fail(self, where: tuple, message: str) -> None:
        line = None
        probe = where
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        dotted = "".join(
            f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(where)
        )
        at = f" line {line}" if line else ""
        raise ConfigError(f"{self.path.name}{at}: {dotted or '(top level)'}: {message}")

    def mapping(self, value: Any, where: tuple) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def sequence(self, value: Any, where: tuple) -> list:
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def text(self, value: Any, where: tuple, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "expected a non-empty string")
        return value.strip()

    def regex(self, value: Any, where: tuple) -> str:
        """A non-empty regular expression that DuckDB, which applies every pattern of this file, compiles
        (case-insensitive, as the models call it); its own message otherwise."""
        pattern = self.text(value, where)
        problem = self.regexes.error(pattern)
        if problem:
            self.fail(
                where, f"not a valid regular expression (patterns run in DuckDB, RE2 syntax): {problem}"
            )
        return pattern

    def unknown_keys(self, value: dict, allowed: set[str], where: tuple) -> None:
        for key in value:
            if key not in allowed:
                self.fail(where + (key,), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _concurrency(v: _Validator, spec: dict, where: tuple) -> int:
    """A source's `max_concurrency`: requests it keeps in flight at once (default 4)."""
    concurrency = spec.get("max_concurrency", 4)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 16:
        v.fail(where + ("max_concurrency",), f"must be a whole number from 1 to 16, not {concurrency!r}")
    return concurrency


def _text_list(v: _Validator, value: Any, where: tuple) -> list[str] | None:
    """An optional list of non-empty strings (None when the key is absent)."""
    if value is None:
        return None
    return [v.text(item, where + (i,)) for i, item in enumerate(v.sequence(value, where))]


def _service_paths(v: _Validator, value: Any, where: tuple) -> list[str]:
    """A service's `paths:` (globs or prefixes); [] when absent: the service owns its whole repository."""
    if value is None:
        return []
    paths = []
    for i, item in enumerate(v.sequence(value, where)):
        pattern = v.text(item, where + (i,))
        if "[" in pattern or "]" in pattern:
            v.fail(where + (i,), "character classes are not supported in paths (use *, ? or **)")
        if pattern.strip("/*") == "":
            v.fail(
                where + (i,),
                "a path pattern must name a folder or file (leave `paths` out to own the repository)",
            )
        problem = v.regexes.error(path_pattern_regex(pattern))
        if problem:
            v.fail(where + (i,), f"not a usable path pattern: {problem}")
        paths.append(pattern.lstrip("/"))
    if not paths:
        v.fail(where, "name at least one path, or leave `paths` out to own the whole repository")
    return paths


def _tier(v: _Validator, value: Any, where: tuple) -> str | None:
    """A service tier as text: `tier: 1` and `tier: "1"` are the same tier."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return v.text(value, where, required=False)


def _labels(v: _Validator, value: Any, where: tuple) -> list[str]:
    """A service's labels: a list of non-empty strings (or one string), each once, sorted; none: []."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return sorted(set(_text_list(v, value, where) or []))


def _read_catalog(v: _Validator, value: Any, base: Path) -> Catalog:
    """`catalog:` a Backstage catalog file or folder, relative to the configuration file's folder."""
    if value is None:
        return Catalog()
    path = Path(v.text(value, ("catalog",))).expanduser()
    if not path.is_absolute():
        path = (base / path).resolve()
    if not path.exists():
        v.fail(("catalog",), f"no such file or folder: {path}")
    try:
        return read_catalog(path)
    except CatalogError as exc:
        raise ConfigError(f"catalog {exc}") from None


def merge_catalog_teams(teams: list[dict[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """The file's teams with what the catalog adds: a key the file leaves empty takes the catalog's value,
    and catalog groups that own a component but that the file does not name become teams after the
    file's own."""
    named = {team["team"] for team in teams}
    out = []
    for team in teams:
        extra = catalog.teams.get(team["team"], {})
        out.append(
            {**team, **{k: extra.get(k) for k in ("description", *TEAM_DIMENSIONS) if team.get(k) is None}}
        )
    owners = {component.get("team") for component in catalog.services.values()}
    for name, group in catalog.teams.items():
        # A group that owns a component is a team; the others (departments, guilds) are not.
        if name not in named and name in owners:
            out.append(
                {
                    "team": name,
                    "description": group.get("description"),
                    **{k: group.get(k) for k in TEAM_DIMENSIONS},
                }
            )
    return out


def _resolve_token(v: _Validator, spec: dict, where: tuple) -> str:
    if "token" in spec and "token_env" in spec:
        v.fail(where, "give either token or token_env, not both")
    if "token" in spec:
        return v.text(spec["token"], where + ("token",))
    env_name = v.text(spec.get("token_env"), where + ("token_env",), required=False)
    if env_name is None:
        v.fail(where, "missing token_env (name of the environment variable holding the API token)")
    token = os.environ.get(env_name)
    if not token:
        v.fail(where + ("token_env",), f"environment variable {env_name} is not set or empty")
    return token


def parse_config(text: str, path: Path | str = "org.yml") -> OrgConfig:
    """Validate configuration text; raise ConfigError naming the key and line of the first problem."""
    path = Path(path)
    data, lines = _compose_with_lines(text, path)
    v = _Validator(path, lines)
    data = v.mapping(data, ())
    v.unknown_keys(
        data,
        {
            "org",
            "sources",
            "teams",
            "services",
            "environments",
            "failure",
            "failure_signals",
            "catalog",
            "bots",
            "benchmarks",
            "assessments_dir",
        },
        (),
    )
    org = v.text(data.get("org", "my-org"), ("org",))
    catalog = _read_catalog(v, data.get("catalog"), path.resolve().parent)

    sources: dict[str, SourceConfig] = {}
    raw_sources = v.mapping(data.get("sources") or {}, ("sources",))
    if not raw_sources:
        v.fail(("sources",), f"name at least one source ({', '.join(KNOWN_SOURCES)})")
    for name, spec in raw_sources.items():
        where = ("sources", name)
        if name not in KNOWN_SOURCES:
            v.fail(where, f"unknown source (known: {', '.join(KNOWN_SOURCES)})")
        spec = v.mapping(spec, where)
        if name in LOCAL_SOURCES:
            options = _validate_git_source(v, spec, where, path.resolve().parent)
            sources[name] = SourceConfig(name, "", "", None, options)
            continue
        allowed = {"base_url", "token", "token_env", "start_date"}
        if name == "github":
            allowed |= {"organization", "repositories", "api", "max_concurrency", "workflow_runs"}
        elif name == "gitlab":
            allowed |= {"group", "projects", "max_concurrency", "pipeline_jobs"}
        elif name == "jenkins":
            allowed |= {"user", "jobs"}
        v.unknown_keys(spec, allowed, where)
        base_url = v.text(spec.get("base_url"), where + ("base_url",))
        if not re.match(r"^https?://", base_url):
            v.fail(where + ("base_url",), "must start with http:// or https://")
        start = spec.get("start_date")
        if isinstance(start, date):
            start = start.isoformat()
        if start is not None:
            start = v.text(start, where + ("start_date",))
            try:
                date.fromisoformat(start[:10])
            except ValueError:
                v.fail(where + ("start_date",), f"not an ISO date: {start!r}")
        options: dict[str, Any] = {}
        if name == "github":
            options["organization"] = v.text(spec.get("organization"), where + ("organization",))
            options["api"] = v.text(spec.get("api", "graphql"), where + ("api",))
            if options["api"] not in GITHUB_APIS:
                v.fail(where + ("api",), f"must be one of {', '.join(GITHUB_APIS)}, not {options['api']!r}")
            options["max_concurrency"] = _concurrency(v, spec, where)
            options["workflow_runs"] = v.text(spec.get("workflow_runs", "deploy"), where + ("workflow_runs",))
            if options["workflow_runs"] not in GITHUB_WORKFLOW_RUNS:
                v.fail(
                    where + ("workflow_runs",),
                    f"must be one of {', '.join(GITHUB_WORKFLOW_RUNS)}, not {options['workflow_runs']!r}",
                )
            repos = spec.get("repositories")
            if repos is not None:
                options["repositories"] = [
                    v.text(r, where + ("repositories", i))
                    for i, r in enumerate(v.sequence(repos, where + ("repositories",)))
                ]
        elif name == "gitlab":
            options["max_concurrency"] = _concurrency(v, spec, where)
            options["group"] = v.text(spec.get("group"), where + ("group",), required=False)
            options["projects"] = _text_list(v, spec.get("projects"), where + ("projects",))
            jobs = spec.get("pipeline_jobs", False)
            if not isinstance(jobs, bool):
                v.fail(where + ("pipeline_jobs",), f"must be true or false, not {jobs!r}")
            options["pipeline_jobs"] = jobs
        elif name == "jenkins":
            options["user"] = v.text(spec.get("user"), where + ("user",), required=False)
            # Shell-style patterns on job full names (`payments/*`), as the Jenkins source takes them.
            options["jobs"] = _text_list(v, spec.get("jobs"), where + ("jobs",))
        # A public Jenkins controller is readable anonymously: there a token is optional.
        anonymous = name == "jenkins" and "token" not in spec and "token_env" not in spec
        token = "" if anonymous else _resolve_token(v, spec, where)
        sources[name] = SourceConfig(name, base_url.rstrip("/"), token, start, options)

    teams = []
    team_names: set[str] = set()
    for i, team in enumerate(v.sequence(data.get("teams") or [], ("teams",))):
        where = ("teams", i)
        team = v.mapping(team, where)
        v.unknown_keys(team, {"name", "description", *TEAM_DIMENSIONS}, where)
        name = v.text(team.get("name"), where + ("name",))
        if name in team_names:
            v.fail(where + ("name",), f"duplicate team {name!r}")
        team_names.add(name)
        dimensions = {key: v.text(team.get(key), where + (key,), required=False) for key in TEAM_DIMENSIONS}
        teams.append({"team": name, "description": team.get("description"), **dimensions})
    teams = merge_catalog_teams(teams, catalog)
    team_names = {team["team"] for team in teams}
    if not teams:
        v.fail(("teams",), "name at least one team")

    environments = []
    env_spec = data.get("environments")
    if env_spec is None:
        env_spec = [
            {"name": "staging", "match": "^(stag|stg)"},
            {"name": "production", "match": "^prod", "production": True},
        ]
    for i, env in enumerate(v.sequence(env_spec, ("environments",))):
        where = ("environments", i)
        env = v.mapping(env, where)
        v.unknown_keys(env, {"name", "match", "production"}, where)
        name = v.text(env.get("name"), where + ("name",))
        pattern = v.regex(env.get("match", f"^{re.escape(name)}$"), where + ("match",))
        production = env.get("production", False)
        if not isinstance(production, bool):
            v.fail(where + ("production",), "expected true or false")
        environments.append(
            {
                "environment": name,
                "environment_rank": i,
                "match_pattern": pattern,
                "is_production": production,
            }
        )
    if not any(e["is_production"] for e in environments):
        v.fail(("environments",), "mark at least one environment with production: true")

    git_names = {r["name"] for r in sources["git"].options["repositories"]} if "git" in sources else set()
    environment_names = [e["environment"] for e in environments]
    services = []
    service_names: set[str] = set()
    file_services = v.sequence(data.get("services") or [], ("services",))
    # Catalog components the file does not list are services too (addressed as catalog.<name> in errors).
    listed = {svc.get("name") for svc in file_services if isinstance(svc, dict)}
    entries = [(("services", i), svc) for i, svc in enumerate(file_services)] + [
        (("catalog", name), dict(component))
        for name, component in catalog.services.items()
        if name not in listed
    ]
    for where, svc in entries:
        svc = v.mapping(svc, where)
        v.unknown_keys(
            svc,
            {"name", "team", "repository", "paths", "pagerduty_services", "deployments", *SERVICE_DIMENSIONS},
            where,
        )
        name = v.text(svc.get("name"), where + ("name",))
        if name in service_names:
            v.fail(where + ("name",), f"duplicate service {name!r}")
        service_names.add(name)
        # The catalog fills what the file leaves out (owner, repository, dimensions); the file wins.
        svc = {**catalog.services.get(name, {}), **svc}
        team = v.text(svc.get("team"), where + ("team",))
        if team not in team_names:
            v.fail(where + ("team",), f"unknown team {team!r} (teams: {', '.join(sorted(team_names))})")
        repo = v.text(svc.get("repository"), where + ("repository",))
        # GitHub owner/name, GitLab group/subgroup/name, or the name of a local git repository.
        if repo not in git_names and not re.match(r"^[^/\s]+(/[^/\s]+)+$", repo):
            known = f" or one of the git repositories ({', '.join(sorted(git_names))})" if git_names else ""
            v.fail(where + ("repository",), f"expected owner/name or group/name{known}, got {repo!r}")
        pd_ids = [
            v.text(p, where + ("pagerduty_services", j))
            for j, p in enumerate(
                v.sequence(svc.get("pagerduty_services") or [], where + ("pagerduty_services",))
            )
        ]
        rules = _validate_deploy_rules(
            v, svc.get("deployments") or [], where + ("deployments",), environment_names
        )
        paths = _service_paths(v, svc.get("paths"), where + ("paths",))
        services.append(
            {
                "service": name,
                "team": team,
                "repository": repo,
                "paths": paths,
                "pagerduty_services": pd_ids,
                "deploy_rules": rules,
                "language": v.text(svc.get("language"), where + ("language",), required=False),
                "tier": _tier(v, svc.get("tier"), where + ("tier",)),
                "labels": _labels(v, svc.get("labels"), where + ("labels",)),
                "service_type": v.text(svc.get("service_type"), where + ("service_type",), required=False),
                "system": v.text(svc.get("system"), where + ("system",), required=False),
            }
        )
    if not services:
        v.fail(("services",), "name at least one service")

    failure = v.mapping(data.get("failure") or {}, ("failure",))
    v.unknown_keys(failure, {"incident_window_hours"}, ("failure",))
    window = failure.get("incident_window_hours", DEFAULT_INCIDENT_WINDOW_HOURS)
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        v.fail(("failure", "incident_window_hours"), "expected a positive number of hours")
    settings = {"incident_window_hours": float(window)}
    settings.update(_failure_signals(v, data.get("failure_signals"), float(window)))

    # Accounts whose reviews and comments are automation, not a colleague picking the change up (besides
    # GitHub's Bot accounts and `[bot]` logins, which are known without listing them).
    bots = _text_list(v, data.get("bots"), ("bots",)) or []
    settings["bot_logins"] = sorted({login.strip().lower() for login in bots if login.strip()})

    benchmarks = _benchmarks(v, data.get("benchmarks"), path.resolve().parent)
    assessments_dir = None
    if data.get("assessments_dir") is not None:
        folder = Path(v.text(data["assessments_dir"], ("assessments_dir",)))
        assessments_dir = folder if folder.is_absolute() else path.resolve().parent / folder

    return OrgConfig(path, org, sources, teams, services, environments, settings, benchmarks, assessments_dir)


def _benchmarks(v: _Validator, value: Any, base: Path) -> dict[str, Any]:
    """The `benchmarks:` block: which DORA Quick Check edition, industry and organisation size to compare
    with, and the folder holding DORA's published files. Without the folder the scores are still computed
    (the means are then unknown); with it, the industry and size must be segments of that edition."""
    where = ("benchmarks",)
    spec = v.mapping(value or {}, where)
    v.unknown_keys(spec, {"quickcheck_dir", "edition", "industry", "organization_size"}, where)
    edition = spec.get("edition", DEFAULT_BENCHMARKS["edition"])
    if isinstance(edition, bool) or edition not in QUICKCHECK_EDITIONS:
        editions = ", ".join(str(e) for e in QUICKCHECK_EDITIONS)
        v.fail(where + ("edition",), f"must be one of {editions}, not {edition!r}")
    out: dict[str, Any] = {"edition": edition, "quickcheck_dir": None}
    for key in ("industry", "organization_size"):
        out[key] = v.text(spec.get(key, DEFAULT_BENCHMARKS[key]), where + (key,))
    if spec.get("quickcheck_dir") is None:
        return out
    folder = Path(v.text(spec["quickcheck_dir"], where + ("quickcheck_dir",)))
    folder = folder if folder.is_absolute() else base / folder
    from ingestion.dora_quickcheck import QuickCheckError, segments

    try:
        known = {key: segments(folder, edition, key) for key in ("industry", "organization_size")}
    except QuickCheckError as error:
        v.fail(where + ("quickcheck_dir",), str(error))
    for key, names in known.items():
        if not names:
            v.fail(where + ("quickcheck_dir",), f"{folder} holds no {edition} {key} benchmark file")
        if out[key] not in names:
            v.fail(
                where + (key,),
                f"unknown {key} {out[key]!r} in the {edition} edition (known: {', '.join(names)})",
            )
    out["quickcheck_dir"] = folder
    return out


def _failure_signals(v: _Validator, value: Any, incident_window: float) -> dict[str, Any]:
    """`failure_signals:` each signal on or off (`revert: false`, or `hotfix: {enabled: false}`), the
    hotfix patterns, and `window_hours` (how long after a deployment a revert, a hotfix or an alert still
    blames it; default the incident window). Flat settings: one row in the warehouse."""
    where = ("failure_signals",)
    spec = v.mapping({} if value is None else value, where)
    v.unknown_keys(spec, {*FAILURE_SIGNALS, "window_hours"}, where)
    window = spec.get("window_hours", incident_window)
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        v.fail(where + ("window_hours",), f"expected a positive number of hours, not {window!r}")
    out: dict[str, Any] = {"failure_window_hours": float(window)}
    for signal in FAILURE_SIGNALS:
        at = where + (signal,)
        setting = spec.get(signal, True)
        allowed = {"enabled", *DEFAULT_HOTFIX_PATTERNS} if signal == "hotfix" else {"enabled"}
        if isinstance(setting, dict):
            v.unknown_keys(setting, allowed, at)
            enabled = setting.get("enabled", True)
            if not isinstance(enabled, bool):
                v.fail(at + ("enabled",), f"expected true or false, not {enabled!r}")
        elif isinstance(setting, bool):
            enabled, setting = setting, {}
        else:
            hint = " or a mapping (enabled, title, label, branch)" if signal == "hotfix" else ""
            v.fail(at, f"expected true or false{hint}, not {setting!r}")
        out[f"{signal}_signal_enabled"] = enabled
        if signal == "hotfix":
            for key, default in DEFAULT_HOTFIX_PATTERNS.items():
                out[f"hotfix_{key}_pattern"] = v.regex(setting.get(key, default), at + (key,))
    return out


def branch_push_patterns(config: OrgConfig) -> dict[str, list[str]]:
    """The `branch_push` rule patterns of each service repository (repositories without one are left out),
    in the order written, without repeats: what a source needs to load the commits of deploy branches."""
    out: dict[str, list[str]] = {}
    for service in config.services:
        for rule in service["deploy_rules"]:
            if rule["kind"] == "branch_push":
                patterns = out.setdefault(service["repository"], [])
                if rule["pattern"] not in patterns:
                    patterns.append(rule["pattern"])
    return out


def workflow_rules(config: OrgConfig) -> dict[str, list[dict[str, Any]]]:
    """The `workflow` deploy rules of each service repository (repositories without one are left out): what
    the GitHub source needs to read Actions jobs only for the runs those rules count as deployments."""
    out: dict[str, list[dict[str, Any]]] = {}
    for service in config.services:
        for rule in service["deploy_rules"]:
            if rule["kind"] == "workflow":
                keys = ("pattern", "branch_pattern", "events", "include_forks")
                kept = {key: rule.get(key) for key in keys}
                rules = out.setdefault(service["repository"], [])
                if kept not in rules:
                    rules.append(kept)
    return out


def path_repositories(config: OrgConfig) -> list[str]:
    """The repositories with a service that owns `paths` in them: the only ones whose pull requests'
    changed files the marts read (int_pull_requests_mapped_to_services), so the only ones a source needs
    to read them for."""
    return sorted({service["repository"] for service in config.services if service["paths"]})


def load_config(path: Path | str) -> OrgConfig:
    """Read and validate a configuration file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"configuration file not found: {path}")
    return parse_config(path.read_text(encoding="utf-8"), path)
