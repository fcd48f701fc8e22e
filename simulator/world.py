"""The simulated engineering organisation: teams, services, developers and their history.

Everything is generated from causes, not from the metrics they should produce: developers open PRs, review
and merge them; pipelines deploy whatever main holds; some deployments break things and cause incidents or
rollbacks. The ground truth is written from these causal records (which commits went into which deployment,
which deployment the simulator made bad), never re-derived from what the emulator serves, so a truth test
catches a misunderstanding on either side.
"""

from __future__ import annotations

import gc
import hashlib
import math
import random
import re
import string
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from simulator.clock import DAY_END, DAY_START, add_working_hours, floor_second, next_working

ORG = "acme"

# Maturity profiles from the product brief. Delays in working hours unless named *_minutes / calendar.
# Operational delays are log-normal `(median minutes, sigma)`: real detection, rollback and repair times are
# right-skewed (most are quick, a few take much longer), and they are drawn, never clipped. docs/simulator.md
# gives the reasoning and sources behind each number.
PROFILES: dict[str, dict[str, Any]] = {
    "weekly": {
        "pr_rate": 0.4,  # PRs started per weekday per service (Poisson mean)
        "pr_floor": 0,
        "coding_wh": 3.5,
        "pickup_wh": 3.0,
        "review_wh": 2.0,
        "bad_rate": 0.3,  # share of production deployments that break something (rollbacks dilute it)
        "rollback_share": 0.3,  # bad deployments rolled back; weekly teams mostly fix forward
        "unpaged_share": 0.2,  # of those rolled back: noticed without a page (smoke test, a person)
        # a release ships a week of changes at once; problems surface as traffic and batch jobs hit them,
        # often hours later; about 1.7 % of detections come after more than a day (ln(24/4)/0.85 = 2.1 sd)
        "detect_minutes": (240.0, 0.85),
        "slow_burn": (0.0, 0.0, 0.0),  # (share, median minutes, sigma); the log-normal tail covers it
        "rollback_minutes": (150.0, 0.6),  # detection -> rollback deployed: approvals, a manual pipeline
        "resolve_minutes": (3000.0, 0.6),  # fixing forward takes days
        # a revert or hotfix deployed out of the weekly train is the exception, and slow: (share of the
        # fixed-forward outages, page -> fix started, fix opened -> deployed; minutes (median, sigma))
        "fix": (0.2, (240.0, 0.6), (360.0, 0.5)),
        "squash_share": (0.2, 0.5),
        "app_uncaused_per_week": 0.02,  # incidents on the service that no deployment caused
    },
    "daily": {
        "pr_rate": 1.0,
        "pr_floor": 0,
        "coding_wh": 2.5,
        "pickup_wh": 1.5,
        "review_wh": 1.0,
        "bad_rate": 0.15,  # of deployments that ship changes; redeploys of the same build break nothing
        "rollback_share": 0.5,
        "unpaged_share": 0.3,
        "detect_minutes": (50.0, 0.8),  # alerting on error rates and latency, the afternoon release watched
        "slow_burn": (0.0, 0.0, 0.0),
        "rollback_minutes": (40.0, 0.6),  # within hours: redeploy the last good build
        "resolve_minutes": (240.0, 0.6),
        "fix": (0.6, (30.0, 0.6), (45.0, 0.5)),
        "squash_share": (0.4, 0.7),
        "app_uncaused_per_week": 0.02,
    },
    "elite": {
        "pr_rate": 0.9,
        "pr_floor": 1,
        "coding_wh": 1.2,
        "pickup_wh": 0.4,
        "review_wh": 0.4,
        "bad_rate": 0.035,
        "rollback_share": 0.85,  # automated: a canary or SLO burn alert reverts the pipeline
        "unpaged_share": 0.4,  # many are caught by the canary before anyone is paged
        "detect_minutes": (15.0, 0.6),
        "slow_burn": (0.1, 120.0, 0.7),  # a leak or a batch job: hours later, often after the next deploy
        "rollback_minutes": (8.0, 0.5),
        "resolve_minutes": (25.0, 0.6),
        "fix": (0.6, (15.0, 0.6), (20.0, 0.5)),
        "squash_share": (0.7, 0.95),
        "app_uncaused_per_week": 0.02,
    },
}

# PagerDuty services of shared infrastructure: real PagerDuty accounts page for databases, the network and the
# cloud provider as much as for the applications, and no deployment of an application causes those incidents.
# No deploylens service maps to them. (name, incidents per week, resolve minutes (median, sigma))
INFRASTRUCTURE: dict[str, tuple[str, float, tuple[float, float]]] = {
    "postgres": ("Primary Postgres", 0.3, (90.0, 0.8)),
    "redis": ("Redis cluster", 0.25, (45.0, 0.8)),
    "edge": ("Edge network", 0.3, (60.0, 0.9)),
    "cloud": ("Cloud provider", 0.2, (150.0, 0.9)),
}

# (team, profile, [(repository name, PagerDuty service name, production environment name)]), plus the
# infrastructure PagerDuty services the organisation runs.
SCALES: dict[str, dict[str, Any]] = {
    "tiny": {
        "weeks": 8,
        "teams": [
            (
                "payments",
                "weekly",
                [
                    ("checkout-api", "Checkout API", "production"),
                    ("billing-worker", "Billing Worker", "production"),
                    ("invoice-service", "Invoicing", "production"),
                    ("refund-service", "Refunds", "production"),
                    ("payment-gateway", "Payment Gateway", "production"),
                    ("fraud-checks", "Fraud Checks", "production"),
                ],
            ),
            ("storefront", "daily", [("storefront-web", "Storefront Web", "prod")]),
            ("platform", "elite", [("auth-service", "Auth Service", "production")]),
        ],
        "infrastructure": ["postgres", "edge", "cloud"],
    },
    "small": {
        "weeks": 12,
        "teams": [
            (
                "payments",
                "weekly",
                [
                    ("checkout-api", "Checkout API", "production"),
                    ("billing-worker", "Billing Worker", "production"),
                    ("invoice-service", "Invoicing", "production"),
                ],
            ),
            (
                "ledger",
                "weekly",
                [
                    ("ledger-core", "Ledger Core", "production"),
                    ("reconciliation-job", "Reconciliation Batch", "production"),
                    ("fx-rates", "FX Rates API", "production"),
                ],
            ),
            (
                "storefront",
                "daily",
                [
                    ("storefront-web", "Storefront Web", "production"),
                    ("cart-service", "Cart Service", "production"),
                ],
            ),
            (
                "search",
                "daily",
                [("search-api", "Search API", "prod"), ("catalog-indexer", "Catalog Indexer", "production")],
            ),
            ("platform", "elite", [("auth-service", "Auth Service", "production")]),
            ("growth", "elite", [("recommendations", "Recommendations Engine", "production")]),
        ],
        "infrastructure": ["postgres", "redis", "edge", "cloud"],
    },
    # One team per delivery style (DELIVERY), tiny-sized. Services carry a fourth element: how they ship.
    # `extras` makes the emulator serve GitHub Actions runs, releases and tags, GitLab and Jenkins; the
    # other scales keep the GitHub Deployments API + PagerDuty world their clients were built against.
    "mixed": {
        "weeks": 8,
        "extras": True,
        "teams": [
            (
                "payments",
                "weekly",
                [
                    ("checkout-api", "Checkout API", "production", "github"),
                    ("billing-worker", "Billing Worker", "production", "github"),
                ],
            ),
            (
                "ledger",
                "weekly",
                [
                    ("ledger-core", "Ledger Core", "production", "jenkins"),
                    ("reconciliation-job", "Reconciliation Batch", "production", "jenkins"),
                ],
            ),
            (
                "releases",
                "weekly",
                [
                    ("fx-rates", "FX Rates API", "production", "tags"),
                    ("invoice-service", "Invoicing", "production", "tags"),
                ],
            ),
            (
                "storefront",
                "daily",
                [
                    ("storefront-web", "Storefront Web", "prod", "gitlab"),
                    ("cart-service", "Cart Service", "production", "gitlab"),
                ],
            ),
            ("platform", "elite", [("auth-service", "Auth Service", "production", "actions")]),
            # Code in local clones only. A fifth element overrides profile settings: one merge-heavy and one
            # squash-heavy repository. Teams shipping through `git` draw from streams of their own (see
            # OWN_STREAM_DELIVERY), so adding this team left every other team's history as it was.
            (
                "analytics",
                "daily",
                [
                    ("metrics-api", "Metrics API", "production", "git", {"squash_share": (0.05, 0.15)}),
                    ("etl-runner", "ETL Runner", "production", "git", {"squash_share": (0.85, 0.95)}),
                ],
            ),
            # A monorepo (docs/simulator.md, "A monorepo"): acme/marketplace holds the marketplace service
            # (shared code, no paths: the fallback) and two services owning a folder each. One main line;
            # each service deploys it to environments of its own (`production-<folder>`). A team with path
            # services draws from streams of its own too (_own_stream), so adding it changed no other team.
            (
                "marketplace",
                "daily",
                [
                    (
                        "marketplace",
                        "Marketplace Web",
                        "production-marketplace",
                        "github",
                        {
                            "staging_env": "staging-marketplace",
                            "path_services": [
                                ("listings-api", "Listings API", "services/listings"),
                                ("orders-api", "Orders API", "services/orders"),
                            ],
                        },
                    ),
                ],
            ),
        ],
        "infrastructure": ["postgres", "edge", "cloud"],
    },
}

# The large organisation is described by its sizes, not by a literal list: `large_teams` draws its
# departments, teams and services from the seed. Activity is per engineer: each engineer opens pull requests
# at a rate of their own (log-normal around `prs_per_engineer_day` per working day), spread over the team's
# services; the profiles' per-service `pr_rate` does not apply. Teams of the faster profiles own fewer
# services, so about 150 production deployments a working day come out of the 400 services.
SCALES["large"] = {
    "weeks": 104,
    "extras": True,
    "generated": {
        "engineers": 2000,
        "departments": 8,
        "teams": {"weekly": 47, "daily": 10, "elite": 3},  # 60 teams
        "services": 400,
        "services_per_team": {"elite": 1, "daily": 5},  # weekly teams share the rest, 1 to about 30 each
        # share of services per delivery style (no `git`: 400 local clones would be slow to export)
        "delivery": {"github": 0.72, "actions": 0.08, "gitlab": 0.08, "jenkins": 0.07, "tags": 0.05},
        "prs_per_engineer_day": (0.5, 0.5),  # (median, sigma) of an engineer's pull requests per working day
    },
    "infrastructure": ["postgres", "redis", "edge", "cloud"],
}
DEPARTMENTS = ["commerce", "payments", "logistics", "platform", "data", "identity", "growth", "marketplace"]
TEAM_WORDS = [
    "core", "edge", "api", "mobile", "web", "insights", "ops", "infra", "checkout", "search", "pricing",
    "catalog", "billing", "risk", "sre", "tooling", "ml", "notifications", "partners", "accounts",
]  # fmt: skip
SERVICE_NOUNS = [
    "order", "cart", "invoice", "ledger", "refund", "payout", "quote", "price", "stock", "shipment", "route",
    "parcel", "carrier", "warehouse", "login", "session", "token", "profile", "consent", "audit", "event",
    "report", "metric", "feature", "experiment", "coupon", "loyalty", "review", "listing", "seller",
    "search", "ranking", "feed", "email", "sms", "push", "media", "image", "tax", "fx",
]  # fmt: skip
SERVICE_KINDS = [
    "api", "service", "worker", "gateway", "indexer", "sync", "scheduler", "web", "consumer", "exporter",
    "store", "proxy",
]  # fmt: skip


