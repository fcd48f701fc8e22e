"""Write a service's simulated history as a real git repository, as a clone of it would look at `world.end`.

One `git fast-import` process per repository writes every commit with its parents, author, committer, times
and message; `main` at main's tip; `refs/pull/N/head` at each opened pull request's head (what a clone made
with GitHub's pull refspec holds); and an annotated tag for each release tag the service shipped. Merge
commits keep first parent = main and second = the pull request's head; squash commits have one parent.

Git computes its own SHAs from the content, so they differ from the simulator's ids: the export returns the
mapping (simulator SHA -> git SHA), and the truth uses it. The same world always gives the same SHAs: fixed
names, dates and trees, no signing, and no system or user git configuration read.

What a commit changes is made up (one small file per commit, a merge or squash commit brings its pull
request's files to main): enough for `git log`, `git diff` and a checkout to behave like a real history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from simulator.world import Commit, Developer, Service, World

GIT_SHAS_FILE = "git_shas.parquet"
GIT_SHAS_SCHEMA = pa.schema(
    [("service", pa.string()), ("simulator_sha", pa.string()), ("git_sha", pa.string())]
)


class GitExportError(RuntimeError):
    """`git` failed or is missing."""


def git_env() -> dict[str, str]:
    """The environment for git runs: no system or user configuration, no prompts, C locale."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
    )
    return env


