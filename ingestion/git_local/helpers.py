"""Reading a repository with plain `git`: one streaming `git log`, one `git for-each-ref`.

No per-commit subprocesses: the whole history comes from a single `git log --all -z` read in chunks,
so a repository of a hundred thousand commits loads in seconds and in bounded memory.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .settings import (
    COMMIT_MARK,
    FIELD_SEP,
    GITLAB_MERGE_REQUEST_PATTERN,
    MERGE_PR_PATTERN,
    PULL_HEAD_PATTERN,
    READ_CHUNK_BYTES,
    RECORD_SEP,
    SQUASH_PR_PATTERN,
)

log = logging.getLogger(__name__)

LOG_FIELDS = ("%H", "%P", "%an", "%ae", "%ad", "%cn", "%ce", "%cd", "%B")
REF_FIELDS = (
    "%(refname)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(taggerdate:raw)",
    "%(committerdate:raw)",
    "%(*committerdate:raw)",
)
_OFFSET = re.compile(r"^([+-])(\d+)$")


class GitError(RuntimeError):
    """`git` failed on a repository; the message names the repository and the command."""


@dataclass
class DateStats:
    """Counts dates whose offset could not be read, so a load reports them instead of failing."""

    unparsed_offsets: int = 0
    missing_dates: int = 0


def parse_offset_minutes(text: str) -> int | None:
    """Minutes east of UTC for git's `+HHMM` offset text, or None when it is not a real offset.

    Any minutes are accepted (`+0545`, `-0930`); git stores what the committing tool wrote, and real
    histories hold values like `+51800`, which name no time zone: those give None.
    """
    match = _OFFSET.match(text.strip())
    if not match:
        return None
    sign, digits = match.groups()
    if len(digits) != 4:
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if minutes >= 60 or hours > 14:
        return None
    total = hours * 60 + minutes
    return -total if sign == "-" else total


def parse_raw_date(raw: str, stats: DateStats) -> tuple[datetime | None, str | None]:
    """git's raw date (`<unix seconds> <offset>`) as a UTC instant and the original offset text.

    The instant is exact whatever the offset says (git stores seconds since the epoch); an offset that
    cannot be read is counted and left as text, so the row still loads in UTC.
    """
    seconds, _, offset = raw.strip().partition(" ")
    if not seconds:
        stats.missing_dates += 1
        return None, None
    try:
        instant = datetime.fromtimestamp(int(seconds), tz=UTC)
    except (ValueError, OverflowError, OSError):
        stats.missing_dates += 1
        return None, offset or None
    if offset and parse_offset_minutes(offset) is None:
        stats.unparsed_offsets += 1
    return instant, offset or None


def pr_number_of(subject: str, body: str = "", is_merge: bool = False) -> int | None:
    """The pull (merge) request a commit names: GitHub's `Merge pull request #N ...` subject or squash title
    `... (#N)`; for a merge commit, GitLab's `See merge request group/project!N` in the body."""
    match = MERGE_PR_PATTERN.match(subject) or SQUASH_PR_PATTERN.search(subject)
    if match is None and is_merge:
        match = GITLAB_MERGE_REQUEST_PATTERN.search(body)
    return int(match.group(1)) if match else None


def repository_name(path: str | Path) -> str:
    """The default name of a repository on disk: its folder name without a `.git` suffix."""
    resolved = Path(path).resolve()
    name = resolved.name
    if name == ".git":
        name = resolved.parent.name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


