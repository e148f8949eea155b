"""Conversations as people browse them: the users of a namespace with their activity, a user's conversations,
and pages of one conversation's turns (the reads of `memory_runtime.memory.browse`).

Users are named by the `conversations` table (every stored turn claims its conversation there) and by
`user_profiles`; a user id prefix (`<tenant>:`) selects one namespace of users. Pages are `LIMIT`/`OFFSET` over
an index order: (user_id, last_turn_at) for conversations, (conversation_id, turn_index) for turns.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from memory_runtime.stores.postgres.pool import PostgresStore

_USERS = """
    SELECT user_id, max(last_turn_at) AS last_turn_at, count(*) AS conversations
      FROM conversations
     WHERE starts_with(user_id, %(prefix)s)
       AND (%(search)s::text IS NULL OR strpos(lower(substr(user_id, %(cut)s)), lower(%(search)s)) > 0)
     GROUP BY user_id
    UNION ALL
    SELECT p.user_id, NULL, 0
      FROM user_profiles p
     WHERE starts_with(p.user_id, %(prefix)s)
       AND (%(search)s::text IS NULL OR strpos(lower(substr(p.user_id, %(cut)s)), lower(%(search)s)) > 0)
       AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.user_id = p.user_id)
"""


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _user_params(prefix: str, search: str | None, **extra: Any) -> dict[str, Any]:
    return {"prefix": prefix, "search": search or None, "cut": len(prefix) + 1, **extra}


def users_page(pg: PostgresStore, prefix: str, search: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Users whose id starts with `prefix` (and contains `search` after it), latest activity first."""
    return pg.fetch(
        f"SELECT * FROM ({_USERS}) AS u ORDER BY last_turn_at DESC NULLS LAST, user_id"
        " LIMIT %(limit)s OFFSET %(offset)s",
        _user_params(prefix, search, limit=limit, offset=offset),
    )


def count_users(pg: PostgresStore, prefix: str, search: str | None) -> int:
    """How many users `users_page` pages through."""
    rows = pg.fetch(f"SELECT count(*) AS n FROM ({_USERS}) AS u", _user_params(prefix, search))
    return int(rows[0]["n"])


def turn_totals(pg: PostgresStore, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per user: stored turns, archived turns and the time of the latest turn."""
    if not user_ids:
        return {}
    rows = pg.fetch(
        """
        SELECT user_id, count(*) AS turns, count(archived_at) AS archived_turns, max(created_at) AS last_turn_at
          FROM conversation_logs WHERE user_id = ANY(%s) GROUP BY user_id
        """,
        (list(user_ids),),
    )
    return {r["user_id"]: r for r in rows}


def tool_call_totals(pg: PostgresStore, user_ids: Sequence[str]) -> dict[str, int]:
    """Per user: audited tool calls."""
    if not user_ids:
        return {}
    rows = pg.fetch(
        "SELECT user_id, count(*) AS n FROM tool_invocations WHERE user_id = ANY(%s) GROUP BY user_id",
        (list(user_ids),),
    )
    return {r["user_id"]: int(r["n"]) for r in rows}


def conversations_page(pg: PostgresStore, user_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """A user's conversations, latest first, each with its number of stored turns."""
    return pg.fetch(
        """
        SELECT c.id, c.title, c.started_at, c.last_turn_at,
               (SELECT count(*) FROM conversation_logs l WHERE l.conversation_id = c.id) AS turns
          FROM conversations c
         WHERE c.user_id = %(user)s
         ORDER BY c.last_turn_at DESC, c.id LIMIT %(limit)s OFFSET %(offset)s
        """,
        {"user": user_id, "limit": limit, "offset": offset},
    )


def count_conversations(pg: PostgresStore, user_id: str) -> int:
    """How many conversations a user has."""
    return int(pg.fetch("SELECT count(*) AS n FROM conversations WHERE user_id = %s", (user_id,))[0]["n"])


def conversation(pg: PostgresStore, user_id: str, conversation_id: str) -> dict[str, Any] | None:
    """One of a user's conversations with its number of turns, or None if the user has no such conversation."""
    rows = pg.fetch(
        """
        SELECT c.id, c.title, c.started_at, c.last_turn_at,
               (SELECT count(*) FROM conversation_logs l WHERE l.conversation_id = c.id) AS turns
          FROM conversations c WHERE c.id = %s AND c.user_id = %s
        """,
        (conversation_id, user_id),
    )
    return rows[0] if rows else None


def conversation_turns(
    pg: PostgresStore, user_id: str, conversation_id: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of one conversation's turns in order, with their original timestamps."""
    return pg.fetch(
        """
        SELECT id::text AS id, client_id, turn_index, role, content, created_at, archived_at, salience
          FROM conversation_logs
         WHERE conversation_id = %(conv)s AND user_id = %(user)s
         ORDER BY turn_index LIMIT %(limit)s OFFSET %(offset)s
        """,
        {"conv": conversation_id, "user": user_id, "limit": limit, "offset": offset},
    )


def turn_rank(pg: PostgresStore, user_id: str, turn_id: str) -> dict[str, Any] | None:
    """Where one of a user's turns (stored id or caller id) is: its conversation and its 0-based rank in it."""
    rows = pg.fetch(
        """
        SELECT t.id::text AS id, t.conversation_id, t.turn_index,
               (SELECT count(*) FROM conversation_logs o
                 WHERE o.conversation_id = t.conversation_id AND o.turn_index < t.turn_index) AS rank
          FROM conversation_logs t
         WHERE t.user_id = %(user)s AND (t.id = %(uuid)s::uuid OR t.client_id = %(turn)s)
         ORDER BY t.client_id IS NOT DISTINCT FROM %(turn)s DESC LIMIT 1
        """,
        {"user": user_id, "turn": turn_id, "uuid": _uuid_or_none(turn_id)},
    )
    return rows[0] if rows else None
