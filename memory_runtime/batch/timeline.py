"""The memory timeline: episodes, facts and entities of a window upserted into Postgres `memory_timeline`.

One 'episode' per conversation and day (ref_id '<conversation>@<day>'), one 'fact' per fact learnt or
becoming valid in the window, one 'entity' per entity first learnt in it. Rows are upserted on
(event_type, ref_id) and unchanged rows are left alone, so re-running a window writes nothing new.
`upsert_timeline` is also how reflections land in the timeline.
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory_runtime.domain.models import to_ms
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import timeline as q
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.postgres import timeline as timeline_table

SUMMARY_CHARS = 500


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


@dataclass(frozen=True)
class TimelineReport:
    """Events of a window by type, what the upsert did, and the events themselves (for a preview)."""

    episodes: int
    facts: int
    entities: int
    inserted: int
    updated: int
    unchanged: int
    events: list[TimelineEvent]


def utc_from_ms(ms: int | float) -> datetime:
    """An epoch-millisecond graph time as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


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
        chunk = [
            timeline_table.TimelineRow(
                e.user_id,
                e.event_type,
                e.ref_id,
                e.conversation_id,
                e.occurred_at,
                shorten(e.summary) or "(empty)",
                json.dumps(e.metadata, ensure_ascii=False, sort_keys=True, default=str),
            )
            for e in rows[at : at + batch]
        ]
        new, changed = timeline_table.upsert_timeline_rows(pg, chunk)
        inserted += new
        updated += changed
    return {"inserted": inserted, "updated": updated, "unchanged": len(rows) - inserted - updated}


def episode_events(stores: Stores, start: datetime, end: datetime) -> list[TimelineEvent]:
    """One 'episode' event per conversation and UTC day of the window's turns."""
    return [
        TimelineEvent(
            user_id=r["user_id"],
            event_type="episode",
            ref_id=f"{r['conversation_id']}@{r['day']}",
            conversation_id=r["conversation_id"],
            occurred_at=r["first_at"],
            summary=f"{r['turns']} turns: {shorten(r['opening'] or r['first_content'], 300)}",
            metadata={
                "day": r["day"],
                "turns": int(r["turns"]),
                "first_index": int(r["first_index"]),
                "last_index": int(r["last_index"]),
                "last_at": r["last_at"].astimezone(UTC).isoformat(),
            },
        )
        for r in timeline_table.episodes_in_window(stores.pg, start, end)
    ]


def fact_events(stores: Stores, start: datetime, end: datetime) -> list[TimelineEvent]:
    """One 'fact' event per fact learnt or becoming valid in the window (at its valid_at, else created_at)."""
    graph = stores.graph
    rows = graph.read(q.facts_in_window(graph.dialect), {"start": to_ms(start), "end": to_ms(end)})
    events = []
    for r in rows:
        occurred = r["valid_at"] if r["valid_at"] is not None else r["created_at"]
        if occurred is None or not r["user_id"]:
            continue
        convs = sorted(c for c in (r["conversation_ids"] or []) if c)
        invalid = r["invalid_at"]
        events.append(
            TimelineEvent(
                user_id=r["user_id"],
                event_type="fact",
                ref_id=r["id"],
                conversation_id=convs[0] if convs else None,
                occurred_at=utc_from_ms(occurred),
                summary=r["claim"] or "",
                metadata={
                    "confidence": r["confidence"],
                    "source": r["source"],
                    "extractor_version": r["extractor_version"],
                    "invalid_at": utc_from_ms(invalid).isoformat() if invalid is not None else None,
                },
            )
        )
    return events


def entity_events(stores: Stores, start: datetime, end: datetime) -> list[TimelineEvent]:
    """One 'entity' event per entity first learnt in the window."""
    graph = stores.graph
    rows = graph.read(q.entities_in_window(graph.dialect), {"start": to_ms(start), "end": to_ms(end)})
    return [
        TimelineEvent(
            user_id=r["user_id"],
            event_type="entity",
            ref_id=r["id"],
            occurred_at=utc_from_ms(r["created_at"]),
            summary=f"{r['type']} {r['name']}" + (f": {r['description']}" if r["description"] else ""),
            metadata={"name": r["name"], "type": r["type"]},
        )
        for r in rows
    ]


def build_timeline(stores: Stores, start: datetime, end: datetime) -> TimelineReport:
    """Upsert the episodes, facts and entities of [start, end) into memory_timeline."""
    events = episode_events(stores, start, end) + fact_events(stores, start, end) + entity_events(stores, start, end)
    result = upsert_timeline(stores.pg, events)
    by_type: dict[str, int] = defaultdict(int)
    for e in events:
        by_type[e.event_type] += 1
    return TimelineReport(
        episodes=by_type["episode"],
        facts=by_type["fact"],
        entities=by_type["entity"],
        inserted=result["inserted"],
        updated=result["updated"],
        unchanged=result["unchanged"],
        events=events,
    )
