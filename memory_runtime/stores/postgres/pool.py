"""PostgreSQL client: one bounded psycopg 3 connection pool, opened on first use."""

import select
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, LiteralString, TypeAlias

import psycopg
from psycopg import sql
from psycopg.abc import Params
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from memory_runtime.domain.errors import AgentMemoryError, ConfigurationError, StoreUnavailableError
from memory_runtime.stores.postgres import traced

_SETTING = "MEMORY_POSTGRES_URI"
APPLICATION_NAME = "agent-memory"  # pg_stat_activity.application_name of the runtime's connections

# What `Connection.execute` takes with parameters (psycopg's `abc.QueryNoTemplate`, which psycopg 3.2 lacks).
Statement: TypeAlias = LiteralString | bytes | sql.SQL | sql.Composed


def unreachable(exc: psycopg.Error) -> AgentMemoryError:
    """The typed error for a failed connection attempt: the server is unavailable, or the URI is invalid."""
    if isinstance(exc, psycopg.ProgrammingError):
        return ConfigurationError(f"{_SETTING} is not a valid PostgreSQL URI: {exc}")
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in msg or "authentication" in msg:
        return StoreUnavailableError("PostgreSQL", _SETTING, f"authentication failed: {msg}")
    return StoreUnavailableError("PostgreSQL", _SETTING, msg)


def needs_check(conn: psycopg.Connection[DictRow] | psycopg.AsyncConnection[DictRow]) -> bool:
    """Whether a checked-out connection needs a round trip to prove it alive: not when it is idle with nothing
    to read (a connection the server closed has its goodbye or EOF waiting on the socket)."""
    if conn.closed or conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return True
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


class PostgresStore:
    """Connections to the system-of-record database, scoped to one schema via search_path."""

    def __init__(
        self,
        uri: str,
        schema: str = "public",
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.uri = uri
        self.schema = schema
        self._min, self._max = min_size, max_size
        self._timeout = connect_timeout_s
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] | None = None
        self._lock = threading.Lock()
        search_path = schema if schema == "public" else f"{schema},public"
        # `public` stays on the path: the vector and pg_trgm extensions live there.
        self._kwargs: dict[str, Any] = {
            "options": f"-c search_path={search_path}",
            "connect_timeout": max(1, int(connect_timeout_s)),
            "row_factory": dict_row,
            "fallback_application_name": APPLICATION_NAME,  # unless the URI names one
        }

    def _configure(self, conn: psycopg.Connection[DictRow]) -> None:
        try:
            from pgvector.psycopg import register_vector

            register_vector(conn)
        except psycopg.ProgrammingError:
            pass  # extension not created yet (before `agent-memory migrate`)
        conn.commit()

    def _check(self, conn: psycopg.Connection[DictRow]) -> None:
        """Checkout check: a connection the server dropped (restart, failover) is replaced, not used.

        So the first call after a Postgres restart succeeds instead of failing on a stale connection. The
        idle siblings of a dead connection are most likely dead too: they are all checked at once here,
        rather than one per checkout with the pool's growing back-off between them.

        The round trip is only made when the socket says something happened: an idle connection has nothing
        to read, while one the server closed (restart, `pg_terminate_backend`, failover) has its goodbye or EOF
        waiting. A healthy connection is thus checked without a round trip on every checkout of the read path.
        """
        if not needs_check(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool = self._pool
            if pool is not None:
                pool.check()
            raise

    def _open(self) -> ConnectionPool[psycopg.Connection[DictRow]]:
        with self._lock:
            if self._pool is None:
                self._check_reachable()
                self._pool = self._new_pool()
            return self._pool

    def _pool_args(self) -> dict[str, Any]:
        """The bounds, connection arguments and timeout of the pool (the sync one and the asyncio one)."""
        return {"min_size": self._min, "max_size": self._max, "kwargs": self._kwargs, "timeout": self._timeout}

    def _new_pool(self) -> ConnectionPool[psycopg.Connection[DictRow]]:
        return ConnectionPool(
            self.uri,
            configure=self._configure,
            check=self._check,
            open=True,
            name="agent-memory",
            connection_class=traced.connection_class(),
            **self._pool_args(),
        )

    def _after_failure(self, pool: Any) -> None:
        """If the server is down, drop the pool: calls fail fast until it is back, then get a fresh pool.

        A pool that lost its server retries in the background with a growing back-off (1 s, 2 s, 4 s ...),
        so it could keep failing for seconds after the server returned. A failure while the server
        answers (a busy pool, one killed backend) keeps the pool.
        """
        try:
            self._check_reachable()
        except StoreUnavailableError:
            with self._lock:
                if self._pool is not pool:
                    return  # another caller already dropped it
                self._pool = None
            self._discard(pool)

    def _discard(self, pool: Any) -> None:
        """Close a dropped pool off the caller's path: closing waits for the pool's reconnecting workers.
        Connections still checked out by other threads are closed when they are returned."""
        threading.Thread(target=pool.close, name="agent-memory-pool-close", daemon=True).start()

    def _check_reachable(self) -> None:
        """Fail fast with a clear error instead of a pool that retries in the background."""
        try:
            with psycopg.connect(self.uri, **{**self._kwargs, "row_factory": dict_row}) as conn:
                conn.execute("SELECT 1")
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
            raise unreachable(exc) from exc

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        """A pooled connection inside a transaction (committed on success, rolled back on error)."""
        pool = self._open()
        try:
            with self._checkout(pool) as conn:
                yield conn
        except PoolTimeout as exc:
            self._after_failure(pool)
            raise StoreUnavailableError("PostgreSQL", _SETTING, f"no connection available: {exc}") from exc
        except psycopg.OperationalError as exc:
            self._after_failure(pool)
            raise StoreUnavailableError("PostgreSQL", _SETTING, str(exc).strip() or type(exc).__name__) from exc

    def _checkout(self, pool: Any) -> AbstractContextManager[psycopg.Connection[DictRow]]:
        """A connection of `pool` for the length of a `with` block (the asyncio store bridges its own)."""
        checkout: AbstractContextManager[psycopg.Connection[DictRow]] = pool.connection()
        return checkout

    def fetch(self, sql: Statement, params: Params | None = None) -> list[DictRow]:
        """Run one statement and return its rows as dicts (one round trip: a single statement is its own
        transaction, so it runs in autocommit rather than between BEGIN and COMMIT)."""
        return self.fetch_many([(sql, params)])[0]

    def fetch_many(self, statements: Sequence[tuple[Statement, Params | None]]) -> list[list[DictRow]]:
        """Run independent statements in one round trip (psycopg pipeline mode, autocommit: each statement is
        its own transaction); the rows of each, in order."""
        with self.connection() as conn:
            conn.autocommit = True
            try:
                if len(statements) == 1:
                    cur = conn.execute(*statements[0])
                    return [cur.fetchall() if cur.description else []]
                with conn.pipeline():
                    cursors = [conn.execute(sql, params) for sql, params in statements]
                return [cur.fetchall() if cur.description else [] for cur in cursors]
            finally:
                if not conn.closed:
                    conn.autocommit = False

    def server_version(self) -> str:
        """PostgreSQL and pgvector versions."""
        row = self.fetch(
            "SELECT current_setting('server_version') AS pg, "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector"
        )[0]
        pgv = f", pgvector {row['vector']}" if row["vector"] else ", pgvector not installed"
        return f"PostgreSQL {row['pg']}{pgv}"

    def close(self) -> None:
        """Close the pool; the store can be reopened by using it again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