def _split(rng: random.Random, total: int, count: int, sigma: float, minimum: int = 1) -> list[int]:
    """`total` split into `count` log-normally varied parts of at least `minimum`, summing exactly."""
    weights = [_lognormal(rng, 1.0, sigma) for _ in range(count)]
    spare = total - minimum * count
    raw = [spare * w / sum(weights) for w in weights]
    parts = [minimum + int(r) for r in raw]
    for i in sorted(range(count), key=lambda i: raw[i] - int(raw[i]), reverse=True)[: total - sum(parts)]:
        parts[i] += 1
    return parts


def large_teams(seed: int, spec: dict[str, Any] | None = None) -> list[tuple]:
    """The teams of a generated scale: `(team, profile, services, {"department", "engineers"})`, services
    `(repository, PagerDuty name, production environment, delivery)`, all drawn from the seed."""
    gen = (spec or SCALES["large"])["generated"]
    rng = random.Random(f"deploylens-large|{seed}")
    profiles = [p for p, n in gen["teams"].items() for _ in range(n)]
    rng.shuffle(profiles)
    departments = DEPARTMENTS[: gen["departments"]]
    sizes = _split(rng, len(profiles), len(departments), 0.3, minimum=2)
    team_names = [
        f"{d}-{w}" for d, n in zip(departments, sizes, strict=True) for w in rng.sample(TEAM_WORDS, n)
    ]
    fixed = gen["services_per_team"]
    free = [i for i, p in enumerate(profiles) if p not in fixed]
    spread = _split(rng, gen["services"] - sum(fixed[p] for p in profiles if p in fixed), len(free), 0.8)
    counts = [fixed.get(p, 0) for p in profiles]
    for i, n in zip(free, spread, strict=True):
        counts[i] = n
    engineers = _split(rng, gen["engineers"], len(profiles), 0.35, minimum=8)
    names = rng.sample([f"{n}-{k}" for n in SERVICE_NOUNS for k in SERVICE_KINDS], gen["services"])
    styles, shares = zip(*gen["delivery"].items(), strict=True)
    teams, used = [], 0
    for name, profile, count, size in zip(team_names, profiles, counts, engineers, strict=True):
        services = []
        for repo in names[used : used + count]:
            pd_name = repo.replace("-", " ").title()
            prod_env = "prod" if rng.random() < 0.1 else "production"
            services.append((repo, pd_name, prod_env, rng.choices(styles, shares)[0]))
        used += count
        teams.append((name, profile, services, {"department": name.split("-")[0], "engineers": size}))
    return teams


def scale_teams(scale: str, seed: int) -> list[tuple]:
    """The team specs of a scale: SCALES' literal list, or drawn from the seed for a generated scale."""
    spec = SCALES[scale]
    return large_teams(seed, spec) if "generated" in spec else spec["teams"]


# How a service ships, and which source serves its deployments (truth `deployment_id` as served there):
# - github: GitHub Deployments API (deployment id)
# - actions: GitHub Actions runs of workflow `deploy` (production) / `deploy-staging` on main (run id)
# - jenkins: builds of Jenkins jobs `deploy-<service>-<environment>` (`<job>#<number>`)
# - tags: annotated tags `vX.Y.Z` with a GitHub release each, production only (`<repository>@<tag>`)
# - gitlab: code on GitLab, deployments through GitLab's deployments API (GitLab deployment id)
# - git: code in a local clone only (simulator/git_export.py writes it), production deployments are annotated
#   tags `vX.Y.Z` in the clone, no host serves anything (`<repository name>@<tag>`)
DELIVERY = ("github", "actions", "jenkins", "tags", "gitlab", "git")
# Teams with a service of these styles came after worlds of the other styles were in use: their developers,
# ids and incident ids are drawn from streams of their own, so adding them changed no other team's history.
OWN_STREAM_DELIVERY = ("git",)

FIRST_NAMES = [
    "ana",
    "ben",
    "chen",
    "dana",
    "eli",
    "fatima",
    "gus",
    "hana",
    "ivan",
    "jo",
    "kofi",
    "lena",
    "mateo",
    "nadia",
    "omar",
    "pia",
    "quinn",
    "ravi",
    "sara",
    "tomas",
    "uma",
    "viktor",
    "wen",
    "xena",
    "yusuf",
    "zoe",
    "ali",
    "bea",
    "cyril",
    "dev",
]
LAST_NAMES = [
    "lopez",
    "schmidt",
    "okafor",
    "tanaka",
    "novak",
    "silva",
    "berg",
    "kim",
    "rossi",
    "haddad",
    "moreau",
    "singh",
    "ivanova",
    "murphy",
    "costa",
]
WORDS = [
    "cache",
    "retry",
    "timeout",
    "pagination",
    "metrics",
    "logging",
    "schema",
    "validation",
    "config",
    "tracing",
    "feature flag",
    "rate limit",
    "index",
    "query",
    "migration",
    "endpoint",
    "auth check",
    "serializer",
    "webhook",
    "batch size",
    "dependency",
    "error handling",
    "healthcheck",
    "pool size",
]
VERBS = ["Add", "Fix", "Refactor", "Tune", "Remove", "Update", "Improve", "Handle", "Simplify", "Document"]
INFRASTRUCTURE_TITLES = [
    "{svc}: replication lag above threshold",
    "{svc}: connection errors",
    "{svc} degraded in eu-west-1",
    "{svc}: packet loss between zones",
    "{svc}: disk usage above 90%",
]
INCIDENT_TITLES = [
    "High error rate on {svc}",
    "{svc} latency above SLO",
    "{svc}: 5xx spike",
    "{svc} health check failing",
    "Elevated timeouts in {svc}",
    "{svc} queue backlog growing",
]


@dataclass(slots=True)
class Developer:
    login: str
    user_id: int
    name: str
    email: str


@dataclass(slots=True)
class Commit:
    sha: str
    service: str
    parents: list[str]
    author: Developer
    authored_at: datetime
    committed_at: datetime
    committer: Developer | None  # None: GitHub's web-flow committer (merges made in the UI)
    message: str
    main_index: int | None = None  # position on main's first-parent chain, for main commits
    reach_index: int | None = None  # first main commit from which this commit is reachable
    pr_number: int | None = None


@dataclass(slots=True)
class Review:
    review_id: int
    reviewer: Developer
    state: str
    submitted_at: datetime
    commit_id: str
    body: str


@dataclass(slots=True)
class PullRequest:
    service: str
    number: int
    pr_id: int
    title: str
    body: str
    author: Developer
    branch: str
    base_sha: str
    commit_shas: list[str]
    opened_at: datetime
    reviews: list[Review]
    merged_at: datetime | None
    closed_at: datetime | None
    merged_by: Developer | None
    merge_method: str | None  # "merge" | "squash"
    merge_commit_sha: str | None
    test_merge_sha: str
    fix_kind: str | None = None  # "revert" | "hotfix": a fix-forward pull request deployed from its branch
    # A branch rewritten (squashed and force-pushed) after the pull request opened: until `rewritten_at` the
    # pull request listed `replaced_shas`; from then on `commit_shas`, all younger than the opening.
    rewritten_at: datetime | None = None
    replaced_shas: list[str] | None = None

    def shas_at(self, now: datetime, commits: dict[str, Commit]) -> list[str]:
        """The pull request's commits as its branch stood at `now`: what GitHub lists then."""
        shas = self.commit_shas
        if self.rewritten_at is not None and now < self.rewritten_at:
            shas = self.replaced_shas or []
        return [sha for sha in shas if commits[sha].committed_at <= now]


@dataclass(slots=True)
class DeploymentStatus:
    status_id: int
    state: str
    created_at: datetime
    description: str


@dataclass(slots=True)
class Deployment:
    deployment_id: int
    service: str
    environment: str
    is_production: bool
    sha: str
    ref: str
    created_at: datetime
    statuses: list[DeploymentStatus]
    description: str
    main_index: int  # main position of the deployed SHA (what it contains)
    is_failure: bool = False
    rollback: Deployment | None = None  # the rollback deployment that restored service after this one
    is_baseline: bool = False
    source_id: str | None = None  # the id its source serves it under; None when no source serves it
    source_number: int = 0  # Jenkins build number / GitLab pipeline and deployment iid / run number
    tag: str | None = None  # release tag (`tags` delivery, production successes only)
    fix_kind: str | None = None  # "revert" | "hotfix": this deployment ships a fix-forward branch
    fixed_by: Deployment | None = None  # the fix deployment that restored service after this one

    @property
    def finished_at(self) -> datetime:
        """When its rollout ended (success or failure): CI runs, builds and GitLab deployments end here."""
        return self.statuses[-1].created_at

    @property
    def deployed_at(self) -> datetime | None:
        for status in self.statuses:
            if status.state == "success":
                return status.created_at
        return None


@dataclass
class PagerDutyService:
    """A PagerDuty service: one per application service, plus shared infrastructure nobody deploys."""

    pd_service_id: str
    name: str
    team: str  # the PagerDuty team that owns it (its escalation policy)
    created_at: datetime
    service: str | None  # the application service it pages for; None for infrastructure

    @property
    def key(self) -> str:
        """A slug for incident keys, as an integration would send it."""
        return self.service or self.name.lower().replace(" ", "-")


@dataclass(slots=True)
class Incident:
    incident_id: str
    number: int
    service: str | None  # the application service; None on an infrastructure PagerDuty service
    pd_service_id: str
    title: str
    urgency: str
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    responder: Developer
    responder_pd_id: str
    cause: Deployment | None


