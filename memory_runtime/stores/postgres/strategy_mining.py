"""Tool-use patterns in `tool_invocations` that become mined strategies (`memory_runtime.batch.patterns`)."""

from datetime import datetime
from typing import Any

from memory_runtime.stores.postgres import PostgresStore

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
