"""Redis for AsyncAgentMemory: the same keys and commands, on `redis.asyncio`.

`client` is the asyncio client seen through the bridge (`memory_runtime.stores.bridge.Bridged`), so working
memory, the embedding cache, rate limits and streams run their own code on it unchanged.
"""

from typing import cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry

from memory_runtime.stores.bridge import Bridged
from memory_runtime.stores.redis import traced
from memory_runtime.stores.redis.client import RETRIES, RETRY_BACKOFF, RedisStore, pool_options


class AsyncRedisStore(RedisStore):
    """`RedisStore` over a `redis.asyncio` pool; closed with `aclose()`."""

    def __init__(self, uri: str, prefix: str = "mem", *, connect_timeout_s: float = 5.0, max_connections: int = 32):
        self.prefix = prefix
        self._apool: aioredis.BlockingConnectionPool = aioredis.BlockingConnectionPool.from_url(
            uri, **pool_options(connect_timeout_s, max_connections), retry=Retry(RETRY_BACKOFF, RETRIES)
        )
        self.aclient = traced.async_client_class()(connection_pool=self._apool)
        self.client = cast(redis.Redis, Bridged(self.aclient))

    def close(self) -> None:
        raise RuntimeError("AsyncRedisStore closes with `await store.aclose()`")

    async def aclose(self) -> None:
        """Disconnect every pooled connection (idempotent)."""
        await self.aclient.aclose()
        await self._apool.disconnect()