@dataclass
class PathService:
    """A service owning one folder of a monorepo (`services/<folder>/**`): it deploys the repository's main
    line to environments of its own, and pages through a PagerDuty service of its own. The repository, its
    commits and pull requests are the hosting Service's; its deployments sit among the host's (a
    deployment's `service` names its owner), as GitHub lists them for the repository."""

    name: str
    folder: str  # e.g. `services/listings`: the service owns `services/listings/**`
    pd_service_id: str
    pd_name: str
    pd_created_at: datetime
    staging_env: str
    production_env: str

    @property
    def paths(self) -> list[str]:
        """The `paths:` org.yml gives the service."""
        return [f"{self.folder}/**"]


@dataclass
class Service:
    name: str
    team: str
    profile: str
    pd_service_id: str
    pd_name: str
    pd_created_at: datetime
    staging_env: str
    production_env: str
    repo_id: int
    created_at: datetime
    developers: list[Developer]
    commits: dict[str, Commit] = field(default_factory=dict)
    main: list[str] = field(default_factory=list)  # first-parent chain of main, oldest first
    pulls: list[PullRequest] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    delivery: str = "github"  # one of DELIVERY
    gitlab_id: int = 0  # GitLab project id (`gitlab` delivery)
    runs: list[WorkflowRun] = field(default_factory=list)  # GitHub Actions runs (extras worlds)
    squash_share: tuple[float, float] | None = None  # overrides the profile's range
    # A monorepo: the services owning folders of it (this service owns the rest and has no paths), the files
    # each commit touches (commits not listed touch one file of their own outside every folder), and the
    # services each pull request was written for, by number (its files' owners; this service's name for
    # files outside every folder). Empty for a repository of one service.
    path_services: list[PathService] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)
    touched: dict[int, list[str]] = field(default_factory=dict)

    @property
    def fallback(self) -> str:
        """The service a change counts for when no path decides (docs/metrics.md, "Services by path"): the
        service without paths."""
        return self.name

    def owners(self, pr: PullRequest) -> list[str]:
        """The services a merged pull request counts for, sorted by name."""
        return sorted(self.touched.get(pr.number, [self.fallback]))

    def commit_owners(self, sha: str) -> list[str]:
        """The services a direct push counts for, sorted by name: those whose folder holds one of its files,
        and the fallback service for a file outside every folder (or a commit of no recorded files)."""
        owners = set()
        for path in self.files.get(sha) or [""]:
            folders = (part.name for part in self.path_services if path.startswith(f"{part.folder}/"))
            owners.add(next(folders, self.fallback))
        return sorted(owners)

    @property
    def repository(self) -> str:
        """How org.yml names the repository: `owner/name`, or a local clone's name (`git` delivery)."""
        return self.name if self.delivery == "git" else f"{ORG}/{self.name}"

    @property
    def on_github(self) -> bool:
        """Whether the code lives on GitHub (not GitLab-hosted, not in a local clone only)."""
        return self.delivery not in ("gitlab", "git")


@dataclass(slots=True)
class ForkHead:
    """The head of a pull request from a fork: the contributor's fork and its commit, which the service's
    repository does not hold."""

    repository: str  # owner/name of the fork
    repo_id: int
    owner: Developer
    sha: str
    message: str
    committed_at: datetime


@dataclass(slots=True)
class WorkflowRun:
    """A GitHub Actions run: `ci` on a PR's head (no deployment), `deploy*` for a deployment, or a run of
    the deploy workflow that deploys nothing (a pull request's `pull_request_target` run, a `workflow_run`
    run triggered by a fork's pull request: `fork` then holds the fork's head)."""

    run_id: int
    job_id: int
    name: str
    event: str
    head_sha: str
    head_branch: str
    run_number: int
    created_at: datetime
    started_at: datetime
    completed_at: datetime
    conclusion: str
    deployment: Deployment | None = None
    fork: ForkHead | None = None


@dataclass
class Team:
    name: str
    profile: str
    department: str | None = None  # the department the team belongs to (large org)


def _pickle_by_fields(cls: type) -> type:
    """Pickle a slotted record as its class and field values: the generic path for `__slots__` builds a
    dictionary of every object's state and sets each attribute back one by one, twice as slow for the
    millions of records of a large org (simulator/cache.py)."""
    fields = attrgetter(*cls.__slots__)

    def reduce(self):
        return cls, fields(self)

    cls.__reduce__ = reduce
    return cls


for _record in (
    Developer,
    Commit,
    Review,
    PullRequest,
    DeploymentStatus,
    Deployment,
    Incident,
    ForkHead,
    WorkflowRun,
):
    _pickle_by_fields(_record)


class _Ids:
    """Id sequences like GitHub's: one global numbering per object type, increasing with creation time."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.last = {
            "pr": rng.randrange(1_500_000_000, 1_600_000_000),
            "review": rng.randrange(2_000_000_000, 2_100_000_000),
            "deployment": rng.randrange(1_200_000_000, 1_300_000_000),
            "status": rng.randrange(2_500_000_000, 2_600_000_000),
            "user": rng.randrange(10_000_000, 20_000_000),
            "repo": rng.randrange(700_000_000, 800_000_000),
        }
        # Later kinds start from their own stream, so the ids above (and the world) stay as they were.
        extra = random.Random(self.last["repo"])
        self.last.update(
            {
                "run": extra.randrange(9_000_000_000, 9_100_000_000),
                "job": extra.randrange(25_000_000_000, 25_100_000_000),
                "gl_project": extra.randrange(40_000_000, 50_000_000),
                "gl_deployment": extra.randrange(600_000_000, 700_000_000),
                "gl_pipeline": extra.randrange(1_100_000_000, 1_200_000_000),
                "gl_job": extra.randrange(7_000_000_000, 7_100_000_000),
            }
        )

    def next(self, kind: str) -> int:
        """The next id of `kind`; gaps stand for other organisations' objects created meanwhile."""
        self.last[kind] += self.rng.randint(1, 40)
        return self.last[kind]


# A production rollout is over within this long (start within a minute, at most 25 minutes of rollout); a
# deployment that could not finish before a rollback starts is not started.
ROLLOUT_MARGIN = timedelta(minutes=30)
# Without alert grouping, one outage often pages twice (an error-rate and a latency monitor, a synthetic
# check): the share of paged outages with a second incident, and its lag after the first (median, sigma).
SECOND_ALERT_SHARE = 0.4
SECOND_ALERT_MINUTES = (20.0, 0.8)


def _pd_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def _lognormal(rng: random.Random, median: float, sigma: float = 0.7) -> float:
    """A log-normal draw: the shape of real durations (detection, repair), right-skewed and never negative."""
    return median * math.exp(rng.gauss(0.0, sigma))


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class World:
    """A generated organisation and its full history up to `end`.

    Records hold their complete timelines; "as of" views (what existed at a time) are taken by the emulator
    and by the truth writer, so one code path decides what the outside world looked like at any moment.
    """

    def __init__(self, scale: str, seed: int, start: datetime, end: datetime):
        self.scale = scale
        self.seed = seed
        self.start = start
        self.end = end
        self.org = ORG
        self.teams: list[Team] = []
        self.services: list[Service] = []
        self.incidents: list[Incident] = []
        self.pd_services: list[PagerDutyService] = []  # application services' first, then infrastructure
        self.developers: dict[str, Developer] = {}
        self.pd_users: dict[str, str] = {}  # login -> PagerDuty user id
        self.escalation_policy_id = ""
        self.extras = bool(SCALES.get(scale, {}).get("extras"))
        # service -> simulator SHA -> git SHA of its exported clone (`git` delivery; simulator/git_export.py)
        self.git_shas: dict[str, dict[str, str]] = {}

    # ---------------------------------------------------------------- public API
    def service(self, name: str) -> Service:
        """Look a service up by its repository name."""
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    def org_config(
        self,
        github_base_url: str,
        pagerduty_base_url: str,
        github_token: str,
        pagerduty_token: str,
        *,
        gitlab_base_url: str | None = None,
        gitlab_token: str = "gl-demo-token",
        jenkins_base_url: str | None = None,
        jenkins_user: str = "deploybot",
        jenkins_token: str = "jenkins-demo-token",
        git_repositories: str | Path = "repos",
    ) -> dict[str, Any]:
        """The `org.yml` content that points deploylens at this organisation (docs/architecture.md).

        GitLab and Jenkins appear only when some service ships through them; their base URLs default to the
        emulator's (`.../gitlab`, `.../jenkins` next to `.../github`). Services that do not ship through the
        GitHub Deployments API get deploy rules for their style; the others keep the default. Services whose
        code is a local clone (`git`) are listed in the git source at `<git_repositories>/<name>` (a relative
        folder is relative to the org.yml's folder), where `simulator.git_export.export_repositories` writes
        them.
        """
        from simulator.automation import CONFIGURED_BOTS

        start_date = self.start.date().isoformat()
        root = github_base_url.rstrip("/").removesuffix("/github")
        config = {
            "org": self.org,
            "sources": {
                "github": {
                    "base_url": github_base_url,
                    "organization": self.org,
                    "token": github_token,
                    "start_date": start_date,
                },
                "pagerduty": {
                    "base_url": pagerduty_base_url,
                    "token": pagerduty_token,
                    "start_date": start_date,
                },
            },
            # the configuration has no department key: a department is named in the team's description
            "teams": [
                {
                    "name": team.name,
                    **({"description": f"{team.department} department"} if team.department else {}),
                }
                for team in self.teams
            ],
            "services": [
                {
                    "name": svc.name,
                    "team": svc.team,
                    "repository": svc.repository,
                    "pagerduty_services": [svc.pd_service_id],
                    **({"deployments": rules} if (rules := deploy_rules(svc)) else {}),
                }
                for svc in self.services
            ]
            + [
                {
                    "name": part.name,
                    "team": svc.team,
                    "repository": svc.repository,
                    "paths": part.paths,
                    "pagerduty_services": [part.pd_service_id],
                    "deployments": _environment_rules(part.production_env, part.staging_env),
                }
                for svc in self.services
                for part in svc.path_services
            ],
            "environments": [
                {"name": "staging", "match": "^(stag|stg)"},
                {"name": "production", "match": "^prod", "production": True},
            ],
            "failure": {"incident_window_hours": 24},
            # automation that reviews under a plain account (simulator/automation.py)
            "bots": list(CONFIGURED_BOTS),
        }
        styles = {svc.delivery for svc in self.services}
        if "gitlab" in styles:
            config["sources"]["gitlab"] = {
                "base_url": gitlab_base_url or f"{root}/gitlab",
                "token": gitlab_token,
                "group": self.org,
                "start_date": start_date,
            }
        if "git" in styles:
            config["sources"]["git"] = {
                "repositories": [
                    {"path": str(Path(git_repositories) / svc.name), "name": svc.name}
                    for svc in self.services
                    if svc.delivery == "git"
                ]
            }
        if "jenkins" in styles:
            config["sources"]["jenkins"] = {
                "base_url": jenkins_base_url or f"{root}/jenkins",
                "user": jenkins_user,
                "token": jenkins_token,
                "start_date": start_date,
            }
        return config

    def truth_tables(self, as_of: datetime | None = None) -> dict[str, Any]:
        """The ground truth as of `as_of` (default `end`), one DataFrame per table (see `write_truth`)."""
        from simulator.truth import build_truth

        return build_truth(self, as_of)

    def write_truth(self, path: str | Path, as_of: datetime | None = None) -> list[Path]:
        """Write deployments/changes/incidents/commits parquet files into folder `path`, and the git SHAs
        of the services whose code is a local clone (`git_shas.parquet`, when there are any).

        `as_of`: only what exists at that moment, as the emulator serves it with its clock there (after
        `Emulator.advance`, the truth an incremental refresh's marts are compared with)."""
        from simulator.git_export import write_git_shas
        from simulator.truth import write_truth

        written = write_truth(self, Path(path), as_of)
        git_shas = write_git_shas(self, Path(path))
        return written + ([git_shas] if git_shas else [])


