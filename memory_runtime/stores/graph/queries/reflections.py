"""Cypher builders: Reflection nodes written from consumed reflection jobs (`memory_runtime.batch.reflect`)."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("reflections.write_reflections")
def write_reflections(d: Dialect) -> str:
    """MERGE Reflection nodes (id derived from the job) and link each to its user's Conversation.

    $rows: id, job_id, user_id, conversation_id (or null), outcome, success (or null), critique,
    tools_used, tool_failures (JSON text), tool_calls, failed_calls, enqueued_at; $now.
    """
    return """
UNWIND $rows AS r
MERGE (x:Reflection {id: r.id})
  ON CREATE SET x.created_at = $now
SET x.user_id = r.user_id, x.job_id = r.job_id, x.conversation_id = r.conversation_id, x.outcome = r.outcome,
    x.success = r.success, x.critique = r.critique, x.tools_used = r.tools_used,
    x.tool_failures = r.tool_failures, x.tool_calls = r.tool_calls, x.failed_calls = r.failed_calls,
    x.enqueued_at = r.enqueued_at, x.updated_at = $now
WITH x, r
OPTIONAL MATCH (c:Conversation {id: r.conversation_id}) WHERE c.user_id = r.user_id
FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | MERGE (x)-[:REFLECTS_ON]->(c))
RETURN count(x) AS reflections, count(c) AS linked
"""
