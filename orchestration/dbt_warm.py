"""A dbt process started before the build needs it, so that its start-up overlaps the sources' loads.

A dbt command spends seconds importing dbt-core before it reads its arguments. A command-line refresh
starts one dbt process at its beginning (`WarmDbt`): it imports dbt and waits on a Unix socket. When the
transform step runs `dbt build`, dagster-dbt starts the launcher `WarmDbt.launcher` instead of `dbt`: a
small Python script (no dbt imports) that hands the waiting process its arguments, environment, working
directory and its own stdout and stderr (the pipe dagster-dbt reads), and exits with dbt's exit code.
dagster-dbt sees a dbt process as always: the same arguments, output and exit code.

The waiting process serves one command and exits; it also exits when the refresh process is gone. When
there is no waiting process to hand the command to (none started, already used, or it died before taking
the command), the launcher runs the installed dbt itself: slower, the same result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SOCKET_ENV = "DEPLOYLENS_WARM_DBT"
LAUNCHER_ENV = "DEPLOYLENS_WARM_DBT_LAUNCHER"  # read by the refresh's dbt resource (orchestration/assets.py)
# What dbt runs first (imported while the process waits): the command line, the DuckDB adapter, the build.
PRELOAD = ("dbt.cli.main", "dbt.adapters.duckdb", "dbt.task.build", "dbt.parser.manifest")
ROOT = Path(__file__).resolve().parents[1]
_STARTED = b"started"


def installed_dbt() -> str:
    """The dbt installed beside this Python (the one `ensure_dbt_manifest` runs)."""
    return str(Path(sys.executable).with_name("dbt"))


class WarmDbt:
    """The refresh's side: starts the waiting dbt process and the launcher dagster-dbt runs in dbt's place."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="deploylens-dbt-"))  # short: socket paths are limited
        self.socket = self.folder / "dbt.sock"
        self.launcher = self.folder / "dbt"
        self.process: subprocess.Popen | None = None

    def start(self) -> WarmDbt:
        self.launcher.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from orchestration.dbt_warm import launch\n"
            "sys.exit(launch(sys.argv[1:]))\n"
        )
        self.launcher.chmod(0o755)
        # Listening before the process starts: a launcher that comes early waits for the imports.
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(str(self.socket))
        listener.listen(1)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orchestration.dbt_warm"]
                + [str(self.socket), str(listener.fileno()), str(os.getpid())],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[listener.fileno()],
            )
        finally:
            listener.close()  # the waiting process holds it; when it is gone, launchers are refused
        os.environ[SOCKET_ENV] = str(self.socket)
        os.environ[LAUNCHER_ENV] = str(self.launcher)
        return self

    def close(self) -> None:
        """Stop the waiting process if no build took it (a build that did has finished with the step)."""
        for name, value in ((SOCKET_ENV, self.socket), (LAUNCHER_ENV, self.launcher)):
            if os.environ.get(name) == str(value):
                del os.environ[name]
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> WarmDbt:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------ the launcher's side
def _hand_over(path: str, argv: list[str]) -> int | None:
    """dbt's exit code from the waiting process; None when it did not take the command (nothing ran)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(path)
        request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
        socket.send_fds(conn, [json.dumps(request).encode()], [1, 2])
        pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        if conn.recv(64) != _STARTED:
            return None
    except OSError:
        conn.close()
        return None
    # dagster-dbt interrupts dbt with SIGINT (then SIGTERM/SIGKILL) when the run is cancelled: pass them on.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: os.kill(pid, number))
    reply = conn.recv(64)
    conn.close()
    return int(reply) if reply else 2  # no reply: the dbt process died during the command


def launch(argv: list[str]) -> int:
    """Run `dbt <argv>` in the waiting process when there is one, else exec the installed dbt."""
    path = os.environ.pop(SOCKET_ENV, None)
    if path:
        code = _hand_over(path, argv)
        if code is not None:
            return code
    dbt = installed_dbt()
    os.execv(dbt, [dbt, *argv])
    return 2  # not reached


# ------------------------------------------------------------------------------ the waiting process's side
def preload() -> None:
    """Import what dbt runs first, then keep the imported modules out of the garbage collector's walks
    and make its young collections rarer for the command (`orchestration.heap.tune_for_dbt`)."""
    import importlib

    from orchestration.heap import tune_for_dbt

    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - an import only saves time; dbt reports real errors itself
            pass
    tune_for_dbt()


def lighten_command() -> None:
    """Two costs of a dbt command that buy nothing in this process, which runs one command and exits:

    - `dbt build` writes `manifest.json` (and `semantic_manifest.json`) twice: after loading the project
      and again when the build ends, with what the nodes compiled. The second write replaces the first and
      is the one a refresh reads (`data_tests/check_results.py`), so the first is skipped. A build that
      stops before its nodes run (a failed selection, a cycle) leaves the target's previous manifest.
    - dbt scrubs the values of the `DBT_ENV_SECRET_*` variables from every log line, reading the whole
      environment again for each of them (two loggers, tens of thousands of lines a build). The values are
      read once for the command instead: `_serve` sets its environment before calling this, and dbt does
      not change it. Errors still read it as dbt does.

    Both replace functions of dbt's by name; a dbt without them runs as it is, with both costs.
    """
    try:
        from dbt.cli import requires
        from dbt_common.events import functions
        from dbt_common.exceptions import env_secrets

        setup_manifest = requires.setup_manifest
        functions.env_secrets  # noqa: B018 - present, or dbt is run as it is
    except (ImportError, AttributeError):
        return

    def setup_manifest_once(ctx: Any, write: bool = True, write_perf_info: bool = False) -> None:
        if ctx.command.name == "build":
            write = False  # GraphRunnableTask.run writes it when the build ends
        setup_manifest(ctx, write=write, write_perf_info=write_perf_info)

    secrets = env_secrets()
    requires.setup_manifest = setup_manifest_once
    functions.env_secrets = lambda: secrets


def _serve(path: str, fd: int, parent: int) -> int:
    listener = socket.socket(fileno=fd)  # bound and listening (WarmDbt.start)
    preload()
    listener.settimeout(1.0)
    while True:
        try:
            conn, _ = listener.accept()
            break
        except TimeoutError:
            if os.getppid() != parent:  # the refresh is gone: nobody will ask
                shutil.rmtree(Path(path).parent, ignore_errors=True)
                return 0
    listener.close()
    os.unlink(path)
    conn.settimeout(None)
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
    request = json.loads(message)
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, target in zip(fds, (1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [installed_dbt(), *request["argv"]]
    if os.environ.get("PYTHONUNBUFFERED"):  # dagster-dbt reads dbt's lines as they come
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    conn.send(_STARTED)
    lighten_command()
    from dbt.cli.main import cli

    try:
        code = cli(args=request["argv"], prog_name="dbt")
    except SystemExit as done:
        code = done.code
    code = code if isinstance(code, int) else (0 if code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        conn.send(str(code).encode())
        conn.close()
    except OSError:
        pass  # the launcher is gone (its refresh was killed): nobody waits for the code
    if os.getppid() != parent:  # the refresh was killed meanwhile: it will not remove the folder
        shutil.rmtree(Path(path).parent, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