def deploy_rules(svc: Service) -> list[dict[str, str]]:
    """The `deployments:` rules that recognise a service's deployments in its source (empty: the default,
    GitHub deployments matched by environment name)."""
    if svc.delivery == "gitlab":
        return [
            {"environment": "production", "gitlab_environment": "^prod"},
            {"environment": "staging", "gitlab_environment": "^stag"},
        ]
    if svc.delivery == "actions":
        # `deploy` also runs when `ci` completes on main (`workflow_run`); a fork's main triggers it too
        # (FORK_RUN_SHARE), and the rule keeps such runs out by their head repository.
        return [
            {
                "environment": "production",
                "workflow": "^deploy$",
                "branch": "^main$",
                "events": ["push", "workflow_dispatch", "workflow_run"],
            },
            {"environment": "staging", "workflow": "^deploy-staging$", "branch": "^main$"},
        ]
    if svc.delivery == "jenkins":
        return [
            {"environment": "production", "jenkins_job": f"^deploy-{svc.name}-{svc.production_env}$"},
            {"environment": "staging", "jenkins_job": f"^deploy-{svc.name}-{svc.staging_env}$"},
        ]
    if svc.delivery in ("tags", "git"):
        return [{"environment": "production", "tag": r"^v\d+\.\d+\.\d+$"}]
    if svc.path_services:  # each service of a monorepo claims its own environments' deployments
        return _environment_rules(svc.production_env, svc.staging_env)
    return []


def _environment_rules(production_env: str, staging_env: str) -> list[dict[str, str]]:
    return [
        {"environment": "production", "github_environment": f"^{re.escape(production_env)}$"},
        {"environment": "staging", "github_environment": f"^{re.escape(staging_env)}$"},
    ]


# A monorepo's pull requests (docs/simulator.md, "A monorepo"): the share of each scope (the rest change
# one service's folder), and the files each part holds. A shared file is outside every service's folder.
MONOREPO_SCOPES = {"shared": 0.2, "two services": 0.15, "service and shared": 0.15}
SHARED_FILES = ("README.md", "Makefile", "libs/common/http.py", "libs/common/money.py", "docs/setup.md")
SERVICE_FILES = ("api.py", "models.py", "handlers.py", "tests/test_api.py")
# A monorepo's direct pushes besides every repository's occasional one: the chance of one a working day, each
# changing one file of a service's folder or of shared code.
MONOREPO_DIRECT_PUSH_RATE = 0.15


