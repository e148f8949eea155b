"""Rows of Postgres `memory_timeline`, upserted idempotently on (event_type, ref_id)."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres import PostgresStore

SUMMARY_CHARS = 500

# Unchanged rows are not rewritten (recorded_at keeps the time the row last changed).
_UPSERT = """
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
"""


@dataclass(frozen=True)
class TimelineEvent:
    """One memory_timeline row; (event_type, ref_id) is its identity."""

    user_id: str
    event_type: str  # episode | fact | entity | goal | strategy | reflection
    ref_id: str
    occurred_at: datetime
    summary: str
    conversation_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def shorten(text: str | None, limit: int = SUMMARY_CHARS) -> str:
    """Whitespace-collapsed text of at most `limit` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def upsert_timeline(pg: PostgresStore, events: Iterable[TimelineEvent], batch: int = 2000) -> dict[str, int]:
    """Insert new events and update changed ones; returns counts inserted / updated / unchanged."""
    unique = {(e.event_type, e.ref_id): e for e in events}  # one row per key per statement
    rows = list(unique.values())
    inserted = updated = 0
    for at in range(0, len(rows), batch):
        chunk = rows[at : at + batch]
        with pg.connection() as conn:
            result = conn.execute(
                _UPSERT,
                (
                    [e.user_id for e in chunk],
                    [e.event_type for e in chunk],
                    [e.ref_id for e in chunk],
                    [e.conversation_id for e in chunk],
                    [e.occurred_at for e in chunk],
                    [shorten(e.summary) or "(empty)" for e in chunk],
                    [json.dumps(e.metadata, ensure_ascii=False, sort_keys=True, default=str) for e in chunk],
                ),
            ).fetchall()
        inserted += sum(1 for r in result if r["inserted"])
        updated += sum(1 for r in result if not r["inserted"])
    return {"inserted": inserted, "updated": updated, "unchanged": len(rows) - inserted - updated}
