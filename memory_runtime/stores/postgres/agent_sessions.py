"""OpenAI Agents sessions over the turn log: the items of a session are the turns of its conversation that
carry an item (metadata key `agents_item`) and were not removed (`agent_session_removals`, migration 0004)."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import DictRow

from memory_runtime.stores.postgres.pool import PostgresStore

ITEM_KEY = "agents_item"  # the turn metadata key holding the item's JSON text
_SESSIONS = 0x73657373  # "sess": the first key of the per-session advisory lock

_LIVE = """
    FROM conversation_logs l
   WHERE l.user_id = %(user)s AND l.conversation_id = %(session)s AND l.metadata ? 'agents_item'
     AND NOT EXISTS (SELECT 1 FROM agent_session_removals r WHERE r.turn_id = l.id)
"""


@contextmanager
def session_lock(pg: PostgresStore, user_id: str, session_id: str) -> Iterator[psycopg.Connection[DictRow]]:
    """A transaction holding the session's removal lock (removers of one session, in any process, take turns),
    for `pop` and `clear`; the body must use only that connection."""
    with pg.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_SESSIONS, f"{user_id}\x1f{session_id}"))
        yield conn


def reserve_indexes(pg: PostgresStore, user_id: str, session_id: str, count: int) -> int:
    """Reserve `count` turn indexes for the session's next items (after every turn of its conversation); returns
    the first. Reservations of concurrent writers never overlap; one a failed writer made leaves a gap."""
    rows = pg.fetch(
        "INSERT INTO agent_session_counters AS c (user_id, session_id, next_index) "
        "VALUES (%(user)s, %(session)s, (SELECT coalesce(max(turn_index) + 1, 0) FROM conversation_logs "
        "WHERE user_id = %(user)s AND conversation_id = %(session)s) + %(count)s) "
        "ON CONFLICT (user_id, session_id) DO UPDATE SET next_index = greatest(c.next_index, "
        "(SELECT coalesce(max(turn_index) + 1, 0) FROM conversation_logs "
        "WHERE user_id = %(user)s AND conversation_id = %(session)s)) + %(count)s "
        "RETURNING next_index - %(count)s AS first",
        {"user": user_id, "session": session_id, "count": count},
    )
    return int(rows[0]["first"])


def items(pg: PostgresStore, user_id: str, session_id: str, latest: int | None) -> list[str]:
    """The item JSON texts of the session, oldest first; only the `latest` ones if given."""
    params: dict[str, object] = {"user": user_id, "session": session_id, "limit": latest}
    rows = pg.fetch(
        "SELECT item FROM (SELECT l.metadata ->> 'agents_item' AS item, l.turn_index " + _LIVE
        + " ORDER BY l.turn_index DESC LIMIT %(limit)s) AS last ORDER BY turn_index",
        params,
    )  # fmt: skip
    return [row["item"] for row in rows]


def pop(conn: psycopg.Connection[DictRow], user_id: str, session_id: str) -> str | None:
    """Remove the session's latest item from its history; returns its JSON text, None if there is none."""
    row = conn.execute(
        "WITH last AS (SELECT l.id, l.metadata ->> 'agents_item' AS item " + _LIVE
        + " ORDER BY l.turn_index DESC LIMIT 1), "
        "gone AS (INSERT INTO agent_session_removals (turn_id, user_id, conversation_id) "
        "SELECT id, %(user)s, %(session)s FROM last) SELECT item FROM last",
        {"user": user_id, "session": session_id},
    ).fetchone()  # fmt: skip
    return None if row is None else str(row["item"])


def clear(conn: psycopg.Connection[DictRow], user_id: str, session_id: str) -> int:
    """Remove every item of the session from its history; returns how many were removed."""
    cur = conn.execute(
        "INSERT INTO agent_session_removals (turn_id, user_id, conversation_id) "
        "SELECT l.id, %(user)s, %(session)s " + _LIVE,
        {"user": user_id, "session": session_id},
    )
    return cur.rowcount