# -------------------------------------------------------------------- generation
class _ServiceBuilder:
    """Builds one service's history; each service has its own random stream so services are independent."""

    def __init__(self, world: World, svc: Service, ids: _Ids, rng: random.Random):
        self.world = world
        self.svc = svc
        self.ids = ids
        self.rng = rng
        self.p = PROFILES[svc.profile]
        self.counter = 0
        self.main_times: list[datetime] = []
        # (cumulative paces of the developers, pull requests per working day): activity per engineer
        self.activity: tuple[list[float], float] | None = None
        low, high = svc.squash_share or self.p["squash_share"]
        self.squash_share = rng.uniform(low, high)

    # -- commits
    def _sha(self, text: str) -> str:
        self.counter += 1
        raw = f"{self.world.seed}|{self.svc.name}|{self.counter}|{text}"
        return hashlib.sha1(raw.encode()).hexdigest()

    def _commit(
        self,
        parents: list[str],
        author: Developer,
        authored_at: datetime,
        committed_at: datetime,
        committer: Developer | None,
        message: str,
        pr_number: int | None = None,
    ) -> Commit:
        authored = floor_second(authored_at)
        commit = Commit(
            self._sha(message + "".join(parents)),
            self.svc.name,
            parents,
            author,
            authored,
            authored
            if committed_at == authored_at
            else floor_second(committed_at),  # one object: less memory
            committer,
            message,
            pr_number=pr_number,
        )
        self.svc.commits[commit.sha] = commit
        return commit

    def _append_main(self, commit: Commit) -> None:
        commit.main_index = len(self.svc.main)
        self.svc.main.append(commit.sha)
        self.main_times.append(commit.committed_at)
        # mark everything newly reachable from main with this position
        stack = [commit.sha]
        while stack:
            sha = stack.pop()
            node = self.svc.commits[sha]
            if node.reach_index is not None:
                continue
            node.reach_index = commit.main_index
            stack.extend(node.parents)

    def main_head_at(self, ts: datetime) -> int:
        """Index of main's head at `ts` (main commits are appended in time order)."""
        return max(0, bisect_right(self.main_times, ts) - 1)

    def _title(self) -> str:
        return f"{self.rng.choice(VERBS)} {self.rng.choice(WORDS)} in {self.rng.choice(WORDS)}"

    # -- pull requests
    def build_history(self) -> None:
        rng, p, svc = self.rng, self.p, self.svc
        devs = svc.developers
        initial_at = self.world.start - timedelta(days=rng.randint(20, 60))
        initial = self._commit([], devs[0], initial_at, initial_at, devs[0], "Initial commit")
        self._append_main(initial)

        drafts: list[dict[str, Any]] = []
        # A monorepo's own direct pushes (docs/simulator.md, "A monorepo"), from a stream of their own so the
        # rest of its history draws what it drew before they existed.
        pushes = (
            random.Random(f"{self.world.seed}|{self.world.end.isoformat()}|direct-pushes|{svc.name}")
            if svc.path_services
            else None
        )
        day = self.world.start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < self.world.end:
            if day.weekday() < 5:
                if self.activity is None:
                    count = p["pr_floor"] + _poisson(rng, p["pr_rate"])
                else:  # the sum of the engineers' Poisson streams; each PR's author in proportion to pace
                    count = _poisson(rng, self.activity[1])
                for _ in range(count):
                    author = None
                    if self.activity is not None:
                        author = rng.choices(devs, cum_weights=self.activity[0])[0]
                    first = day + timedelta(
                        hours=DAY_START, minutes=rng.uniform(0, (DAY_END - DAY_START) * 60)
                    )
                    drafts.append(self._draft_pr(first, author))
                if rng.random() < 0.04:  # an occasional direct push to main
                    at = day + timedelta(hours=DAY_START, minutes=rng.uniform(0, 540))
                    drafts.append({"direct": True, "at": at, "author": rng.choice(devs)})
                if pushes is not None and pushes.random() < MONOREPO_DIRECT_PUSH_RATE:
                    at = day + timedelta(hours=DAY_START, minutes=pushes.uniform(0, 540))
                    area = pushes.choice([None, *svc.path_services])
                    where = SHARED_FILES if area is None else [f"{area.folder}/{f}" for f in SERVICE_FILES]
                    title = f"{pushes.choice(VERBS)} {pushes.choice(WORDS)} in {pushes.choice(WORDS)}"
                    drafts.append(
                        {
                            "direct": True,
                            "at": at,
                            "author": pushes.choice(devs),
                            "title": title,
                            "files": [pushes.choice(where)],
                        }
                    )
            day += timedelta(days=1)

        pr_drafts = sorted((d for d in drafts if not d.get("direct")), key=lambda d: d["opened"])
        for number, draft in enumerate(pr_drafts, start=1):
            draft["number"] = number
        # Main only moves forward in time: replay merges and direct pushes in order.
        events = sorted(
            (d for d in drafts if d.get("direct") or d["merged_at"] is not None),
            key=lambda d: d["at"] if d.get("direct") else d["merged_at"],
        )
        for draft in events:
            if draft.get("direct"):
                head = self.svc.main[-1]
                commit = self._commit(
                    [head],
                    draft["author"],
                    draft["at"],
                    draft["at"],
                    draft["author"],
                    f"{draft.get('title') or self._title()} (hotfix on main)",
                )
                if "files" in draft:
                    svc.files[commit.sha] = draft["files"]
                elif svc.path_services:
                    self._touch(commit.sha, [rng.choice([None, *svc.path_services])])
                self._append_main(commit)
            else:
                self._materialise_pr(draft, merged=True)
        for draft in drafts:
            if not draft.get("direct") and draft["merged_at"] is None:
                self._materialise_pr(draft, merged=False)
        svc.pulls.sort(key=lambda pr: pr.number)

    def _draft_pr(self, first_commit_at: datetime, author: Developer | None = None) -> dict[str, Any]:
        rng, p = self.rng, self.p
        devs = self.svc.developers
        if author is None:
            author = rng.choice(devs)
        others = [d for d in devs if d is not author]
        n_commits = min(6, 1 + _poisson(rng, 1.2))
        opened = add_working_hours(first_commit_at, _lognormal(rng, p["coding_wh"]))
        times = sorted(
            [first_commit_at]
            + [first_commit_at + (opened - first_commit_at) * rng.random() for _ in range(n_commits - 1)]
        )
        reviews: list[tuple[Developer, str, datetime]] = []
        first_review = add_working_hours(opened, _lognormal(rng, p["pickup_wh"], 0.9))
        if rng.random() < 0.15:  # the author comments on their own PR before anyone else looks
            reviews.append((author, "COMMENTED", opened + (first_review - opened) * rng.uniform(0.1, 0.9)))
        reviewer = rng.choice(others)
        extra_commit_at = None
        if rng.random() < 0.25:
            reviews.append((reviewer, rng.choice(["CHANGES_REQUESTED", "COMMENTED"]), first_review))
            extra_commit_at = add_working_hours(first_review, _lognormal(rng, p["review_wh"] / 2))
            approved = add_working_hours(extra_commit_at, _lognormal(rng, p["review_wh"] / 2))
            reviews.append((reviewer, "APPROVED", approved))
        else:
            approved = add_working_hours(first_review, _lognormal(rng, p["review_wh"] / 3))
            reviews.append((reviewer, "APPROVED", approved))
        merged_at: datetime | None = add_working_hours(approved, rng.uniform(0.05, 0.8))
        closed_at: datetime | None = None
        fate = rng.random()
        if fate < 0.05:  # abandoned: closed without merge
            closed_at = add_working_hours(opened, rng.uniform(4, 40))
            merged_at = None
            reviews = [r for r in reviews if r[2] < closed_at]
            extra_commit_at = None
        elif fate < 0.07:  # still open, forgotten
            merged_at = None
        if merged_at is not None and merged_at > self.world.end:
            merged_at = None  # merges after the end of history do not exist
        return {
            "author": author,
            "first": first_commit_at,
            "times": times,
            "opened": opened,
            "reviews": reviews,
            "extra_commit_at": extra_commit_at,
            "merged_at": merged_at,
            "closed_at": closed_at,
            "title": self._title(),
            "merger": rng.choice([author, reviewer]),
        }

    def _scope(self) -> list[PathService | None]:
        """What a monorepo's pull request changes: one service's folder (most), two services' folders, one
        service's folder and shared code, or shared code only (None: files outside every folder)."""
        rng, parts = self.rng, self.svc.path_services
        draw = rng.random()
        if draw < MONOREPO_SCOPES["shared"]:
            return [None]
        draw -= MONOREPO_SCOPES["shared"]
        if draw < MONOREPO_SCOPES["two services"]:
            return list(rng.sample(parts, 2))
        draw -= MONOREPO_SCOPES["two services"]
        if draw < MONOREPO_SCOPES["service and shared"]:
            return [rng.choice(parts), None]
        return [rng.choice(parts)]

    def _touch(self, sha: str, scope: list[PathService | None]) -> list[str]:
        """Record the files a monorepo commit changes: one in each part of `scope`."""
        files = sorted(
            {
                self.rng.choice(
                    SHARED_FILES if area is None else [f"{area.folder}/{f}" for f in SERVICE_FILES]
                )
                for area in scope
            }
        )
        self.svc.files[sha] = files
        return files

    def _materialise_pr(self, d: dict[str, Any], merged: bool) -> None:
        rng, svc = self.rng, self.svc
        number_placeholder = d["number"]
        scope = self._scope() if svc.path_services else []
        if scope:
            svc.touched[number_placeholder] = sorted({svc.name if a is None else a.name for a in scope})
        base_index = self.main_head_at(d["first"])
        base_sha = svc.main[base_index]
        branch = f"{d['author'].login.split('-')[0]}/{d['title'].lower().replace(' ', '-')[:40]}"
        parent = base_sha
        shas: list[str] = []
        times = list(d["times"])
        if d["extra_commit_at"] is not None:
            times.append(d["extra_commit_at"])
        for i, at in enumerate(times):
            msg = (
                d["title"]
                if i == 0
                else rng.choice(
                    ["address review comments", "fix tests", "wip", "tidy up", f"{self._title()}"]
                )
            )
            commit = self._commit(
                [parent], d["author"], at, at, d["author"], msg, pr_number=number_placeholder
            )
            if scope:
                self._touch(commit.sha, scope)
            shas.append(commit.sha)
            parent = commit.sha
        reviews = []
        for reviewer, state, at in sorted(d["reviews"], key=lambda r: r[2]):
            head = shas[0]
            for sha in shas:
                if svc.commits[sha].committed_at <= at:
                    head = sha
            reviews.append(
                Review(
                    0,
                    reviewer,
                    state,
                    floor_second(at),
                    head,
                    "Looks good to me" if state == "APPROVED" else "A few comments inline.",
                )
            )
        merge_sha = None
        method = None
        merged_at = floor_second(d["merged_at"]) if merged else None
        if merged:
            method = "squash" if rng.random() < self.squash_share else "merge"
            head_main = svc.main[-1]
            if method == "merge":
                commit = self._commit(
                    [head_main, shas[-1]],
                    d["merger"],
                    merged_at,
                    merged_at,
                    None,
                    f"Merge pull request #{number_placeholder} from {ORG}/{branch}\n\n{d['title']}",
                    pr_number=number_placeholder,
                )
            else:
                body = "\n".join(f"* {svc.commits[s].message}" for s in shas)
                commit = self._commit(
                    [head_main],
                    d["author"],
                    merged_at,
                    merged_at,
                    None,
                    f"{d['title']} (#{number_placeholder})\n\n{body}",
                    pr_number=number_placeholder,
                )
            self._append_main(commit)
            merge_sha = commit.sha
            if scope:  # a merge or squash commit changes main as the pull request's commits together did
                svc.files[merge_sha] = sorted({f for sha in shas for f in svc.files[sha]})
        pr = PullRequest(
            service=svc.name,
            number=number_placeholder,
            pr_id=0,
            title=d["title"],
            body=f"This change will {d['title'].lower()}.",
            author=d["author"],
            branch=branch,
            base_sha=base_sha,
            commit_shas=shas,
            opened_at=floor_second(d["opened"]),
            reviews=reviews,
            merged_at=merged_at,
            closed_at=merged_at if merged else (floor_second(d["closed_at"]) if d["closed_at"] else None),
            merged_by=d["merger"] if merged else None,
            merge_method=method,
            merge_commit_sha=merge_sha,
            test_merge_sha=hashlib.sha1(f"test-merge|{svc.name}|{shas[-1]}".encode()).hexdigest(),
        )
        svc.pulls.append(pr)

    # -- deployments
    def _deploy(
        self,
        env: str,
        production: bool,
        sha_index: int | None,
        at: datetime,
        *,
        rollback_to: Deployment | None = None,
        fail_rollout: bool = False,
        baseline: bool = False,
    ) -> Deployment:
        rng = self.rng
        at = floor_second(at)
        if rollback_to is not None:
            index, sha = rollback_to.main_index, rollback_to.sha
            ref, description = sha, f"Rollback to {sha[:7]}"
        else:
            index = sha_index if sha_index is not None else self.main_head_at(at)
            sha = self.svc.main[index]
            ref, description = "main", f"Deploy {sha[:7]} to {env}"
        started = at + timedelta(seconds=rng.randint(5, 60))
        duration = timedelta(minutes=rng.uniform(2, 9) if self.svc.profile == "elite" else rng.uniform(4, 25))
        finished = started + duration
        statuses = [DeploymentStatus(0, "in_progress", started, "Deployment started")]
        if fail_rollout:
            statuses.append(
                DeploymentStatus(
                    0, "failure", floor_second(finished), "Rollout failed: health checks did not pass"
                )
            )
        else:
            statuses.append(
                DeploymentStatus(0, "success", floor_second(finished), "Deployment finished successfully")
            )
        if baseline:
            for status in statuses:
                status.created_at = at
        dep = Deployment(
            0,
            self.svc.name,
            env,
            production,
            sha,
            ref,
            at,
            statuses,
            description,
            index,
            is_baseline=baseline,
        )
        self.svc.deployments.append(dep)
        return dep

    def _planned_times(self) -> list[datetime]:
        """Production rollout times the team's pipeline would start, before failures interfere."""
        rng, svc, world = self.rng, self.svc, self.world
        times: list[datetime] = []
        if svc.profile == "weekly":
            weekday = rng.choice([1, 2, 3])
            day = world.start.replace(hour=0, minute=0, second=0, microsecond=0)
            while day < world.end:
                if day.weekday() == weekday and day > world.start and rng.random() > 0.05:
                    times.append(day + timedelta(hours=rng.uniform(13, 16.5)))
                day += timedelta(days=1)
        elif svc.profile == "daily":
            day = world.start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            while day < world.end:
                if day.weekday() < 5 and rng.random() < 0.95:
                    times.append(day + timedelta(hours=rng.uniform(14, 17)))
                day += timedelta(days=1)
        else:  # continuous delivery: a pipeline run starts shortly after merges, batching what landed
            merges = sorted(self.main_times[1:])
            pending_until: datetime | None = None
            for merged in merges:
                if pending_until is not None and merged <= pending_until:
                    continue
                pending_until = merged + timedelta(minutes=rng.uniform(10, 30))
                times.append(pending_until + timedelta(minutes=rng.uniform(8, 20)))
        return times

    def build_deployments(self) -> None:
        """Ship main through staging to production on the team's cadence; some rollouts break things.

        A bad deployment is noticed after a detection lag: a page (an incident), or, for some of those rolled
        back, a smoke test or canary that pages nobody. A rolled-back outage holds the pipeline from detection
        until the rollback is out; a deployment that landed before detection carried the breakage and is
        rolled back with it. A fixed-forward outage holds nothing: regular deployments go on, and the incident
        is resolved by hand. Nothing here looks at how anyone attributes incidents to deployments.
        """
        rng, p, svc, world = self.rng, self.p, self.svc, self.world
        # Baseline: both environments get the initial commit when history starts.
        self._deploy(svc.staging_env, False, 0, world.start, baseline=True)
        last_good = last_prod = self._deploy(svc.production_env, True, 0, world.start, baseline=True)
        outage: dict[str, Any] | None = None  # a rolled-back outage whose rollback is still ahead
        broken_index = -1  # main position of the latest rolled-back build: never shipped again
        for planned in self._planned_times():
            if planned >= world.end:
                continue
            if outage is not None:
                rollback = outage["rollback"]
                if planned >= (rollback.deployed_at or rollback.created_at):
                    last_prod, outage = rollback, None
                elif planned >= min(outage["detect_at"], rollback.created_at - ROLLOUT_MARGIN):
                    continue  # the pipeline is held while the team rolls back
            staging_at = planned - (
                timedelta(minutes=rng.uniform(6, 15))
                if svc.profile == "elite"
                else timedelta(hours=rng.uniform(1, 3))
                if svc.profile == "daily"
                else timedelta(hours=rng.uniform(18, 26))
            )
            staging_at = max(staging_at, world.start + timedelta(minutes=1))
            staging = self._deploy(svc.staging_env, False, None, staging_at, fail_rollout=rng.random() < 0.02)
            if staging.deployed_at is None:  # retry the staging rollout once
                self._deploy(
                    svc.staging_env,
                    False,
                    staging.main_index,
                    staging_at + timedelta(minutes=rng.uniform(10, 40)),
                )
            index = self.main_head_at(planned)
            if index <= broken_index:
                continue  # after a rollback, the pipeline waits for something new on main (the fix)
            if index == last_prod.main_index and rng.random() < 0.5:
                continue  # nothing new to ship: most pipelines skip
            dep = self._deploy(svc.production_env, True, index, planned, fail_rollout=rng.random() < 0.03)
            if dep.deployed_at is None and outage is not None:
                continue  # a rollback is coming anyway; nobody retries the rollout
            if dep.deployed_at is None:
                dep = self._deploy(
                    svc.production_env, True, index, planned + timedelta(minutes=rng.uniform(20, 60))
                )
            deployed_at = dep.deployed_at
            assert deployed_at is not None
            ships_changes = index > last_prod.main_index  # a redeploy of the same build breaks nothing new
            last_prod = dep
            if outage is not None:
                # landed before anyone noticed the outage: it carries the breakage and is rolled back with it
                dep.is_failure = True
                dep.rollback = outage["rollback"]
                continue
            if rng.random() >= p["bad_rate"] or not ships_changes:
                last_good = dep
                continue
            dep.is_failure = True
            detect_at = deployed_at + timedelta(minutes=self._detection_lag())
            rolled_back = rng.random() < p["rollback_share"]
            paged = not rolled_back or rng.random() >= p["unpaged_share"]
            restored_at = None
            if rolled_back:
                rb_at = detect_at + timedelta(minutes=_lognormal(rng, *p["rollback_minutes"]))
                if rb_at < world.end:
                    rollback = self._deploy(svc.production_env, True, None, rb_at, rollback_to=last_good)
                    dep.rollback = rollback
                    restored_at = rollback.deployed_at
                    broken_index = dep.main_index
                    outage = {"detect_at": detect_at, "rollback": rollback}
            if paged:
                first = self.world_incident(detect_at, dep, restored_at)
                if rng.random() < SECOND_ALERT_SHARE:
                    # another monitor (latency next to errors, a synthetic check) pages separately while
                    # the outage lasts; it cannot fire once service is restored
                    again = detect_at + timedelta(minutes=_lognormal(rng, *SECOND_ALERT_MINUTES))
                    if again < min(t for t in (first.resolved_at, restored_at) if t is not None):
                        self.world_incident(again, dep, restored_at)

        # Incidents on the service that no deployment caused (a dependency, a traffic spike, a bad config
        # change made outside the pipeline), at any time of day or week.
        weeks = (world.end - world.start).days / 7
        for _ in range(_poisson(rng, p["app_uncaused_per_week"] * weeks)):
            self.world_incident(world.start + (world.end - world.start) * rng.random(), None)

    def _detection_lag(self) -> float:
        """Minutes from a bad deployment to its first alert: log-normal, plus a slow-burn share for teams
        whose fast alerting catches most breakage in minutes but not a leak or a nightly job (hours)."""
        rng, p = self.rng, self.p
        share, median, sigma = p["slow_burn"]
        if rng.random() < share:
            return _lognormal(rng, median, sigma)
        return _lognormal(rng, *p["detect_minutes"])

    def world_incident(
        self, created: datetime, cause: Deployment | None, restored_at: datetime | None = None
    ) -> Incident:
        """Page the service's on-call. `restored_at`: a rollback restored service, so the alert clears."""
        rng, p = self.rng, self.p
        created = floor_second(created)
        responder = rng.choice(self.svc.developers)
        ack = created + timedelta(
            minutes=rng.uniform(1, 8) if self.svc.profile == "elite" else rng.uniform(2, 45)
        )
        if restored_at is not None:
            resolved = max(ack, restored_at) + timedelta(minutes=rng.uniform(2, 15))
        else:
            resolved = ack + timedelta(minutes=_lognormal(rng, *p["resolve_minutes"]))
        incident = Incident(
            incident_id="",
            number=0,
            service=self.svc.name,
            pd_service_id=self.svc.pd_service_id,
            title=rng.choice(INCIDENT_TITLES).format(svc=self.svc.pd_name),
            urgency=rng.choice(["high", "high", "low"]),
            created_at=created,
            acknowledged_at=floor_second(ack) if rng.random() < 0.9 else None,
            resolved_at=floor_second(resolved),
            responder=responder,
            responder_pd_id=self.world.pd_users[responder.login],
            cause=cause,
        )
        self.world.incidents.append(incident)
        return incident


