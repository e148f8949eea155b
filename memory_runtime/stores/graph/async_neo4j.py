"""Neo4j for AsyncAgentMemory: the same statements and error mapping, on the driver's `AsyncGraphDatabase`."""

import asyncio
from typing import Any

from memory_runtime.stores.bridge import Bridged, await_io
from memory_runtime.stores.graph.neo4j import Neo4jGraphStore


class AsyncNeo4jGraphStore(Neo4jGraphStore):
    """`Neo4jGraphStore` over the asyncio driver (seen through the bridge); closed with `aclose()`."""

    def _new_driver(self, uri: str, **options: Any) -> Any:
        self._adriver = self._neo4j.AsyncGraphDatabase.driver(uri, **options)
        return Bridged(self._adriver)

    def _pause(self, seconds: float) -> None:
        await_io(asyncio.sleep(seconds))  # a blocking sleep would stall the event loop and every other call

    def close(self) -> None:
        raise RuntimeError("AsyncNeo4jGraphStore closes with `await graph.aclose()`")

    async def aclose(self) -> None:
        """Close the driver and its connections (idempotent)."""
        await self._adriver.close()
