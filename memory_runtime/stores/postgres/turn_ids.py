"""Caller-chosen turn ids and token counts (`conversation_logs.client_id`, `.token_count`, migration 0002).

A turn is keyed everywhere by its uuid5 `id`; `client_id` is the id its caller gave it, unique per user
(a partial unique index), so these functions translate between the two and read turns back with it.
"""

from dataclasses import dataclass
from typing import Any

import psycopg

from memory_runtime.stores.postgres.pool import PostgresStore


@dataclass(frozen=True)
class TurnDetails:
    """What the caller gave a stored turn beyond its content: its own id and its token count (None if not)."""

    client_id: str | None
    token_count: int | None


_LOCK_NAMESPACE = 0x7475726E  # "turn": the first key of the per-user advisory lock over caller ids


def lock_client_ids(conn: psycopg.Connection, user_id: str) -> None:
    """Hold this user's caller-id lock until the transaction ends (writers naming turns take turns)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, user_id))


def turns_holding_client_ids(conn: psycopg.Connection, user_id: str, client_ids: list[str]) -> dict[str, str]:
    """The stored turn id that holds each of these caller ids for this user."""
    rows = conn.execute(
        "SELECT client_id, id::text AS id FROM conversation_logs WHERE user_id = %s AND client_id = ANY(%s::text[])",
        (user_id, client_ids),
    ).fetchall()
    return {r["client_id"]: r["id"] for r in rows}


def stored_client_ids(conn: psycopg.Connection, turn_ids: list[str]) -> dict[str, str | None]:
    """The caller id (or None) of each of these stored turns."""
    rows = conn.execute(
        "SELECT id::text AS id, client_id FROM conversation_logs WHERE id = ANY(%s::uuid[])", (turn_ids,)
    ).fetchall()
    return {r["id"]: r["client_id"] for r in rows}


def attach_turn_details(
    conn: psycopg.Connection, turn_ids: list[str], client_ids: list[str | None], token_counts: list[int | None]
) -> None:
    """Give stored turns their caller id and token count where they have none yet (raises UniqueViolation
    when a caller id is already another turn's)."""
    conn.execute(
        """
        UPDATE conversation_logs AS l
           SET client_id = coalesce(l.client_id, x.client_id), token_count = coalesce(l.token_count, x.token_count)
          FROM unnest(%s::uuid[], %s::text[], %s::int4[]) AS x(id, client_id, token_count)
         WHERE l.id = x.id
        """,
        (turn_ids, client_ids, token_counts),
    )


def turn_details(pg: PostgresStore, user_id: str, turn_ids: list[str]) -> dict[str, TurnDetails]:
    """Caller id and token count of those of this user's turns that have either."""
    if not turn_ids:
        return {}
    rows = pg.fetch(
        """
        SELECT id::text AS id, client_id, token_count FROM conversation_logs
         WHERE id = ANY(%s::uuid[]) AND user_id = %s AND (client_id IS NOT NULL OR token_count IS NOT NULL)
        """,
        (turn_ids, user_id),
    )
    return {r["id"]: TurnDetails(r["client_id"], r["token_count"]) for r in rows}


def resolve_turn_ids(pg: PostgresStore, user_id: str, turn_ids: list[str]) -> list[str]:
    """The stored ids of turns named by this user's caller ids; an id that is no caller id is kept as given."""
    if not turn_ids:
        return []
    with pg.connection() as conn:
        stored = turns_holding_client_ids(conn, user_id, turn_ids)
    return [stored.get(t, t) for t in turn_ids]


def recent_turns(pg: PostgresStore, user_id: str, conversation_id: str | None, limit: int) -> list[dict[str, Any]]:
    """This user's latest `limit` turns (of one conversation, or of all), newest first."""
    return pg.fetch(
        """
        SELECT id::text AS id, client_id, conversation_id, turn_index, role, content, metadata, token_count,
               created_at
          FROM conversation_logs
         WHERE user_id = %(user)s AND (%(conv)s::text IS NULL OR conversation_id = %(conv)s)
         ORDER BY created_at DESC, turn_index DESC LIMIT %(limit)s
        """,
        {"user": user_id, "conv": conversation_id, "limit": limit},
    )
