"""`AsyncStores`: the stores of one process on the drivers' asyncio clients, for AsyncAgentMemory.

The same `Stores` the memory code takes, built from the asyncio variants of each client
(`AsyncPostgresStore`, `AsyncRedisStore`, `open_graph(..., asynchronous=True)`) and with a `TaskExecutor`
in place of the thread pool, so the shared code runs unchanged inside the bridge (`stores.bridge`).
"""

from collections.abc import Callable
from concurrent.futures import Future
from functools import cached_property
from typing import Any, TypeVar, cast

from memory_runtime import tracing
from memory_runtime.config import Settings
from memory_runtime.stores.bridge import TaskExecutor
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph import open_graph
from memory_runtime.stores.postgres.async_pool import AsyncPostgresStore
from memory_runtime.stores.redis.async_client import AsyncRedisStore

_T = TypeVar("_T")


class AsyncStores(Stores):
    """PostgreSQL, graph and Redis on asyncio clients, and the cached embedder; `await AsyncStores.aopen(...)`."""

    @classmethod
    async def aopen(cls, settings: Settings) -> "AsyncStores":
        """Clients for every configured store; the PostgreSQL pool is opened (and the server checked) here."""
        tracing.configure(settings.tracing)  # first: the clients are built traced while tracing is on
        stores = cast(
            AsyncStores,
            cls.assemble(settings, AsyncPostgresStore, AsyncRedisStore, open_graph(settings, asynchronous=True)),
        )
        try:
            await cast(AsyncPostgresStore, stores.pg).open()
        except BaseException:
            await stores.aclose()
            raise
        return stores

    @cached_property
    def executor(self) -> TaskExecutor:
        """Asyncio tasks for the concurrent retrieval strategies and deferred bookkeeping."""
        return TaskExecutor()

    def background(self, fn: Callable[..., _T], /, *args: Any) -> "Future[_T]":
        """A job of no call, as an asyncio task (see `Stores.background`)."""
        return self.executor.submit_background(fn, *args)

    def close(self) -> None:
        raise RuntimeError("AsyncStores close with `await stores.aclose()`")

    async def aclose(self) -> None:
        """Wait for pending background jobs, then close every client (idempotent)."""
        await self.executor.drain()
        clients: list[Any] = [self.pg, self.graph, self.redis]
        for client in clients:
            await client.aclose()
