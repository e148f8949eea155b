"""The tool-call audit `tool_invocations`: one row per recorded call, the record Tool statistics are rebuilt from."""

from datetime import datetime
from typing import Any

import psycopg

from memory_runtime.domain.errors import ValidationError
from memory_runtime.stores.postgres.pool import PostgresStore


def insert_tool_invocation(
    conn: psycopg.Connection,
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