def _git(path: Path, *args: str, stdin: bytes | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args], input=stdin, capture_output=True, env=git_env(), check=False
        )
    except FileNotFoundError as exc:
        raise GitExportError("git is not on PATH; install git to export simulated repositories") from exc
    if done.returncode != 0:
        raise GitExportError(
            f"git {args[0]} failed in {path}: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode()


def _raw(at: datetime) -> str:
    """Git's raw date: seconds since the epoch and the UTC offset (the world's developers all write UTC)."""
    return f"{int(at.timestamp())} +0000"


def _ident(dev: Developer, at: datetime) -> str:
    return f"{dev.name} <{dev.email}> {_raw(at)}"


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def visible_commits(svc: Service, as_of: datetime) -> list[Commit]:
    """The commits a clone holds at `as_of`, parents first: what main reached, and the commits of pull
    requests opened by then (a branch whose pull request is not open yet is on someone's laptop only)."""
    opened = {sha for pr in svc.pulls if pr.opened_at <= as_of for sha in pr.commit_shas}
    return [
        commit
        for commit in svc.commits.values()  # creation order: parents before children
        if commit.committed_at <= as_of and (_on_main_by(svc, commit, as_of) or commit.sha in opened)
    ]


def _on_main_by(svc: Service, commit: Commit, as_of: datetime) -> bool:
    """Whether main reached the commit by `as_of`."""
    if commit.reach_index is None:
        return False
    return svc.commits[svc.main[commit.reach_index]].committed_at <= as_of


def _stream(svc: Service, commits: list[Commit], as_of: datetime) -> tuple[bytes, dict[int, str]]:
    """The fast-import stream of a service's history, and which mark stands for which simulator SHA."""
    from simulator.github import DEPLOY_BOT, WEB_FLOW

    included = {commit.sha for commit in commits}
    pr_of_head: dict[str, int] = {}
    pr_files: dict[int, list[tuple[int, str]]] = {}
    by_number = {pr.number: pr for pr in svc.pulls}
    for pr in svc.pulls:
        if pr.opened_at <= as_of:
            visible = [sha for sha in pr.commit_shas if sha in included]
            if visible:
                pr_of_head[visible[-1]] = pr.number
    main = set(svc.main)
    out: list[bytes] = []
    marks: dict[str, int] = {}
    sims: dict[int, str] = {}
    mark = 0
    for index, commit in enumerate(commits):
        missing = [parent for parent in commit.parents if parent not in marks]
        if missing:
            raise ValueError(f"{svc.name}: commit {commit.sha} comes before its parent {missing[0]}")
        changes: list[tuple[int, str]] = []
        if not commit.parents:
            mark += 1
            out.append(b"blob\nmark :%d\n" % mark + _data(f"# {svc.name}\n"))
            changes.append((mark, "README.md"))
        elif commit.sha in main and commit.pr_number is not None:
            # a merge or squash commit brings the pull request's files to main
            pr = by_number[commit.pr_number]
            changes.extend(pr_files.get(pr.number, []))
        else:
            mark += 1
            subject = commit.message.splitlines()[0]
            out.append(b"blob\nmark :%d\n" % mark + _data(f"{subject}\n"))
            changes.append((mark, f"changes/{index:05d}.md"))
            if commit.pr_number is not None:
                pr_files.setdefault(commit.pr_number, []).append(changes[-1])
        mark += 1
        marks[commit.sha] = mark
        sims[mark] = commit.sha
        ref = "refs/heads/main" if commit.sha in main else f"refs/pull/{commit.pr_number}/head"
        committer = commit.committer or WEB_FLOW
        lines = [
            f"commit {ref}",
            f"mark :{mark}",
            f"author {_ident(commit.author, commit.authored_at)}",
            f"committer {_ident(committer, commit.committed_at)}",
        ]
        out.append("\n".join(lines).encode() + b"\n" + _data(commit.message.rstrip("\n") + "\n"))
        parents = [f"from :{marks[commit.parents[0]]}"] if commit.parents else []
        parents += [f"merge :{marks[parent]}" for parent in commit.parents[1:]]
        body = parents + [f"M 100644 :{blob} {path}" for blob, path in changes]
        out.append("".join(f"{line}\n" for line in body).encode() + b"\n")
    main_tip = [sha for sha in svc.main if sha in included][-1]
    out.append(b"reset refs/heads/main\nfrom :%d\n\n" % marks[main_tip])
    for head, number in sorted(pr_of_head.items(), key=lambda item: item[1]):
        out.append(b"reset refs/pull/%d/head\nfrom :%d\n\n" % (number, marks[head]))
    tagged = sorted(
        (d for d in svc.deployments if d.tag and d.deployed_at is not None and d.deployed_at <= as_of),
        key=lambda d: (d.deployed_at, d.tag),
    )
    for dep in tagged:
        assert dep.deployed_at is not None and dep.tag is not None
        out.append(
            f"tag {dep.tag}\nfrom :{marks[dep.sha]}\ntagger {_ident(DEPLOY_BOT, dep.deployed_at)}\n".encode()
            + _data(f"Release {dep.tag}\n")
        )
    out.append(b"done\n")
    return b"".join(out), sims


def export_service(svc: Service, path: str | Path, as_of: datetime) -> dict[str, str]:
    """Write `svc`'s history as of `as_of` as a git repository at `path` (replaced if it exists), with
    `main` checked out. Returns simulator SHA -> git SHA for every commit written."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    commits = visible_commits(svc, as_of)
    stream, sims = _stream(svc, commits, as_of)
    _git(path, "init", "--quiet", "--initial-branch=main", "--template=")
    with tempfile.TemporaryDirectory() as tmp:
        marks_file = Path(tmp) / "marks"
        _git(
            path,
            "fast-import",
            "--quiet",
            "--done",
            "--date-format=raw",
            f"--export-marks={marks_file}",
            stdin=stream,
        )
        mapping: dict[str, str] = {}
        for line in marks_file.read_text().splitlines():
            mark, sha = line.split()
            sim = sims.get(int(mark.lstrip(":")))
            if sim is not None:
                mapping[sim] = sha
    _git(path, "reset", "--quiet", "--hard", "main")
    return mapping


def git_services(world: World) -> list[Service]:
    """The services whose code is a local clone (`git` delivery)."""
    return [svc for svc in world.services if svc.delivery == "git"]


def export_repositories(world: World, root: str | Path) -> dict[str, Path]:
    """Export every `git`-delivery service to `root/<service>`; remembers the SHA mappings on the world
    (`world.git_shas`). Returns service name -> repository path."""
    paths = {}
    for svc in git_services(world):
        path = Path(root) / svc.name
        world.git_shas[svc.name] = export_service(svc, path, world.end)
        paths[svc.name] = path
    return paths


def git_shas(world: World) -> dict[str, str]:
    """Simulator SHA -> git SHA for every exported commit of the world's `git` services; exports into a
    temporary folder the services not exported yet (the SHAs are the same wherever the export goes)."""
    pending = [svc for svc in git_services(world) if svc.name not in world.git_shas]
    if pending:
        with tempfile.TemporaryDirectory() as tmp:
            for svc in pending:
                world.git_shas[svc.name] = export_service(svc, Path(tmp) / svc.name, world.end)
    return {sim: sha for mapping in world.git_shas.values() for sim, sha in mapping.items()}


def write_git_shas(world: World, folder: str | Path) -> Path | None:
    """Write `git_shas.parquet` (service, simulator_sha, git_sha) into `folder`; None without git services."""
    if not git_services(world):
        return None
    git_shas(world)
    rows = [
        {"service": service, "simulator_sha": sim, "git_sha": sha}
        for service, mapping in sorted(world.git_shas.items())
        for sim, sha in mapping.items()
    ]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / GIT_SHAS_FILE
    pq.write_table(pa.Table.from_pylist(rows, schema=GIT_SHAS_SCHEMA), path)
    return path
