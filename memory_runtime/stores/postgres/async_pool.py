"""PostgreSQL for AsyncAgentMemory: the same repositories, on psycopg's `AsyncConnectionPool`.

The repository functions take the connections this store hands out as they take sync ones: each is a
`Bridged` `AsyncConnection`, whose calls are awaited on the event loop (see `memory_runtime.stores.bridge`).
Transactions, COPY, commit on success and rollback on error are the pool's, as in the sync store.
"""

import asyncio
from contextlib import AbstractContextManager
from typing import Any, cast

import psycopg
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from memory_runtime.stores.bridge import Bridged, await_io
from memory_runtime.stores.postgres import traced
from memory_runtime.stores.postgres.pool import PostgresStore, needs_check, unreachable

AsyncPool = AsyncConnectionPool[psycopg.AsyncConnection[DictRow]]


class AsyncPostgresStore(PostgresStore):
    """`PostgresStore` over an asyncio pool; `open()` and `aclose()` are coroutines, queries run in the bridge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opening = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Open the pool (once), after checking that the server answers."""
        async with self._opening:
            if self._pool is not None:
                return
            await self._probe()
            pool: AsyncPool = AsyncConnectionPool(
                self.uri,
                configure=self._aconfigure,
                check=self._acheck,
                open=False,
                name="agent-memory-async",
                connection_class=traced.async_connection_class(),
                **self._pool_args(),
            )
            await pool.open()
            self._pool = cast(Any, pool)

    async def _probe(self) -> None:
        try:
            async with await psycopg.AsyncConnection.connect(self.uri, **self._kwargs) as conn:
                await conn.execute("SELECT 1")
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
            raise unreachable(exc) from exc

    async def _aconfigure(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        from pgvector.psycopg import register_vector_async

        try:
            await register_vector_async(conn)
        except psycopg.ProgrammingError:
            pass  # extension not created yet (before `agent-memory migrate`)
        await conn.commit()

    async def _acheck(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        """Checkout check, as the sync store's: a dropped connection is replaced and its idle siblings checked;
        a healthy idle one is passed without a round trip (that round trip was half of a query's cost here)."""
        if not needs_check(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool = cast(AsyncPool | None, self._pool)
            if pool is not None:
                await pool.check()
            raise

    # ---- the sync store's seams, for the shared code running in the bridge -------------------------------
    def _open(self) -> Any:
        if self._pool is None:
            await_io(self.open())
        return self._pool

    def _checkout(self, pool: Any) -> AbstractContextManager[psycopg.Connection[DictRow]]:
        return cast(AbstractContextManager[psycopg.Connection[DictRow]], Bridged(pool.connection()))

    def _check_reachable(self) -> None:
        await_io(self._probe())

    def _discard(self, pool: Any) -> None:
        task = asyncio.get_running_loop().create_task(pool.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def close(self) -> None:
        raise RuntimeError("AsyncPostgresStore closes with `await store.aclose()`")

    async def aclose(self) -> None:
        """Close the pool (idempotent); the store can be opened again."""
        pool, self._pool = cast(AsyncPool | None, self._pool), None
        if pool is not None:
            await pool.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


__all__ = ["AsyncPostgresStore"]
