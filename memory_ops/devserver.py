"""`agent-memory dev`: the embedded stores, migrated, and `dagster dev` (UI + daemon) running against them.

memory_runtime never imports Dagster: this module runs the `dagster` CLI of the current interpreter as a
child process, in the repository root (where workspace.yaml points at the code location), with the
stack's environment (MEMORY_*_URI, DAGSTER_PG_URL, DAGSTER_HOME).

Process handling (docs/notes/embedded_stack.md P-D4): the child starts in its own session with SIGINT reset to
its default disposition, because `dagster dev` copies the SIGINT disposition onto SIGTERM and a child
that inherited "ignore" would ignore both. SIGINT and SIGTERM received here are forwarded to it; it then
stops its webserver, daemon and code servers. If it has not exited `STOP_TIMEOUT_S` after the first
signal it is killed, and whatever is left in its process group is terminated on the way out, so no
Dagster process outlives this command. Stores that this command started are stopped again; stores that
were already running (`agent-memory up`) are left running.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from memory_runtime.domain.errors import ConfigurationError

STOP_TIMEOUT_S = 30.0  # from the first forwarded signal until the child is killed
GROUP_GRACE_S = 5.0  # for stragglers in the child's process group after it exited
_POLL_S = 0.2


def repo_root() -> Path:
    """The repository checkout holding workspace.yaml (the Dagster code location is loaded from it)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "workspace.yaml").is_file():
        raise ConfigurationError(
            f"agent-memory dev runs the Dagster code location from a repository checkout, but {root} has no "
            f"workspace.yaml; run it from a clone of the agent-memory repository"
        )
    return root


def dagster_dev_command(host: str, port: int) -> list[str]:
    """The `dagster dev` command line for workspace.yaml."""
    return [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", host, "-p", str(int(port))]


def _default_sigint() -> None:
    """preexec_fn: a child started from a non-interactive shell would inherit SIGINT ignored (P-D4)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_group(pgid: int, grace_s: float = GROUP_GRACE_S) -> None:
    """SIGTERM what is left of a process group, wait up to `grace_s`, then SIGKILL it."""
    if not _group_alive(pgid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def supervise(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stop_timeout_s: float = STOP_TIMEOUT_S,
) -> int:
    """Run `command` in its own session, forward SIGINT/SIGTERM to it, wait; never leave its group behind.

    Returns the child's exit status (as a shell would: 128 + signal number when a signal ended it).
    """
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        preexec_fn=_default_sigint,  # only resets a signal disposition (async-signal-safe)
        start_new_session=True,
    )
    first_signal: list[float] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if not first_signal:
            first_signal.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, forward)
        while True:
            try:
                code = proc.wait(timeout=_POLL_S)
                break
            except subprocess.TimeoutExpired:
                if first_signal and time.monotonic() - first_signal[0] > stop_timeout_s:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # we are leaving because of an exception: stop the child first
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _end_group(proc.pid)
    return 128 - code if code < 0 else code


def _stack_running(stack: object) -> bool:
    try:
        return all(s.healthy for s in stack.status())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 — anything unexpected means "not known to be running"
        return False


def run_dev(data_dir: Path, host: str = "127.0.0.1", port: int = 3000) -> int:
    """Start the embedded stores, migrate them, and run `dagster dev` on them until interrupted."""
    from memory_ops.stack.embedded import EmbeddedStack
    from memory_runtime.config import load_settings
    from memory_runtime.stores.bundle import Stores
    from memory_runtime.stores.migrations import migrate

    root = repo_root()
    stack = EmbeddedStack(data_dir)
    was_running = _stack_running(stack)
    env = stack.up()
    try:
        exports = env.exports()
        settings = load_settings(
            postgres_uri=exports["MEMORY_POSTGRES_URI"],
            graph_uri=exports["MEMORY_GRAPH_URI"],
            redis_uri=exports["MEMORY_REDIS_URI"],
        )
        with Stores.open(settings) as stores:
            migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
        print(
            f"agent-memory dev: stores in {env.data_dir}; Dagster UI on http://{host}:{port} (Ctrl-C stops)",
            file=sys.stderr,
        )
        return supervise(dagster_dev_command(host, port), cwd=root, env={**os.environ, **exports})
    finally:
        if not was_running:
            stack.down()
