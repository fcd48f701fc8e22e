"""Faults the emulator injects on demand: throttling, failing and hanging requests, cut-off bodies, and
listings whose records shift across pages (docs/simulator.md, "Faults").

A fault is switched on per run, from Python (`Emulator.inject_fault`, `Emulator.add_faults`) or from a
spec string (`--faults` of `deploylens demo` and `python -m simulator serve`, or the environment
variable `DEPLOYLENS_EMULATOR_FAULTS`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

ENV_VAR = "DEPLOYLENS_EMULATOR_FAULTS"

APIS = ("github", "gitlab", "jenkins", "pagerduty")
# What a fault does to the requests it matches (docs/simulator.md, "Faults"):
STATUS_KINDS = ("429", "secondary", "ratelimit")  # throttling answers; any 4xx/5xx number also works
BODY_KINDS = ("timeout", "truncate")  # the answer comes too late, or cut off
LISTING_KINDS = ("duplicate", "reorder")  # the records of a paged listing shift across its pages
FOREVER = None


@dataclass
class Fault:
    """One injected fault: what it does to the requests of `api` (any API when None) whose path and
    query after the API's prefix match `pattern`, for the next `times` of them (None: forever).

    `seconds` is the Retry-After of `429`/`secondary`, how far the rate-limit reset of `ratelimit` lies
    ahead, and how long `timeout` hangs before it answers.
    """

    pattern: str
    kind: str
    times: int | None = 1
    api: str | None = None
    seconds: float | None = None
    served: int = 0

    def __post_init__(self) -> None:
        if self.api is not None and self.api not in APIS:
            raise ValueError(f"fault API {self.api!r}: expected one of {', '.join(APIS)}")
        known = self.kind in STATUS_KINDS + BODY_KINDS + LISTING_KINDS
        if not known and not (self.kind.isdigit() and 400 <= int(self.kind) <= 599):
            raise ValueError(
                f"fault kind {self.kind!r}: expected an HTTP status (400-599), "
                + ", ".join(STATUS_KINDS + BODY_KINDS + LISTING_KINDS)
            )
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault times {self.times}: expected 1 or more (or forever)")
        self._regex = re.compile(self.pattern)

    def matches(self, target: str) -> bool:
        """Whether this fault still applies to a request for `target` (the path with its query)."""
        if self.times is not None and self.served >= self.times:
            return False
        if self.api is not None:
            prefix = "/gitlab/api/v4" if self.api == "gitlab" else f"/{self.api}"
            if not (target == prefix or target.startswith((prefix + "/", prefix + "?"))):
                return False
            target = target[len(prefix) :]
        return self._regex.search(target) is not None


def parse_faults(spec: str | None) -> list[Fault]:
    """Faults from a spec string: comma-separated `API:PATH_REGEX:KIND[:TIMES[:SECONDS]]`.

    `API` is github, gitlab, jenkins, pagerduty or `*`; `TIMES` a count or `forever` (default 1), e.g.
    `github:/pulls:truncate:2,pagerduty:/incidents:429:3:1,github:/repos/acme/api/commits:502:forever`.
    A bad entry raises ValueError naming it.
    """
    faults = []
    for entry in (part.strip() for part in (spec or "").split(",")):
        if not entry:
            continue
        fields = entry.split(":")
        if len(fields) < 3 or len(fields) > 5:
            raise ValueError(f"fault {entry!r}: expected API:PATH_REGEX:KIND[:TIMES[:SECONDS]]")
        api, pattern, kind = fields[0].strip().lower(), fields[1], fields[2].strip().lower()
        times_text = fields[3].strip().lower() if len(fields) > 3 else "1"
        try:
            times = FOREVER if times_text in ("forever", "*") else int(times_text)
            seconds = float(fields[4]) if len(fields) > 4 else None
            faults.append(Fault(pattern, kind, times, None if api in ("*", "") else api, seconds))
        except (ValueError, re.error) as exc:
            raise ValueError(f"fault {entry!r}: {exc}") from None
    return faults


def shift_listing(items: list, page_size: int, kind: str | None) -> list:
    """A whole listing as a faulty server pages it: `duplicate` serves the first page's last record again
    at the top of the second page (a record arrived at the top while the client paged: every later page
    moves down by one); `reorder` swaps the records on each side of every page boundary. Nothing is lost
    when a client reads every page."""
    if kind == "duplicate" and len(items) > page_size:
        return items[:page_size] + items[page_size - 1 :]
    if kind == "reorder":
        items = list(items)
        for boundary in range(page_size, len(items), page_size):
            items[boundary - 1], items[boundary] = items[boundary], items[boundary - 1]
    return items


_listing_fault = threading.local()


def current_listing_fault() -> str | None:
    """The listing fault (`duplicate`, `reorder`) of the request this thread answers, if any: each API's
    pagination asks, and pages `shift_listing` of its records when there is one."""
    return getattr(_listing_fault, "kind", None)


@contextlib.contextmanager
def listing_fault(kind: str | None) -> Iterator[None]:
    """Answer the current request (in this thread) with the listing fault `kind`."""
    _listing_fault.kind = kind
    try:
        yield
    finally:
        _listing_fault.kind = None
