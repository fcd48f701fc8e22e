"""Who deploys and who reviews besides the engineers: deploy bots, review bots, people starting deployments.

Everything here is drawn from random streams of its own, seeded from the world's seed and end and a fixed
label per record, and computed when served: the world's records (ids, SHAs, times) stay exactly as they
were generated, and so does every other random draw.

- Deployment creators: most GitHub deployments are created by the deploy bot (`acme-deployer[bot]`, a Bot
  account); the rest by one of the service's engineers, who may be the author of a change it ships.
- Automation reviews: some pull requests that an engineer reviewed got an earlier review from automation
  first, between the opening and the first engineer's review: `acme-ci[bot]` (GitHub types it Bot) or
  `acme-lint`, a plain user account the org's configuration lists under `bots:`. They are served with the
  pull request's reviews (REST and GraphQL); they end no pickup and are no review by a colleague.
- Pull request sizes: the additions and deletions GitHub serves for a pull request.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from simulator.clock import floor_second
from simulator.world import Developer, Review

if TYPE_CHECKING:
    from simulator.world import Deployment, PullRequest, Service, World

DEPLOY_BOT = Developer("acme-deployer[bot]", 41898282, "acme-deployer[bot]", "deployer@acme.example")
CI_BOT = Developer("acme-ci[bot]", 41898283, "acme-ci[bot]", "ci@acme.example")
# A service account without GitHub's `[bot]` mark: known as automation only from org.yml `bots:`.
LINT_ACCOUNT = Developer("acme-lint", 41898284, "acme-lint", "lint@acme.example")
CONFIGURED_BOTS = [LINT_ACCOUNT.login]

# Share of GitHub deployments an engineer starts by hand (the rest: the deploy bot).
HUMAN_DEPLOY_SHARE = 0.35
# Share of engineer-reviewed pull requests automation reviewed first, and the share of those by the linter.
AUTOMATION_REVIEW_SHARE = 0.4
LINT_SHARE = 0.3
# Automation review ids: far above the engineers' reviews (GitHub's review ids start near 2.0e9 here).
AUTOMATION_REVIEW_ID_BASE = 5_000_000_000


def _stream(world: World, label: str, key: object) -> random.Random:
    return random.Random(f"{world.seed}|{world.end.isoformat()}|{label}|{key}")


def deployer(world: World, svc: Service, dep: Deployment) -> Developer:
    """Who created the GitHub deployment: the deploy bot, or one of the service's engineers."""
    rng = _stream(world, "deployer", dep.deployment_id)
    if rng.random() >= HUMAN_DEPLOY_SHARE or not svc.developers:
        return DEPLOY_BOT
    return rng.choice(svc.developers)


def is_automation(dev: Developer) -> bool:
    return dev.login.endswith("[bot]") or dev.login in CONFIGURED_BOTS


def automation_reviews(world: World, svc: Service, pr: PullRequest) -> list[Review]:
    """The automation's reviews of the pull request (none or one), before the first engineer's review."""
    others = [r.submitted_at for r in pr.reviews if r.reviewer.login != pr.author.login]
    if not others:
        return []
    rng = _stream(world, "automation-review", pr.pr_id)
    if rng.random() >= AUTOMATION_REVIEW_SHARE:
        return []
    first = min(others)
    seconds = int((first - pr.opened_at).total_seconds())
    if seconds < 2:
        return []
    at = floor_second(pr.opened_at + timedelta(seconds=rng.randint(1, seconds - 1)))
    bot = LINT_ACCOUNT if rng.random() < LINT_SHARE else CI_BOT
    head = pr.shas_at(at, svc.commits) or pr.commit_shas[:1]
    return [
        Review(
            AUTOMATION_REVIEW_ID_BASE + pr.pr_id,
            bot,
            "COMMENTED",
            at,
            head[-1],
            "Automated checks: 0 problems found.",
        )
    ]


def served_reviews(world: World, svc: Service, pr: PullRequest, now: datetime) -> list[Review]:
    """The pull request's reviews as GitHub lists them at `now`: the engineers' and automation's."""
    reviews = [r for r in pr.reviews if r.submitted_at <= now]
    for bot_review in automation_reviews(world, svc, pr):
        if bot_review.submitted_at <= now:
            # before the first later review, the engineers' reviews keeping their order
            later = (i for i, r in enumerate(reviews) if r.submitted_at > bot_review.submitted_at)
            at = next(later, len(reviews))
            reviews.insert(at, bot_review)
    return reviews


def pull_request_size(pr: PullRequest, commit_count: int) -> tuple[int, int]:
    """(additions, deletions) GitHub serves for the pull request with `commit_count` commits pushed."""
    return 7 * commit_count + pr.number % 40, 3 * commit_count + pr.number % 15
