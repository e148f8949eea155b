"""The turn log (`conversation_logs`) per time window and after a sensor cursor: reads, salience and archival.

What the batch jobs observe of the system of record: the counts of a window (`conversation_turns`), the
turns of a window a page at a time (consolidation), the users active in it (profiles), and the settled turns
after a `seq` cursor (the new-conversation sensor); and the two batch writes to it, the salience mirror of the decay
and the archival mark. Every function opens its own connection.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres import PostgresStore


def window_totals(pg: PostgresStore, start: datetime, end: datetime) -> dict[str, Any]:
    """turns, conversations, users, archived and max_seq (0 when empty) of turns with created_at in [start, end)."""
    return pg.fetch(
        """
        SELECT count(*) AS turns, count(DISTINCT conversation_id) AS conversations,
               count(DISTINCT user_id) AS users, count(*) FILTER (WHERE archived_at IS NOT NULL) AS archived,
               coalesce(max(seq), 0) AS max_seq
          FROM conversation_logs WHERE created_at >= %(start)s AND created_at < %(end)s
        """,
        {"start": start, "end": end},
    )[0]


def tool_invocation_count(pg: PostgresStore, start: datetime, end: datetime) -> int:
    """Tool calls recorded with created_at in [start, end)."""
    count: int = pg.fetch(
        "SELECT count(*) AS n FROM tool_invocations WHERE created_at >= %(start)s AND created_at < %(end)s",
        {"start": start, "end": end},
    )[0]["n"]
    return count


def daily_counts(pg: PostgresStore, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per UTC day ('YYYY-MM-DD', ascending) of [start, end): turns, conversations, users."""
    return pg.fetch(
        """
        SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS turns,
               count(DISTINCT conversation_id) AS conversations, count(DISTINCT user_id) AS users
          FROM conversation_logs WHERE created_at >= %(start)s AND created_at < %(end)s
         GROUP BY 1 ORDER BY 1
        """,
        {"start": start, "end": end},
    )


def unarchived_turns_per_day(pg: PostgresStore, start: datetime, end: datetime) -> dict[str, int]:
    """{UTC day 'YYYY-MM-DD': unarchived turns} of [start, end)."""
    rows = pg.fetch(
        """
        SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS turns
          FROM conversation_logs
         WHERE created_at >= %s AND created_at < %s AND archived_at IS NULL GROUP BY 1
        """,
        (start, end),
    )
    return {r["day"]: int(r["turns"]) for r in rows}


def turn_page(
    pg: PostgresStore,
    start: datetime,
    end: datetime,
    user_id: str | None,
    after: tuple[datetime, str, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` unarchived turns of [start, end) (of `user_id`, or all) after the keyset `after`
    ((created_at, conversation_id, turn_index); None = from the start), in that order, with the metadata
    `speaker` (who said it in a chat between named people, else None)."""
    return pg.fetch(
        """
            SELECT id::text AS id, user_id, conversation_id, turn_index, role, content, created_at,
                   metadata->>'speaker' AS speaker
              FROM conversation_logs
             WHERE archived_at IS NULL AND created_at >= %(start)s AND created_at < %(end)s
               AND (%(user)s::text IS NULL OR user_id = %(user)s)
               AND (%(first)s OR (created_at, conversation_id, turn_index) > (%(ts)s, %(conv)s, %(idx)s))
             ORDER BY created_at, conversation_id, turn_index
             LIMIT %(limit)s
            """,
        {
            "start": start,
            "end": end,
            "user": user_id,
            "first": after is None,
            "ts": after[0] if after else None,
            "conv": after[1] if after else None,
            "idx": after[2] if after else None,
            "limit": limit,
        },
    )


def users_with_turns(pg: PostgresStore, start: datetime, end: datetime) -> set[str]:
    """Users with a turn created in [start, end)."""
    rows = pg.fetch(
        "SELECT DISTINCT user_id FROM conversation_logs WHERE created_at >= %s AND created_at < %s", (start, end)
    )
    return {r["user_id"] for r in rows}


def turns_after_seq(pg: PostgresStore, after: int, lag_s: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` turns with seq > `after` in seq order: seq, UTC day, and whether it was ingested more than
    `lag_s` seconds ago (settled)."""
    return pg.fetch(
        """
        SELECT seq, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
               ingested_at < now() - make_interval(secs => %(lag)s) AS settled
          FROM conversation_logs WHERE seq > %(after)s ORDER BY seq LIMIT %(limit)s
        """,
        {"after": after, "lag": lag_s, "limit": limit},
    )


def days_ingested_recently(pg: PostgresStore, days: list[str], lag_s: int) -> set[str]:
    """Those of `days` (UTC 'YYYY-MM-DD') whose latest turn was ingested less than `lag_s` seconds ago."""
    rows = pg.fetch(
        """
            SELECT d AS day FROM unnest(%(days)s::text[]) AS d
              JOIN conversation_logs l
                ON l.created_at >= (d::date::timestamp AT TIME ZONE 'UTC')
               AND l.created_at < ((d::date + 1)::timestamp AT TIME ZONE 'UTC')
             GROUP BY d HAVING max(l.ingested_at) >= now() - make_interval(secs => %(lag)s)
            """,
        {"days": days, "lag": lag_s},
    )
    return {r["day"] for r in rows}


# ---- salience and archival of turns (batch.decay, batch.archive)


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


# ---- embedding dimensions of stored turns (batch.checks)


def turn_embedding_column_dimensions(pg: PostgresStore) -> int | None:
    """The declared dimension of conversation_logs.embedding (its atttypmod; -1 = unconstrained), None if absent."""
    rows = pg.fetch(
        """
        SELECT a.atttypmod AS dims FROM pg_attribute a
         WHERE a.attrelid = 'conversation_logs'::regclass AND a.attname = 'embedding'
        """
    )
    return int(rows[0]["dims"]) if rows else None


def recent_turn_dimension_mismatches(pg: PostgresStore, dims: int, sample: int) -> dict[str, Any]:
    """Of the `sample` most recent turns with an embedding: `n` checked and `bad` whose dimension is not `dims`."""
    return pg.fetch(
        """
        SELECT count(*) FILTER (WHERE vector_dims(embedding) <> %s) AS bad, count(*) AS n
          FROM (SELECT embedding FROM conversation_logs WHERE embedding IS NOT NULL
                 ORDER BY seq DESC LIMIT %s) s
        """,
        (dims, sample),
    )[0]
