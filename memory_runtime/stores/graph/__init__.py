"""Graph stores: one GraphStore interface, Neo4j and FalkorDB backends, shared Cypher."""

from memory_runtime.config import Settings
from memory_runtime.stores.graph.base import GraphStore, Row, SchemaReport


def open_graph(settings: Settings, *, asynchronous: bool = False) -> GraphStore:
    """The GraphStore that MEMORY_GRAPH_URI selects (connections open lazily on first query); with
    `asynchronous`, its variant on the driver's asyncio client, for AsyncAgentMemory."""
    uri = settings.require("graph_uri")
    if settings.graph_backend == "neo4j":
        from memory_runtime.stores.graph.neo4j import Neo4jGraphStore

        backend = Neo4jGraphStore
        if asynchronous:
            from memory_runtime.stores.graph.async_neo4j import AsyncNeo4jGraphStore

            backend = AsyncNeo4jGraphStore
        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
        return backend(
            uri,
            settings.neo4j_user,
            password,
            settings.neo4j_database,
            connect_timeout_s=settings.connect_timeout_s,
            max_connections=settings.graph_pool_max,
        )
    from memory_runtime.stores.graph.falkordb import FalkorGraphStore

    falkor = FalkorGraphStore
    if asynchronous:
        from memory_runtime.stores.graph.async_falkordb import AsyncFalkorGraphStore

        falkor = AsyncFalkorGraphStore
    return falkor(
        uri, settings.graph_name, connect_timeout_s=settings.connect_timeout_s, max_connections=settings.graph_pool_max
    )


__all__ = ["GraphStore", "Row", "SchemaReport", "open_graph"]