class GitRepository:
    """One repository on disk, read through `git -C <path>`."""

    def __init__(self, path: str | Path, name: str):
        self.path = Path(path)
        self.name = name
        self._refs: list[dict] | None = None

    def _git(self, *args: str, stdin: str | None = None) -> str:
        cmd = ["git", "-C", str(self.path), *args]
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, encoding="utf-8", errors="replace"
        )
        if done.returncode != 0:
            raise GitError(f"{self.name}: `git {args[0]}` failed: {done.stderr.strip()[:500]}")
        return done.stdout

    def check(self) -> None:
        """Fail early with a clear message when the path is not a git repository."""
        if not self.path.exists():
            raise GitError(f"{self.name}: no such folder {self.path}")
        self._git("rev-parse", "--git-dir")

    def refs(self) -> list[dict]:
        """Every ref with its target, peeled commit and dates (one `git for-each-ref`, cached)."""
        if self._refs is None:
            out = self._git("for-each-ref", "--format=" + "%1f".join(REF_FIELDS))
            refs = []
            for line in out.splitlines():
                parts = line.split(FIELD_SEP)
                if len(parts) != len(REF_FIELDS):
                    continue
                name, kind, target, peeled_kind, peeled, tagger_date, committer_date, peeled_date = parts
                refs.append(
                    {
                        "ref": name,
                        "kind": kind,
                        "target": target,
                        "commit": peeled if kind == "tag" else target,
                        "commit_kind": peeled_kind if kind == "tag" else kind,
                        "tagger_date": tagger_date,
                        "commit_date": peeled_date if kind == "tag" else committer_date,
                    }
                )
            self._refs = refs
        return self._refs

    def fingerprint(self, prefix: str = "") -> str:
        """A digest of the refs under `prefix`: unchanged refs mean nothing new to read."""
        digest = hashlib.sha256()
        for ref in self.refs():
            if ref["ref"].startswith(prefix):
                digest.update(f"{ref['ref']} {ref['target']}\n".encode())
        return digest.hexdigest()

    def tips(self) -> list[str]:
        """The distinct commits refs point at: what the next incremental read can stop at."""
        return sorted({ref["commit"] for ref in self.refs() if ref["commit_kind"] == "commit"})

    def _stream(self, args: list[str], exclude: Iterable[str]) -> Iterator[str]:
        """Stream the NUL-separated records of `git <args>` for the commits reachable from any ref and not
        from `exclude`, read in chunks.

        Exclusions go through stdin (`^sha` lines): tens of thousands of tips would not fit on a
        command line. Tips that no longer exist (history rewritten) are ignored.
        """
        cmd = ["git", "-C", str(self.path), args[0], "--all", "--stdin", "--ignore-missing", *args[1:]]
        process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write("".join(f"^{sha}\n" for sha in exclude).encode())
        process.stdin.close()
        pending = b""
        try:
            while chunk := process.stdout.read(READ_CHUNK_BYTES):
                pending += chunk
                *records, pending = pending.split(RECORD_SEP.encode())
                for record in records:
                    yield record.decode("utf-8", errors="replace")
            if pending.strip():
                yield pending.decode("utf-8", errors="replace")
        finally:
            process.stdout.close()
            error = process.stderr.read().decode("utf-8", errors="replace")
            process.stderr.close()
            code = process.wait()
        if code != 0:
            raise GitError(f"{self.name}: `git {args[0]}` failed: {error.strip()[:500]}")

    def log_records(self, exclude: Iterable[str] = ()) -> Iterator[list[str]]:
        """Stream the fields of every commit reachable from any ref and not from `exclude`."""
        args = ["log", "-z", "--date=raw", "--format=" + "%x1f".join(LOG_FIELDS)]
        for record in self._stream(args, exclude):
            yield record.split(FIELD_SEP, len(LOG_FIELDS) - 1)

    def file_records(self, exclude: Iterable[str] = ()) -> Iterator[tuple[str, str, str, str | None]]:
        """Stream (sha, status, path, previous path) for each file every non-merge commit reachable from any
        ref and not from `exclude` changed: one `git log --name-status` (renames and copies found, a rename
        as its new path with the old one as previous). Paths are read verbatim (`-z`, no quoting)."""
        args = ["log", "--name-status", "--no-merges", "--find-renames", "-z", f"--format={COMMIT_MARK}%H"]
        sha = ""
        pending: list[str] = []  # a status and the paths read for it so far
        for token in self._stream(args, exclude):
            if token.startswith(COMMIT_MARK):
                sha, pending = token[len(COMMIT_MARK) :].strip(), []
                continue
            pending.append(token.strip("\n") if not pending else token)
            status = pending[0][:1]
            if not status:
                pending = []
            elif len(pending) == (3 if status in ("R", "C") else 2):
                yield sha, status, pending[-1], pending[1] if len(pending) == 3 else None
                pending = []


def pull_number_of_ref(ref: str) -> int | None:
    """The pull (or merge) request number of a `refs/pull/N/head` ref."""
    match = PULL_HEAD_PATTERN.match(ref)
    return int(match.group(1)) if match else None
