"""The tool-call audit `tool_invocations`: one row per recorded call, the record Tool statistics are rebuilt from."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow

from memory_runtime.domain.errors import ValidationError
from memory_runtime.stores.postgres.pool import PostgresStore


def insert_tool_invocation(
    conn: psycopg.Connection[DictRow],
    *,
    invocation_id: str,
    user_id: str,
    conversation_id: str | None,
    turn_id: str | None,
    turn_index: int | None,
    tool_name: str,
    input_json: str,
    output_json: str,
    success: bool,
    latency_ms: float,
    error: str | None,
    created_at: datetime,
) -> None:
    """Insert one audit row; input and output are JSON texts (ValidationError if jsonb refuses one)."""
    try:
        conn.execute(
            """
            INSERT INTO tool_invocations
                (id, user_id, conversation_id, turn_id, turn_index, tool_name,
                 tool_input, tool_output, success, latency_ms, error, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)
            """,
            (
                invocation_id, user_id, conversation_id, turn_id, turn_index, tool_name,
                input_json, output_json, success, latency_ms, error, created_at,
            ),
        )  # fmt: skip
    except psycopg.DataError as exc:  # e.g. a number jsonb cannot represent
        raise ValidationError(f"tool call rejected by PostgreSQL: {exc}") from None


def tool_totals(pg: PostgresStore, user_id: str) -> list[dict[str, Any]]:
    """Per tool of `user_id`: name, usage/success/failure counts, mean latency, last use and the turn ids."""
    return pg.fetch(
        """
        SELECT tool_name AS name, count(*) AS usage_count,
               count(*) FILTER (WHERE success) AS success_count,
               count(*) FILTER (WHERE NOT success) AS failure_count,
               avg(latency_ms) AS mean_latency_ms, max(created_at) AS last_used_at,
               coalesce(array_agg(DISTINCT turn_id::text) FILTER (WHERE turn_id IS NOT NULL),
                        '{}') AS turn_ids
          FROM tool_invocations WHERE user_id = %s GROUP BY tool_name
        """,
        (user_id,),
    )


# ---- what a reflection critique reads: the tool calls of the reflected conversations


def tool_calls_per_conversation(pg: PostgresStore, conversation_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per (user_id, conversation_id, tool_name) of the conversations: `calls` and `failed` calls."""
    return pg.fetch(
        """
        SELECT user_id, conversation_id, tool_name, count(*) AS calls,
               count(*) FILTER (WHERE NOT success) AS failed
          FROM tool_invocations WHERE conversation_id = ANY(%s)
         GROUP BY user_id, conversation_id, tool_name
        """,
        (list(conversation_ids),),
    )


# ---- tool sequences of conversations, for strategy mining (batch.patterns)

# One row per (user, task type, tool sequence) over the whole history of the users who called tools in
# the window. A conversation's sequence is its tool calls in order with consecutive repeats collapsed
# (retries); its outcome is the success of its last call. The task type is the conversation's
# metadata.task_type, else the first turn metadata.task_type, else the default.
_PATTERNS = """
WITH active AS (
    SELECT DISTINCT user_id FROM tool_invocations
     WHERE created_at >= %(start)s AND created_at < %(end)s AND conversation_id IS NOT NULL
), calls AS (
    SELECT ti.user_id, ti.conversation_id, ti.tool_name, ti.success, ti.created_at, ti.id,
           lag(ti.tool_name) OVER w AS previous_tool,
           row_number() OVER (PARTITION BY ti.conversation_id
                              ORDER BY ti.created_at DESC, ti.id DESC) AS from_end
      FROM tool_invocations ti JOIN active a ON a.user_id = ti.user_id
     WHERE ti.conversation_id IS NOT NULL
    WINDOW w AS (PARTITION BY ti.conversation_id ORDER BY ti.created_at, ti.id)
), runs AS (
    SELECT user_id, conversation_id,
           array_agg(tool_name ORDER BY created_at, id)
               FILTER (WHERE previous_tool IS DISTINCT FROM tool_name) AS tools,
           bool_or(success) FILTER (WHERE from_end = 1) AS succeeded
      FROM calls GROUP BY user_id, conversation_id
), typed AS (
    SELECT r.user_id, r.conversation_id, r.tools, r.succeeded,
           coalesce(
               nullif(btrim(c.metadata ->> 'task_type'), ''),
               (SELECT nullif(btrim(l.metadata ->> 'task_type'), '') FROM conversation_logs l
                 WHERE l.conversation_id = r.conversation_id AND l.metadata ->> 'task_type' IS NOT NULL
                 ORDER BY l.turn_index LIMIT 1),
               %(default_task)s) AS task_type
      FROM runs r LEFT JOIN conversations c ON c.id = r.conversation_id
)
SELECT user_id, task_type, tools, count(*) FILTER (WHERE succeeded) AS successes,
       count(*) FILTER (WHERE NOT succeeded) AS failures, count(*) AS support
  FROM typed GROUP BY user_id, task_type, tools
HAVING count(*) >= %(min_support)s
 ORDER BY user_id, task_type, tools
"""


def tool_sequence_patterns(
    pg: PostgresStore, start: datetime, end: datetime, min_support: int, default_task: str
) -> list[dict[str, Any]]:
    """(user_id, task_type, tools, successes, failures, support) shared by at least `min_support` conversations,
    over the whole history of the users who called tools in [start, end); see the comment on the statement."""
    return pg.fetch(_PATTERNS, {"start": start, "end": end, "min_support": min_support, "default_task": default_task})
