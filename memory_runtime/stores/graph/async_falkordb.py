"""FalkorDB for AsyncAgentMemory: the same statements and reply decoding, on FalkorDB's asyncio graph.

The graph is `falkordb.asyncio.AsyncGraph` over a `redis.asyncio` pool, seen through the bridge, so the
sync store's query path (parameters header, compact-reply fast path, error mapping) runs unchanged.
The asyncio `FalkorDB` class is not used: its constructor probes the server with a blocking sync client.
"""

from typing import Any

import redis.asyncio as aioredis
from falkordb.asyncio.graph import AsyncGraph
from falkordb.asyncio.query_result import QueryResult as AsyncQueryResult
from falkordb.query_result import QueryResult
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from memory_runtime.stores.bridge import Bridged, await_io
from memory_runtime.stores.graph.dialect import FalkorDialect
from memory_runtime.stores.graph.falkordb import FalkorGraphStore, pool_options, server_url


class AsyncFalkorGraphStore(FalkorGraphStore):
    """`FalkorGraphStore` over FalkorDB's asyncio client; closed with `aclose()`."""

    def __init__(self, uri: str, graph_name: str, *, connect_timeout_s: float = 5.0, max_connections: int = 16):
        self.dialect = FalkorDialect()
        url, self.graph_name = server_url(uri, graph_name)
        self._apool: aioredis.BlockingConnectionPool = aioredis.BlockingConnectionPool.from_url(
            url, **pool_options(connect_timeout_s, max_connections), retry=Retry(ExponentialBackoff(0.5, 0.05), 2)
        )
        self._aclient = aioredis.Redis(connection_pool=self._apool)
        self._agraph = AsyncGraph(self._aclient, self.graph_name)
        self._connection = Bridged(self._aclient)
        self._graph = Bridged(self._agraph)

    def _decoded(self, response: list[Any]) -> QueryResult:
        async def parse() -> Any:
            result = AsyncQueryResult(self._agraph)
            await result.parse(response)
            return result

        decoded: QueryResult = await_io(parse())
        return decoded

    def close(self) -> None:
        raise RuntimeError("AsyncFalkorGraphStore closes with `await graph.aclose()`")

    async def aclose(self) -> None:
        """Disconnect every pooled connection (idempotent)."""
        await self._aclient.aclose()
        await self._apool.disconnect()
