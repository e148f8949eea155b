"""`Stores`: the open store clients and the embedder, shared by every memory component of a process."""

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from memory_runtime import tracing
from memory_runtime.config import Settings
from memory_runtime.embeddings import make_embedder
from memory_runtime.stores.graph import GraphStore, open_graph
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.redis import RedisStore
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder

_T = TypeVar("_T")


@dataclass
class Stores:
    """PostgreSQL, graph and Redis clients plus the cached embedder, built from one Settings."""

    settings: Settings
    pg: PostgresStore
    graph: GraphStore
    redis: RedisStore
    embedder: CachedEmbedder
    # Process-local caches of the layers above, by name (memory.context_cache): they live as long as the clients.
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def open(cls, settings: Settings) -> "Stores":
        """Clients for every configured store (connections open lazily)."""
        tracing.configure(settings.tracing)  # first: the clients are built traced while tracing is on
        return cls.assemble(settings, PostgresStore, RedisStore, open_graph(settings))

    @classmethod
    def assemble(
        cls, settings: Settings, postgres: type[PostgresStore], redis: type[RedisStore], graph: GraphStore
    ) -> "Stores":
        """The stores of `settings` on these client classes (the sync ones, or their asyncio variants)."""
        pg = postgres(
            settings.require("postgres_uri"),
            settings.postgres_schema,
            min_size=settings.postgres_pool_min,
            max_size=settings.postgres_pool_max,
            connect_timeout_s=settings.connect_timeout_s,
        )
        redis_store = redis(
            settings.require("redis_uri"), settings.redis_prefix, connect_timeout_s=settings.connect_timeout_s
        )
        embedder = CachedEmbedder(make_embedder(settings), redis_store, settings.embedding_cache_ttl_s)
        return cls(settings, pg, graph, redis_store, embedder)

    @cached_property
    def executor(self) -> Executor:
        """Threads for concurrent retrieval strategies and deferred bookkeeping."""
        pool = tracing.ContextThreadPool if tracing.enabled() else ThreadPoolExecutor  # jobs see their caller's span
        return pool(max_workers=8, thread_name_prefix="agent-memory")

    def background(self, fn: Callable[..., _T], /, *args: Any) -> "Future[_T]":
        """Run `fn(*args)` on the executor as a job of no call: it outlives the call that started it, a caller
        waiting on it and then cancelled does not cancel it, and closing the stores waits for it."""
        return self.executor.submit(fn, *args)

    def close(self) -> None:
        """Close every client (after the executor's pending jobs)."""
        if "executor" in self.__dict__:
            self.executor.shutdown(wait=True, cancel_futures=False)
        self.pg.close()
        self.graph.close()
        self.redis.close()

    def __enter__(self) -> "Stores":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