class _PathServiceBuilder(_ServiceBuilder):
    """Deploys a path service of a monorepo: the host's main line, on the team's cadence, to the path
    service's own environments, from a random stream of its own; its outages page its own PagerDuty
    service. Its deployments join the host's (GitHub lists a repository's deployments together)."""

    def __init__(self, host: _ServiceBuilder, part: PathService, rng: random.Random):
        svc = host.svc
        view = Service(
            name=part.name,
            team=svc.team,
            profile=svc.profile,
            pd_service_id=part.pd_service_id,
            pd_name=part.pd_name,
            pd_created_at=part.pd_created_at,
            staging_env=part.staging_env,
            production_env=part.production_env,
            repo_id=svc.repo_id,
            created_at=svc.created_at,
            developers=svc.developers,
            commits=svc.commits,
            main=svc.main,
            pulls=svc.pulls,
            delivery=svc.delivery,
        )
        super().__init__(host.world, view, host.ids, rng)
        self.host = host
        self.main_times = host.main_times  # one main line: the host builds it

    def build_history(self) -> None:
        """The host builds the repository's history."""

    def build_deployments(self) -> None:
        super().build_deployments()
        self.host.svc.deployments.extend(self.svc.deployments)
        self.svc.deployments = []


def _infrastructure_incidents(
    world: World, pd: PagerDutyService, key: str, rng: random.Random, on_call: list[str]
) -> None:
    """Incidents of shared infrastructure: at any time, answered by whoever is on call across teams."""
    _, per_week, resolve = INFRASTRUCTURE[key]
    weeks = (world.end - world.start).days / 7
    count = _poisson(rng, per_week * weeks)
    for _ in range(count):
        created = floor_second(world.start + (world.end - world.start) * rng.random())
        _infrastructure_incident(world, pd, created, resolve, rng, on_call)


def _infrastructure_incident(
    world: World,
    pd: PagerDutyService,
    created: datetime,
    resolve: tuple[float, float],
    rng: random.Random,
    on_call: list[str],
) -> None:
    """`on_call`: logins of the developers who answer infrastructure pages."""
    responder = world.developers[rng.choice(on_call)]
    ack = created + timedelta(minutes=rng.uniform(2, 20))
    resolved = ack + timedelta(minutes=_lognormal(rng, *resolve))
    world.incidents.append(
        Incident(
            incident_id="",
            number=0,
            service=None,
            pd_service_id=pd.pd_service_id,
            title=rng.choice(INFRASTRUCTURE_TITLES).format(svc=pd.name),
            urgency="high",
            created_at=created,
            acknowledged_at=floor_second(ack) if rng.random() < 0.9 else None,
            resolved_at=floor_second(resolved),
            responder=responder,
            responder_pd_id=world.pd_users[responder.login],
            cause=None,
        )
    )


