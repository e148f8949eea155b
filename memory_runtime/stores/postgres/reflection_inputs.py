"""What a reflection critique reads from Postgres: the tool calls of the reflected conversations."""

from collections.abc import Sequence
from typing import Any

from memory_runtime.stores.postgres import PostgresStore


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
