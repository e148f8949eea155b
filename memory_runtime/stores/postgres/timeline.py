"""The `memory_timeline` table: the idempotent upsert of timeline rows, and the episodes of a window."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres import PostgresStore


@dataclass(frozen=True)
class TimelineRow:
    """One memory_timeline row as written: metadata already JSON text, summary already shortened."""

    user_id: str
    event_type: str
    ref_id: str
    conversation_id: str | None
    occurred_at: datetime
    summary: str
    metadata_json: str


def upsert_timeline_rows(pg: PostgresStore, rows: Sequence[TimelineRow]) -> tuple[int, int]:
    """Insert new rows and update changed ones (keyed (event_type, ref_id), one row per key); returns
    (inserted, updated). Unchanged rows are not rewritten (recorded_at keeps the time the row last changed)."""
    with pg.connection() as conn:
        result = conn.execute(
            """
INSERT INTO memory_timeline AS m
       (user_id, event_type, ref_id, conversation_id, occurred_at, summary, metadata)
SELECT u, e, r, c, o, s, md::jsonb
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])
       AS x(u, e, r, c, o, s, md)
ON CONFLICT (event_type, ref_id) DO UPDATE
   SET user_id = EXCLUDED.user_id, conversation_id = EXCLUDED.conversation_id,
       occurred_at = EXCLUDED.occurred_at, summary = EXCLUDED.summary, metadata = EXCLUDED.metadata,
       recorded_at = now()
 WHERE (m.user_id, m.conversation_id, m.occurred_at, m.summary, m.metadata)
       IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.conversation_id, EXCLUDED.occurred_at, EXCLUDED.summary,
                         EXCLUDED.metadata)
RETURNING (xmax = 0) AS inserted
""",
            (
                [r.user_id for r in rows],
                [r.event_type for r in rows],
                [r.ref_id for r in rows],
                [r.conversation_id for r in rows],
                [r.occurred_at for r in rows],
                [r.summary for r in rows],
                [r.metadata_json for r in rows],
            ),
        ).fetchall()
    inserted = sum(1 for r in result if r["inserted"])
    return inserted, len(result) - inserted


def episodes_in_window(pg: PostgresStore, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One row per (user, conversation, UTC day) of the turns created in [start, end): turn count, first and last
    time and index, the first user turn (`opening`) and the first turn (`first_content`), each cut to 300 chars."""
    return pg.fetch(
        """
SELECT user_id, conversation_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
       count(*) AS turns, min(created_at) AS first_at, max(created_at) AS last_at,
       min(turn_index) AS first_index, max(turn_index) AS last_index,
       (array_agg(left(content, 300) ORDER BY turn_index) FILTER (WHERE role = 'user'))[1] AS opening,
       (array_agg(left(content, 300) ORDER BY turn_index))[1] AS first_content
  FROM conversation_logs WHERE created_at >= %s AND created_at < %s
 GROUP BY 1, 2, 3
""",
        (start, end),
    )


# ---- one user's events in a window (the REST timeline route)


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