def generate_org(
    scale: str = "tiny", seed: int = 7, end: datetime | None = None, *, weeks: int | None = None
) -> World:
    """Generate a simulated organisation; the same (scale, seed, end, weeks) always gives the same world.

    `weeks` shortens (or lengthens) the scale's history: a large org over two weeks exercises the large org's
    code path in seconds."""
    with paused_gc():
        return _generate(scale, seed, end, weeks)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of lasting records are created (generated or read
    from the cache): its full collections would walk them again and again. Nothing built then forms
    reference cycles to collect, so what exists afterwards is frozen out of later collections (reference
    counting still frees it): without that, the first full collection after a large org was read stalled a
    request for seconds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _generate(scale: str, seed: int, end: datetime | None, weeks: int | None) -> World:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r} (known: {', '.join(SCALES)})")
    if end is None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if end.tzinfo is None:
        raise ValueError("end must be a timezone-aware datetime")
    end = floor_second(end.astimezone(UTC))
    spec = SCALES[scale]
    start = end - timedelta(weeks=spec["weeks"] if weeks is None else weeks)
    world = World(scale, seed, start, end)
    rng = random.Random(f"deploylens-sim|{seed}|{end.isoformat()}|{scale}")
    ids = _Ids(rng)
    world.escalation_policy_id = _pd_id(rng, "P", 6)
    names = [f"{f}-{last}" for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    teams = scale_teams(scale, seed)
    if "generated" in spec:
        # more engineers than first-last pairs: namesakes get a number, as their logins would
        names += [f"{name}{k}" for k in range(2, 10) for name in names]
    builders: list[_ServiceBuilder] = []
    shared = [team for team in teams if not _own_stream(team)]
    own = [team for team in teams if _own_stream(team)]
    used = 0
    for team in shared:
        used = _add_team(world, team, rng, ids, names, used, builders)
    # Infrastructure incidents page the on-call of the teams drawn from the shared stream.
    on_call = sorted(world.developers)
    shared_rng = ids.rng
    for team in own:
        ids.rng = random.Random(f"{seed}|{end.isoformat()}|team|{team[0]}")
        used = _add_team(world, team, ids.rng, ids, names, used, builders)
    ids.rng = shared_rng
    world.pd_services = [
        PagerDutyService(svc.pd_service_id, svc.pd_name, svc.team, svc.pd_created_at, svc.name)
        for svc in world.services
    ] + [
        PagerDutyService(part.pd_service_id, part.pd_name, svc.team, part.pd_created_at, part.name)
        for svc in world.services
        for part in svc.path_services
    ]
    infrastructure = []
    for key in spec["infrastructure"]:
        name = INFRASTRUCTURE[key][0]
        pd = PagerDutyService(
            _pd_id(rng, "P", 6), name, "sre", start - timedelta(days=rng.randint(200, 900)), None
        )
        world.pd_services.append(pd)
        infrastructure.append((pd, key, random.Random(f"{seed}|{end.isoformat()}|pagerduty|{key}")))
    for builder in builders:
        builder.build_history()
    for builder in builders:
        builder.build_deployments()
    for pd, key, infra_rng in infrastructure:
        _infrastructure_incidents(world, pd, key, infra_rng, on_call)
    own_services = _own_stream_names(world)
    if not any(
        inc.cause is None and inc.created_at <= end and inc.service not in own_services
        for inc in world.incidents
    ):
        # every org sees incidents no deployment caused; make sure even a short history has one
        pd, key, infra_rng = infrastructure[0]
        at = floor_second(start + (end - start) * infra_rng.uniform(0.3, 0.7))
        _infrastructure_incident(world, pd, at, INFRASTRUCTURE[key][2], infra_rng, on_call)
    world.incidents.sort(key=lambda inc: (inc.created_at, inc.pd_service_id))
    # Incidents of own-stream services are numbered after the others, with ids of their own stream: every
    # other incident keeps its number and id.
    shared_incidents = [inc for inc in world.incidents if inc.service not in own_services]
    # (a monorepo's after the local clones' teams': it came later)
    monorepos = {name for svc in world.services for name in _monorepo_names(svc)}
    own_incidents = [inc for inc in world.incidents if inc.service in own_services - monorepos] + [
        inc for inc in world.incidents if inc.service in monorepos
    ]
    own_ids = random.Random(f"{seed}|{end.isoformat()}|pagerduty|own")
    for number, incident in enumerate(shared_incidents + own_incidents, start=1):
        incident.number = number
        incident.incident_id = _pd_id(rng if incident.service not in own_services else own_ids, "Q", 13)
    _assign_ids(world, ids)
    _add_fixes(world, ids)
    _rewrite_branches(world)
    return world


# Fixing forward (docs/simulator.md, "Reverts and hotfixes"): of the bad production deployments of services
# on the GitHub Deployments API that were not rolled back but paged someone, a share (the profile's `fix`)
# get a fix deployed from a branch (a revert of the deployment's newest pull request when there is one, in
# REVERT_SHARE of them, else a hotfix), started a while after the first page and deployed before the
# service's next production deployment. Drawn from a stream of its own after every other record: the rest
# of the world stays as it was.
REVERT_SHARE = 0.5
FIX_WINDOW = timedelta(hours=20)  # fixes start within this of the bad deployment (the signal window is 24 h)


def _add_fixes(world: World, ids: _Ids) -> None:
    """Add fix-forward branches, pull requests and deployments (see FIX_SHARE), with their own ids."""
    rng = random.Random(f"{world.seed}|{world.end.isoformat()}|fixes")
    ids.rng = rng
    for svc in world.services:
        if svc.delivery != "github" or svc.path_services:
            continue  # (a monorepo's services fix forward through their regular deployments)
        production = [
            d for d in svc.deployments if d.is_production and d.deployed_at is not None and not d.is_baseline
        ]
        pages: dict[int, list[datetime]] = {}
        for incident in world.incidents:
            if incident.cause is not None and incident.service == svc.name:
                pages.setdefault(id(incident.cause), []).append(incident.created_at)
        by_merge = {pr.merge_commit_sha: pr for pr in svc.pulls if pr.merge_commit_sha}
        number = max((pr.number for pr in svc.pulls), default=0)
        fixes: list[Deployment] = []
        for position, dep in enumerate(production):
            if not dep.is_failure or dep.rollback is not None or id(dep) not in pages:
                continue
            share, start_minutes, deploy_minutes = PROFILES[svc.profile]["fix"]
            if rng.random() >= share:
                continue
            following = production[position + 1] if position + 1 < len(production) else None
            reverted = by_merge.get(dep.sha)
            kind = "revert" if reverted is not None and rng.random() < REVERT_SHARE else "hotfix"
            started = floor_second(min(pages[id(dep)]) + timedelta(minutes=_lognormal(rng, *start_minutes)))
            deploy_at = floor_second(started + timedelta(minutes=_lognormal(rng, *deploy_minutes)))
            deployed_by = deploy_at + ROLLOUT_MARGIN
            if (
                started - dep.deployed_at > FIX_WINDOW
                or deployed_by >= world.end
                or deploy_at <= max(pages[id(dep)])
                or (
                    following is not None
                    and (deployed_by >= following.created_at or following.sha == dep.sha)
                )
            ):
                continue  # too late to be a fix of this deployment, or it would read as something else
            author = rng.choice(svc.developers)
            number += 1
            if kind == "revert":
                assert reverted is not None
                title = f'Revert "{reverted.title}"'
                message = f"{title}\n\nThis reverts commit {dep.sha}."
                branch = f"revert-{reverted.number}-{reverted.branch}"[:60]
            else:
                words = f"{rng.choice(VERBS).lower()} {rng.choice(WORDS)}"
                title = f"Hotfix: {words}"
                message = title
                branch = f"hotfix/{words.replace(' ', '-')}"
            sha = hashlib.sha1(f"fix|{world.seed}|{svc.name}|{dep.deployment_id}|{kind}".encode()).hexdigest()
            svc.commits[sha] = Commit(
                sha, svc.name, [dep.sha], author, started, started, author, message, pr_number=number
            )
            opened = started + timedelta(minutes=rng.uniform(1, 5))
            svc.pulls.append(
                PullRequest(
                    service=svc.name,
                    number=number,
                    pr_id=ids.next("pr"),
                    title=title,
                    body=f"Fixes the production deployment of {dep.sha[:7]}.",
                    author=author,
                    branch=branch,
                    base_sha=dep.sha,
                    commit_shas=[sha],
                    opened_at=floor_second(opened),
                    reviews=[],
                    merged_at=None,
                    closed_at=None,
                    merged_by=None,
                    merge_method=None,
                    merge_commit_sha=None,
                    test_merge_sha=hashlib.sha1(f"test-merge|{svc.name}|{sha}".encode()).hexdigest(),
                    fix_kind=kind,
                )
            )
            started_at = deploy_at + timedelta(seconds=rng.randint(5, 60))
            finished = floor_second(started_at + timedelta(minutes=rng.uniform(2, 9)))
            fix = Deployment(
                ids.next("deployment"),
                svc.name,
                svc.production_env,
                True,
                sha,
                branch,
                deploy_at,
                [
                    DeploymentStatus(ids.next("status"), "in_progress", started_at, "Deployment started"),
                    DeploymentStatus(
                        ids.next("status"), "success", finished, "Deployment finished successfully"
                    ),
                ],
                f"{kind.title()} {sha[:7]} to {svc.production_env}",
                dep.main_index,
                fix_kind=kind,
            )
            fix.source_id = str(fix.deployment_id)
            dep.fixed_by = fix
            fixes.append(fix)
        if fixes:
            svc.deployments.extend(fixes)
            svc.deployments.sort(key=lambda d: (d.created_at, d.deployment_id))


# Rewritten branches (docs/simulator.md, "Rewritten branches"): a share of the merged pull requests of
# GitHub- and GitLab-hosted services had their branch squashed into one new commit and force-pushed after
# they opened, before anyone reviewed them. Drawn from a stream of its own after every other record: every
# other pull request, commit and deployment stays as it was.
REWRITE_SHARE = 0.06


def _rewrite_branches(world: World) -> None:
    rng = random.Random(f"{world.seed}|{world.end.isoformat()}|rewrites")
    for svc in world.services:
        if svc.delivery == "git":
            continue
        for pr in svc.pulls:
            if pr.merged_at is None or pr.fix_kind is not None or rng.random() >= REWRITE_SHARE:
                continue
            head = svc.commits[pr.commit_shas[-1]]
            reviews = [r.submitted_at for r in pr.reviews if r.submitted_at > pr.opened_at]
            until = min(reviews + [pr.merged_at])
            if (until - pr.opened_at).total_seconds() < 120:
                continue  # no time to rewrite it before the review or the merge
            at = floor_second(pr.opened_at + (until - pr.opened_at) * rng.uniform(0.2, 0.8))
            message = svc.commits[pr.commit_shas[0]].message
            sha = hashlib.sha1(f"rewrite|{world.seed}|{svc.name}|{pr.number}".encode()).hexdigest()
            svc.commits[sha] = Commit(
                sha, svc.name, [pr.base_sha], pr.author, at, at, pr.author, message, pr_number=pr.number
            )
            svc.commits[sha].reach_index = head.reach_index
            if svc.files:
                svc.files[sha] = sorted({f for old in pr.commit_shas for f in svc.files.get(old, [])})
            for old in pr.commit_shas:
                svc.commits[old].reach_index = None  # no longer reachable from the merge
            if pr.merge_method == "merge":
                merge = svc.commits[pr.merge_commit_sha]
                merge.parents = [merge.parents[0], sha]
            else:
                squash = svc.commits[pr.merge_commit_sha]
                squash.message = f"{pr.title} (#{pr.number})\n\n* {message}"
            for review in pr.reviews:
                if review.submitted_at >= at:
                    review.commit_id = sha
            pr.replaced_shas = pr.commit_shas
            pr.commit_shas = [sha]
            pr.rewritten_at = at


def _own_stream(team: tuple) -> bool:
    """Whether a team of SCALES draws from streams of its own (OWN_STREAM_DELIVERY, or a monorepo)."""
    return any(
        (len(spec) > 3 and spec[3] in OWN_STREAM_DELIVERY) or (len(spec) > 4 and "path_services" in spec[4])
        for spec in team[2]
    )


def _own_stream_service(svc: Service) -> bool:
    return svc.delivery in OWN_STREAM_DELIVERY or bool(svc.path_services)


def _monorepo_names(svc: Service) -> list[str]:
    """A monorepo's services: its host and its path services (none for another repository)."""
    return [svc.name] + [part.name for part in svc.path_services] if svc.path_services else []


def _own_stream_names(world: World) -> set[str]:
    """The services (path services included) whose records are numbered from streams of their own."""
    return {
        name
        for svc in world.services
        if _own_stream_service(svc)
        for name in [svc.name] + [part.name for part in svc.path_services]
    }


def _add_team(
    world: World,
    team: tuple,
    rng: random.Random,
    ids: _Ids,
    names: list[str],
    used: int,
    builders: list[_ServiceBuilder],
) -> int:
    """Add a team of SCALES, its developers and services; returns how many names are used now.

    A team with a fourth element (a generated scale's) has its department, its number of engineers, and
    activity per engineer (see SCALES["large"])."""
    team_name, profile, services, *more = team
    meta = more[0] if more else {}
    start, seed, end = world.start, world.seed, world.end
    world.teams.append(Team(team_name, profile, meta.get("department")))
    devs = []
    for _ in range(meta["engineers"] if "engineers" in meta else rng.randint(4, 6)):
        login = names[used]
        used += 1
        first, last = login.split("-")
        dev = Developer(
            login,
            ids.next("user"),
            f"{first.title()} {last.rstrip(string.digits).title()}",
            f"{first}.{last}@acme.example",
        )
        devs.append(dev)
        world.developers[login] = dev
        world.pd_users[login] = _pd_id(rng, "P", 6)
    activity = None
    if "engineers" in meta:
        # each engineer's own pace; services draw on the team's engineers in proportion to their weight
        median, sigma = SCALES[world.scale]["generated"]["prs_per_engineer_day"]
        paces = [_lognormal(rng, median, sigma) for _ in devs]
        cum = [sum(paces[: i + 1]) for i in range(len(paces))]
        weights = [_lognormal(rng, 1.0, 0.6) for _ in services]
        activity = [(cum, sum(paces) * w / sum(weights)) for w in weights]
    for position, (repo, pd_name, prod_env, *rest) in enumerate(services):
        overrides = rest[1] if len(rest) > 1 else {}
        created = start - timedelta(days=rng.randint(90, 900))
        svc = Service(
            name=repo,
            team=team_name,
            profile=profile,
            pd_service_id=_pd_id(rng, "P", 6),
            pd_name=pd_name,
            pd_created_at=created + timedelta(days=rng.randint(1, 30)),
            staging_env=overrides.get("staging_env", "staging"),
            production_env=prod_env,
            repo_id=ids.next("repo"),
            created_at=created,
            developers=devs,
            delivery=rest[0] if rest else "github",
            squash_share=overrides.get("squash_share"),
        )
        world.services.append(svc)
        builder = _ServiceBuilder(world, svc, ids, random.Random(f"{seed}|{end.isoformat()}|{repo}"))
        builder.activity = activity[position] if activity else None
        builders.append(builder)
        for name, part_pd_name, folder in overrides.get("path_services", []):
            part = PathService(
                name,
                folder,
                _pd_id(rng, "P", 6),
                part_pd_name,
                created + timedelta(days=rng.randint(1, 30)),
                f"staging-{folder.rsplit('/', 1)[-1]}",
                f"production-{folder.rsplit('/', 1)[-1]}",
            )
            svc.path_services.append(part)
            builders.append(
                _PathServiceBuilder(builder, part, random.Random(f"{seed}|{end.isoformat()}|{name}"))
            )
    return used


def _assign_ids(world: World, ids: _Ids) -> None:
    """Number PRs, reviews, deployments and statuses globally in creation order, as GitHub does.

    Services of OWN_STREAM_DELIVERY are numbered after the others, from a stream of their own (GitHub never
    numbers their objects: they live in local clones), so the other services keep their ids; then each
    monorepo, from a stream of its own (they came later still)."""
    shared = [svc for svc in world.services if not _own_stream_service(svc)]
    own = [svc for svc in world.services if _own_stream_service(svc) and not svc.path_services]
    _number(shared, ids)
    shared_rng = ids.rng
    if own:
        ids.rng = random.Random(f"{world.seed}|{world.end.isoformat()}|ids|own")
        _number(own, ids)
    for svc in world.services:
        if svc.path_services:
            ids.rng = random.Random(f"{world.seed}|{world.end.isoformat()}|ids|{svc.name}")
            _number([svc], ids)
    ids.rng = shared_rng
    for svc in world.services:
        svc.deployments.sort(key=lambda dep: (dep.created_at, dep.deployment_id))
    _assign_source_ids(world, ids)


def _number(services: list[Service], ids: _Ids) -> None:
    pulls = sorted((pr for svc in services for pr in svc.pulls), key=lambda pr: (pr.opened_at, pr.service))
    for pr in pulls:
        pr.pr_id = ids.next("pr")
    reviews = sorted(
        (r for svc in services for pr in svc.pulls for r in pr.reviews),
        key=lambda r: (r.submitted_at, r.reviewer.login),
    )
    for review in reviews:
        review.review_id = ids.next("review")
    deployments = sorted(
        (d for svc in services for d in svc.deployments),
        key=lambda d: (d.created_at, d.service, d.is_production),
    )
    for dep in deployments:
        dep.deployment_id = ids.next("deployment")
    statuses = sorted(
        ((s, d) for d in deployments for s in d.statuses),
        key=lambda pair: (pair[0].created_at, pair[1].deployment_id),
    )
    for status, _ in statuses:
        status.status_id = ids.next("status")


def _assign_source_ids(world: World, ids: _Ids) -> None:
    """Give each deployment the id its delivery style's source serves it under; build Actions runs.

    Numbering runs in creation order, as each system numbers its objects. Runs, jobs, GitLab ids and tags
    depend only on the records already drawn, so adding them leaves every other id of the world unchanged.
    """
    gitlab_deps = []
    for svc in world.services:
        if svc.delivery == "gitlab":
            svc.gitlab_id = ids.next("gl_project")
        builds: dict[str, int] = {}
        minor = patch = 0
        for dep in svc.deployments:
            if svc.delivery == "github":
                dep.source_id = str(dep.deployment_id)
            elif svc.delivery == "jenkins":
                job = f"deploy-{svc.name}-{dep.environment}"
                builds[job] = builds.get(job, 0) + 1
                dep.source_number = builds[job]
                dep.source_id = f"{job}#{dep.source_number}"
            elif svc.delivery in ("tags", "git"):
                if dep.is_production and dep.deployed_at is not None:
                    if dep.description.startswith("Rollback") and minor:
                        patch += 1  # a rollback re-tags the last good build as a patch release
                    else:
                        minor, patch = minor + 1, 0
                    dep.tag = f"v1.{minor - 1}.{patch}"
                    dep.source_id = f"{svc.repository}@{dep.tag}"
            elif svc.delivery == "gitlab":
                gitlab_deps.append(dep)
    gitlab_deps.sort(key=lambda d: (d.created_at, d.deployment_id))
    per_project: dict[str, int] = {}
    for dep in gitlab_deps:
        per_project[dep.service] = per_project.get(dep.service, 0) + 1
        dep.source_number = per_project[dep.service]
        dep.source_id = str(ids.next("gl_deployment"))
    if world.extras:
        _build_runs(world, ids)


# Runs of an Actions service's `deploy` workflow that deploy nothing, drawn per pull request from a hash of
# its head (no random stream: the rest of the world stays as it was). A share of pull requests get a
# `pull_request_target` run (the workflow comments a preview link; GitHub runs it on the base branch, so its
# head is `main` and main's SHA); a share are mirrored by a contribution from a fork whose branch is also
# named `main`, whose `ci` completing triggers `deploy` (`workflow_run`) with the fork's head.
PR_TARGET_RUN_SHARE = 5  # one pull request in 5
FORK_RUN_SHARE = 7  # one pull request in 7
FORK_CONTRIBUTORS = ("octo-contrib", "drive-by-dev", "typo-fixer")


def _extra_deploy_runs(svc: Service) -> list[WorkflowRun]:
    """The deploy workflow's runs that are not deployments (see PR_TARGET_RUN_SHARE)."""
    runs = []
    for pr in svc.pulls:
        digest = int(hashlib.sha1(f"deploy-extra|{svc.name}|{pr.number}".encode()).hexdigest()[:8], 16)
        created = floor_second(pr.opened_at + timedelta(seconds=30 + digest % 60))
        if digest % PR_TARGET_RUN_SHARE == 0:
            started = created + timedelta(seconds=4)
            runs.append(
                WorkflowRun(
                    0, 0, "deploy", "pull_request_target", pr.base_sha, "main", 0, created, started,
                    started + timedelta(seconds=20 + digest % 30), "success",
                )
            )  # fmt: skip
        if digest % FORK_RUN_SHARE == 1:
            login = FORK_CONTRIBUTORS[digest % len(FORK_CONTRIBUTORS)]
            user_id = 30_000_000 + digest % 1_000_000
            name = login.replace("-", " ").title()
            owner = Developer(login, user_id, name, f"{user_id}+{login}@users.noreply.github.com")
            fork = ForkHead(
                f"{login}/{svc.name}",
                svc.repo_id + 1 + digest % 100_000,
                owner,
                hashlib.sha1(f"fork|{svc.name}|{pr.number}".encode()).hexdigest(),
                "Fix typo in README",
                created - timedelta(minutes=30),
            )
            # ci ran on the fork's pull request first; deploy follows when it completes
            triggered = created + timedelta(minutes=6)
            started = triggered + timedelta(seconds=5)
            runs.append(
                WorkflowRun(
                    0, 0, "deploy", "workflow_run", fork.sha, "main", 0, triggered, started,
                    started + timedelta(seconds=40 + digest % 60), "success", None, fork,
                )
            )  # fmt: skip
    return runs


def _build_runs(world: World, ids: _Ids) -> None:
    """Actions runs: `ci` on every GitHub PR's head when it opens, `deploy`/`deploy-staging` per rollout,
    and the deploy workflow's runs that deploy nothing (_extra_deploy_runs)."""
    pending: list[tuple[Service, WorkflowRun]] = []
    for svc in world.services:
        if not svc.on_github:
            continue
        for pr in svc.pulls:
            head = pr.commit_shas[-1]
            digest = int(hashlib.sha1(f"ci|{svc.name}|{head}".encode()).hexdigest()[:8], 16)
            created = floor_second(max(pr.opened_at, svc.commits[head].committed_at) + timedelta(seconds=20))
            started = created + timedelta(seconds=5 + digest % 40)
            run = WorkflowRun(
                0,
                0,
                "ci",
                "pull_request",
                head,
                pr.branch,
                0,
                created,
                started,
                started + timedelta(seconds=120 + digest % 400),
                "failure" if digest % 10 == 0 else "success",
            )
            pending.append((svc, run))
        if svc.delivery != "actions":
            continue
        for dep in svc.deployments:
            name = "deploy" if dep.is_production else "deploy-staging"
            started = dep.statuses[0].created_at
            run = WorkflowRun(
                0,
                0,
                name,
                "workflow_dispatch" if dep.ref != "main" else "push",
                dep.sha,
                "main",
                0,
                dep.created_at,
                started,
                dep.finished_at,
                "success" if dep.deployed_at is not None else "failure",
                dep,
            )
            pending.append((svc, run))
        pending += [(svc, run) for run in _extra_deploy_runs(svc) if run.created_at <= world.end]
    # a monorepo's runs are numbered after the others', from a stream of their own (it came later)
    pending.sort(
        key=lambda pair: (bool(pair[0].path_services), pair[1].created_at, pair[0].name, pair[1].name)
    )
    numbers: dict[tuple[str, str], int] = {}
    for svc, run in pending:
        if svc.path_services and not numbers.get(("", "monorepo")):
            numbers[("", "monorepo")] = 1
            ids.rng = random.Random(f"{world.seed}|{world.end.isoformat()}|runs|monorepo")
        run.run_id = ids.next("run")
        run.job_id = ids.next("job")
        key = (svc.name, run.name)
        numbers[key] = numbers.get(key, 0) + 1
        run.run_number = numbers[key]
        if run.deployment is not None:
            run.deployment.source_id = str(run.run_id)
            run.deployment.source_number = run.run_number
        svc.runs.append(run)


__all__ = ["World", "generate_org", "next_working"]
