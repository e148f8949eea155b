"""Erasure of one user from PostgreSQL: every table that holds rows by `user_id`, deleted in one transaction."""

from psycopg import sql

from memory_runtime.stores.postgres.pool import PostgresStore

# Child tables before parents (conversation_logs references conversations, store_items store_namespaces).
USER_TABLES = (
    "tool_invocations",
    "memory_timeline",
    "user_profiles",
    "agent_session_removals",
    "agent_session_counters",
    "conversation_logs",
    "conversations",
    "store_item_vectors",
    "store_items",
    "store_namespaces",
)


def delete_user_rows(pg: PostgresStore, user_id: str) -> dict[str, int]:
    """Delete every row of `user_id` from each of USER_TABLES in one transaction; rows deleted per table."""
    deleted: dict[str, int] = {}
    with pg.connection() as conn:
        for table in USER_TABLES:
            cur = conn.execute(sql.SQL("DELETE FROM {} WHERE user_id = %s").format(sql.Identifier(table)), (user_id,))
            deleted[table] = cur.rowcount
    return deleted


def count_user_rows(pg: PostgresStore, user_id: str) -> dict[str, int]:
    """How many rows of `user_id` each of USER_TABLES holds."""
    counts: dict[str, int] = {}
    for table in USER_TABLES:
        rows = pg.fetch(
            sql.SQL("SELECT count(*) AS n FROM {} WHERE user_id = %s").format(sql.Identifier(table)), (user_id,)
        )
        counts[table] = rows[0]["n"]
    return counts
