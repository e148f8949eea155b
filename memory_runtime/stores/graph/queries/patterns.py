"""Cypher builders: strategies mined from tool use (`memory_runtime.batch.patterns`)."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("patterns.upsert_mined_strategies")
def upsert_mined_strategies(d: Dialect) -> str:
    """MERGE mined strategies with totals recomputed from the audit log (overwritten, so idempotent).

    $rows: id, user_id, description, norm_description, task_type_id, task_type, norm_task_type,
    tool_sequence, tool_ids, successes, failures, support, embedding; $now.
    """
    return f"""
UNWIND $rows AS r
MERGE (tt:TaskType {{id: r.task_type_id}})
  ON CREATE SET tt.user_id = r.user_id, tt.name = r.task_type, tt.norm_name = r.norm_task_type,
                tt.created_at = $now, tt.updated_at = $now
MERGE (s:Strategy {{id: r.id}})
  ON CREATE SET s.user_id = r.user_id, s.created_at = $now
WITH tt, s, r,
     s.success_count = r.successes AND s.failure_count = r.failures
     AND s.tool_sequence = r.tool_sequence AND s.description = r.description AS unchanged
SET s.description = r.description, s.norm_description = r.norm_description, s.task_type = tt.name,
    s.tool_sequence = r.tool_sequence, s.success_count = r.successes, s.failure_count = r.failures,
    s.success_rate = (toFloat(r.successes) + 1.0) / (r.successes + r.failures + 2), s.support = r.support,
    s.source = 'mined', s.embedding = {d.vector_expr("r.embedding")},
    s.updated_at = CASE WHEN unchanged THEN s.updated_at ELSE $now END
MERGE (s)-[:FOR_TASK]->(tt)
WITH s, r, unchanged
UNWIND r.tool_ids AS tool_id
OPTIONAL MATCH (tool:Tool {{id: tool_id}}) WHERE tool.user_id = r.user_id
FOREACH (_ IN CASE WHEN tool IS NULL THEN [] ELSE [1] END | MERGE (s)-[:USED_TOOL]->(tool))
WITH DISTINCT s, unchanged
RETURN count(s) AS strategies, sum(CASE WHEN unchanged THEN 0 ELSE 1 END) AS changed
"""
