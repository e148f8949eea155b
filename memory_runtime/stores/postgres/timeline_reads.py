"""Reads of the `memory_timeline` table (written by the `memory_timeline` asset): one user's events in a window."""

from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres.pool import PostgresStore


def user_timeline(
    pg: PostgresStore, user_id: str, since: datetime | None, until: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """This user's timeline events with `since <= occurred_at < until` (either bound optional), newest first."""
    return pg.fetch(
        """
        SELECT event_type, ref_id, conversation_id, occurred_at, summary, metadata, recorded_at
          FROM memory_timeline
         WHERE user_id = %(user)s
           AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
           AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
         ORDER BY occurred_at DESC, id DESC LIMIT %(limit)s
        """,
        {"user": user_id, "since": since, "until": until, "limit": limit},
    )
