"""Processes of the embedded stores: find, reap, wait for and stop them, and small file helpers.

Heavy imports (psutil) happen inside the functions that need them, so importing this module is cheap.
"""

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 20

# Servers started by this process: their exit status is collected with waitpid (no zombies).
CHILDREN: set[int] = set()


class EmbeddedStackError(RuntimeError):
    """An embedded store failed to start, stop or answer; the message names the log file and what to do."""


@dataclass(frozen=True)
class StoreStatus:
    """Health of one store: name is "postgres", "redis", "falkordb" or "neo4j"."""

    name: str
    healthy: bool
    version: str
    detail: str


def reap(pid: int) -> int | None:
    """For a child started by this process: its exit code once it has exited (and is reaped), else None."""
    if pid not in CHILDREN:
        return None
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # already reaped elsewhere
        CHILDREN.discard(pid)
        return -1
    if done == 0:
        return None
    CHILDREN.discard(pid)
    return os.waitstatus_to_exitcode(status)


def live_process(pid: int) -> Any:
    """The psutil.Process for a live (non-zombie) pid, else None. Reaps our own exited children first."""
    import psutil

    if reap(pid) is not None:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def is_zombie(pid: int) -> bool:
    """True if `pid` is a zombie (exited, not yet reaped by its parent)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def cmdline(pid: int) -> list[str]:
    """The command line of a live process, or [] when it is gone."""
    import psutil

    proc = live_process(pid)
    if proc is None:
        return []
    try:
        return [arg for arg in proc.cmdline() if arg]
    except psutil.Error:
        return []


def find_pids(match: Any) -> set[int]:
    """Pids of live processes for which `match(pid)` is true (a scan of the process table)."""
    import psutil

    found: set[int] = set()
    for pid in psutil.pids():
        if pid != os.getpid() and match(pid):
            found.add(pid)
    return found


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until none of `pids` is alive (zombies count as gone); return the ones still alive."""
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining:
        remaining = {pid for pid in remaining if live_process(pid) is not None}
        if not remaining or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return remaining


def terminate(pids: Iterable[int], sig: signal.Signals) -> set[int]:
    """Send `sig`, wait, then SIGKILL what is left; return pids that are still alive afterwards."""
    remaining = set(pids)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    remaining = wait_gone(remaining, STOP_TIMEOUT_S)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return wait_gone(remaining, 5.0)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, for an error message."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(data.splitlines()[-lines:]) or "(empty)"


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, on_timeout: Callable[[], Exception]) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) across processes; after waiting `timeout` s for it,
    raise `on_timeout()`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise on_timeout() from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
