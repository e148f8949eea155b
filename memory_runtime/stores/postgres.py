"""PostgreSQL client: one bounded psycopg 3 connection pool, opened on first use."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from memory_runtime.errors import ConfigurationError, StoreUnavailableError

_SETTING = "MEMORY_POSTGRES_URI"


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
        self._pool: ConnectionPool | None = None
        search_path = schema if schema == "public" else f"{schema},public"
        # `public` stays on the path: the vector and pg_trgm extensions live there.
        self._kwargs: dict[str, Any] = {
            "options": f"-c search_path={search_path}",
            "connect_timeout": max(1, int(connect_timeout_s)),
            "row_factory": dict_row,
        }

    def _configure(self, conn: psycopg.Connection) -> None:
        try:
            from pgvector.psycopg import register_vector

            register_vector(conn)
        except psycopg.ProgrammingError:
            pass  # extension not created yet (before `agent-memory migrate`)
        conn.commit()

    def _open(self) -> ConnectionPool:
        if self._pool is None:
            self._check_reachable()
            self._pool = ConnectionPool(
                self.uri,
                min_size=self._min,
                max_size=self._max,
                kwargs=self._kwargs,
                configure=self._configure,
                timeout=self._timeout,
                open=True,
                name="agent-memory",
            )
        return self._pool

    def _check_reachable(self) -> None:
        """Fail fast with a clear error instead of a pool that retries in the background."""
        try:
            with psycopg.connect(self.uri, **{**self._kwargs, "row_factory": dict_row}) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "password authentication failed" in msg or "authentication" in msg:
                raise StoreUnavailableError("PostgreSQL", _SETTING, f"authentication failed: {msg}") from exc
            raise StoreUnavailableError("PostgreSQL", _SETTING, msg) from exc
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"{_SETTING} is not a valid PostgreSQL URI: {exc}") from exc

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside a transaction (committed on success, rolled back on error)."""
        pool = self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailableError("PostgreSQL", _SETTING, f"no connection available: {exc}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                "PostgreSQL", _SETTING, str(exc).strip() or type(exc).__name__
            ) from exc

    def fetch(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts."""
        with self.connection() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

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
        if self._pool is not None:
            self._pool.close()
            self._pool = None
