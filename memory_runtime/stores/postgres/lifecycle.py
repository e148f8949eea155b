"""Salience and archival in `conversation_logs` (the Postgres side of `batch.decay` and `batch.archive`)."""

from collections.abc import Sequence
from datetime import datetime

from memory_runtime.stores.postgres import PostgresStore


def mirror_turn_salience(pg: PostgresStore, turn_ids: Sequence[str], saliences: Sequence[float]) -> int:
    """Set conversation_logs.salience of each turn id to its value; returns the rows that changed."""
    with pg.connection() as conn:
        return conn.execute(
            """
            UPDATE conversation_logs AS l SET salience = x.s
              FROM unnest(%s::uuid[], %s::real[]) AS x(id, s)
             WHERE l.id = x.id AND l.salience IS DISTINCT FROM x.s
            """,
            (list(turn_ids), list(saliences)),
        ).rowcount


def archive_turns_before(pg: PostgresStore, cutoff: datetime, limit: int) -> int:
    """Set archived_at = now() on up to `limit` unarchived turns created before `cutoff`; returns how many."""
    with pg.connection() as conn:
        return conn.execute(
            """
            UPDATE conversation_logs SET archived_at = now()
             WHERE id IN (SELECT id FROM conversation_logs
                           WHERE created_at < %s AND archived_at IS NULL LIMIT %s)
            """,
            (cutoff, limit),
        ).rowcount
