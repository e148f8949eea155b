"""Helpers for the reliability suite: building turns, stopping servers, counting a user's data per store."""

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from graph_server import StandaloneFalkorDB
from psycopg import sql

from memory_ops.stack.embedded import EmbeddedStack
from memory_runtime.config import Settings
from memory_runtime.domain.models import Turn
from memory_runtime.stores.bundle import Stores

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def turns(conv: str, n: int, start: int = 0, text: str = "message") -> list[Turn]:
    """`n` turns of `conv` from index `start`, user/assistant alternating, one minute apart."""
    return [
        Turn(conversation_id=conv, index=i, role="user" if i % 2 == 0 else "assistant",
             content=f"{text} {i}", timestamp=T0 + timedelta(minutes=i))
        for i in range(start, start + n)
    ]  # fmt: skip


def open_stores(settings: Settings) -> Stores:
    """Stores for `settings`, with the schema applied."""
    from memory_runtime.stores.migrations import migrate

    stores = Stores.open(settings)
    migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
    return stores


def redis_uri(server: StandaloneFalkorDB) -> str:
    """MEMORY_REDIS_URI of a standalone server."""
    return f"unix://{server.sock}"


def stop_postgres(embedded: EmbeddedStack) -> None:
    """Stop an embedded PostgreSQL the way the project does (`pg_ctl -m fast stop`), leaving Redis up."""
    import pgserver  # imported after the stack is up: XDG_RUNTIME_DIR is set (services.py, P-P4)

    pgserver.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=embedded.pg_dir, user="pgserver" if os.geteuid() == 0 else None
    )


# ---- counting ----------------------------------------------------------------------------------------


def pg_turn_ids(stores: Stores, user: str) -> list[str]:
    """Ids of the user's turns in Postgres (one per row)."""
    rows = stores.pg.fetch("SELECT id::text AS id FROM conversation_logs WHERE user_id = %s", (user,))
    return [r["id"] for r in rows]


def graph_turn_ids(stores: Stores, user: str) -> list[str]:
    """Ids of the user's Turn nodes (one per node, so duplicates would show)."""
    rows = stores.graph.read("MATCH (t:Turn) WHERE t.user_id = $u RETURN t.id AS id", {"u": user})
    return [r["id"] for r in rows]


def followed_by(stores: Stores, user: str) -> list[tuple[str, int, int]]:
    """(conversation, from index, to index) of every FOLLOWED_BY link between the user's turns."""
    rows = stores.graph.read(
        "MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) WHERE a.user_id = $u "
        "RETURN a.conversation_id AS c, a.index AS a, b.index AS b, b.conversation_id AS cb",
        {"u": user},
    )
    assert all(r["c"] == r["cb"] for r in rows), "a FOLLOWED_BY link crosses conversations"
    return sorted((r["c"], r["a"], r["b"]) for r in rows)


def expected_links(indexes_by_conv: dict[str, set[int]]) -> list[tuple[str, int, int]]:
    """The FOLLOWED_BY links a set of stored indexes must have: one per pair of consecutive indexes."""
    return sorted((c, i, i + 1) for c, idx in indexes_by_conv.items() for i in idx if i + 1 in idx)


def user_tables(stores: Stores) -> list[str]:
    """Every table of the memory schema that has a user_id column (found, not listed by hand)."""
    rows = stores.pg.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = 'user_id' "
        "ORDER BY table_name",
        (stores.settings.postgres_schema,),
    )
    return [r["table_name"] for r in rows]


def pg_rows(stores: Stores, user: str) -> dict[str, int]:
    """Rows of `user` in every table with a user_id column."""
    out = {}
    for table in user_tables(stores):
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE user_id = %s").format(sql.Identifier(table))
        out[table] = stores.pg.fetch(query, (user,))[0]["n"]
    return out


def graph_nodes(stores: Stores, user: str) -> dict[str, int]:
    """Nodes carrying user_id = `user`, per label set."""
    rows = stores.graph.read("MATCH (n) WHERE n.user_id = $u RETURN labels(n) AS l, count(n) AS n", {"u": user})
    return {":".join(sorted(r["l"])): r["n"] for r in rows}


def redis_keys(stores: Stores, needle: str) -> list[str]:
    """Keys under the runtime's prefix whose name contains `needle` (a SCAN, as an auditor would)."""
    client = stores.redis.client
    found = [k.decode() for k in client.scan_iter(match=f"{stores.redis.prefix}:*", count=1000)]
    return sorted(k for k in found if needle in k)


def stream_jobs(stores: Stores, user: str) -> int:
    """Entries of the reflection stream that belong to `user`."""
    from memory_runtime.memory.reflection import DEFAULT_STREAM

    entries = stores.redis.client.xrange(stores.redis.key("stream", DEFAULT_STREAM), "-", "+")
    return sum(1 for _, fields in entries if fields.get(b"user_id") == user.encode())


def footprint(stores: Stores, user: str) -> dict[str, Any]:
    """Everything of `user` in every store: Postgres rows per table, graph nodes per label, Redis keys, jobs."""
    return {
        "postgres": pg_rows(stores, user),
        "graph": graph_nodes(stores, user),
        "redis_keys": redis_keys(stores, user),
        "stream_jobs": stream_jobs(stores, user),
    }


def is_empty(fp: dict[str, Any]) -> bool:
    """True when a footprint holds nothing at all."""
    return (
        not any(fp["postgres"].values()) and not any(fp["graph"].values()) and not fp["redis_keys"]
        and not fp["stream_jobs"]
    )  # fmt: skip
