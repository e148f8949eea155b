"""Cypher builders: procedural memory (Tool, Strategy, TaskType; USED_TOOL, FOR_TASK), shared by both
dialects.

Counters are read into variables with WITH before they are SET, so every running statistic is computed from
the values before the update on both backends (SET item order semantics differ between engines). A plain
`SET x.updated_at = $now` comes first: on Neo4j that write takes the node's lock before the counters are
read, so concurrent calls cannot lose updates (Neo4j's documented lost-update idiom).
"""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher
from memory_runtime.stores.graph.schema import VectorIndex

STRATEGY_INDEX = VectorIndex("Strategy")

# Laplace-smoothed success rate, the same formula as models.Strategy.success_rate.
_RATE = "(toFloat({sc}) + 1.0) / ({sc} + {fc} + 2)"

_STRATEGY_FIELDS = """{v}.id AS id, {v}.description AS description, {v}.task_type AS task_type,
       {v}.tool_sequence AS tool_sequence, {v}.success_count AS success_count,
       {v}.failure_count AS failure_count, {v}.success_rate AS success_rate"""


def _strategy_fields(var: str) -> str:
    return _STRATEGY_FIELDS.format(v=var)


@cypher("procedural.record_tool_usage")
def record_tool_usage(d: Dialect) -> str:
    """Count one call of a user's tool (running mean latency) and link it to its turn if that is projected.

    $tool_id, $user_id, $name, $success (bool), $latency_ms, $used_at (ms), $turn_ids ([] or [the turn id]),
    $now. The turn comes as a list because FalkorDB cannot use the id index for `{id: $turn_id}` when the
    parameter is null and scans all of the user's turns instead; an empty list is an empty index lookup.
    """
    return """
MERGE (tool:Tool {id: $tool_id})
  ON CREATE SET tool.user_id = $user_id, tool.name = $name, tool.created_at = $now,
                tool.usage_count = 0, tool.success_count = 0, tool.failure_count = 0,
                tool.mean_latency_ms = 0.0
SET tool.updated_at = $now
WITH tool, coalesce(tool.usage_count, 0) AS n, coalesce(tool.success_count, 0) AS ok,
     coalesce(tool.failure_count, 0) AS failed, coalesce(tool.mean_latency_ms, 0.0) AS mean,
     coalesce(tool.last_used_at, 0) AS last
SET tool.usage_count = n + 1,
    tool.success_count = ok + CASE WHEN $success THEN 1 ELSE 0 END,
    tool.failure_count = failed + CASE WHEN $success THEN 0 ELSE 1 END,
    tool.mean_latency_ms = mean + ($latency_ms - mean) / (n + 1),
    tool.last_used_at = CASE WHEN $used_at > last THEN $used_at ELSE last END
WITH tool
OPTIONAL MATCH (t:Turn) WHERE t.id IN $turn_ids AND t.user_id = $user_id
WITH tool, collect(t) AS turns
FOREACH (t IN turns | MERGE (t)-[:USED_TOOL]->(tool))
RETURN tool.usage_count AS usage_count, size(turns) > 0 AS linked
"""


@cypher("procedural.set_tool_stats")
def set_tool_stats(d: Dialect) -> str:
    """Overwrite the statistics of a user's tools with totals recomputed from the audit log.

    $rows: id, name, usage_count, success_count, failure_count, mean_latency_ms, last_used_at (ms),
    turn_ids (turns that used the tool, linked if projected); $user_id, $now.
    """
    return """
UNWIND $rows AS r
MERGE (tool:Tool {id: r.id})
  ON CREATE SET tool.user_id = $user_id, tool.name = r.name, tool.created_at = $now
SET tool.usage_count = r.usage_count, tool.success_count = r.success_count,
    tool.failure_count = r.failure_count, tool.mean_latency_ms = r.mean_latency_ms,
    tool.last_used_at = r.last_used_at, tool.updated_at = $now
WITH tool, r
UNWIND CASE WHEN size(r.turn_ids) = 0 THEN [null] ELSE r.turn_ids END AS turn_id
OPTIONAL MATCH (t:Turn {id: turn_id}) WHERE t.user_id = $user_id
FOREACH (_ IN CASE WHEN t IS NULL THEN [] ELSE [1] END | MERGE (t)-[:USED_TOOL]->(tool))
RETURN count(DISTINCT tool) AS tools
"""


@cypher("procedural.tool_stats")
def tool_stats(d: Dialect) -> str:
    """Statistics of a user's tools, most used first; $name null = every tool."""
    return """
MATCH (tool:Tool) WHERE tool.user_id = $user_id AND ($name IS NULL OR tool.name = $name)
RETURN tool.name AS name, tool.usage_count AS usage_count, tool.success_count AS success_count,
       tool.failure_count AS failure_count, tool.mean_latency_ms AS mean_latency_ms,
       tool.last_used_at AS last_used_at
ORDER BY usage_count DESC, name
"""


@cypher("procedural.learn_strategy")
def learn_strategy(d: Dialect) -> str:
    """MERGE a strategy (deterministic id) and its task type, counting the outcome if one is given.

    $id, $user_id, $description, $norm_description, $task_type_id, $task_type, $norm_task_type,
    $tool_sequence (replaces the stored one when non-empty), $embedding, $successes, $failures (0/1), $now.
    """
    rate = _RATE.format(sc="sc + $successes", fc="fc + $failures")
    return f"""
MERGE (tt:TaskType {{id: $task_type_id}})
  ON CREATE SET tt.user_id = $user_id, tt.name = $task_type, tt.norm_name = $norm_task_type,
                tt.created_at = $now, tt.updated_at = $now
MERGE (s:Strategy {{id: $id}})
  ON CREATE SET s.user_id = $user_id, s.description = $description, s.norm_description = $norm_description,
                s.task_type = tt.name, s.tool_sequence = $tool_sequence, s.success_count = 0,
                s.failure_count = 0, s.created_at = $now, s.embedding = {d.vector_value("embedding")}
SET s.updated_at = $now
WITH tt, s, coalesce(s.success_count, 0) AS sc, coalesce(s.failure_count, 0) AS fc
SET s.success_count = sc + $successes, s.failure_count = fc + $failures, s.success_rate = {rate},
    s.tool_sequence = CASE WHEN size($tool_sequence) > 0 THEN $tool_sequence ELSE s.tool_sequence END
MERGE (s)-[:FOR_TASK]->(tt)
RETURN {_strategy_fields("s")}
"""


@cypher("procedural.reinforce_strategy")
def reinforce_strategy(d: Dialect) -> str:
    """Count one success ($successes=1) or failure ($failures=1) of a user's strategy; no row if unknown."""
    rate = _RATE.format(sc="sc + $successes", fc="fc + $failures")
    return f"""
MATCH (s:Strategy {{id: $id}}) WHERE s.user_id = $user_id
SET s.updated_at = $now, s.last_used_at = $now
WITH s, coalesce(s.success_count, 0) AS sc, coalesce(s.failure_count, 0) AS fc
SET s.success_count = sc + $successes, s.failure_count = fc + $failures, s.success_rate = {rate}
RETURN {_strategy_fields("s")}
"""


@cypher("procedural.similar_strategies")
def similar_strategies(d: Dialect) -> str:
    """A user's strategies among the $k nearest to $vec (over-fetched: the index spans every user)."""
    return f"""
{d.vector_search(STRATEGY_INDEX)}
WITH node, score WHERE node.user_id = $user_id
RETURN {_strategy_fields("node")}, score
ORDER BY score DESC
"""


@cypher("procedural.user_strategies")
def user_strategies(d: Dialect) -> str:
    """Up to $limit strategies of $user_id (the exact fallback when the shared index is crowded)."""
    return f"""
MATCH (s:Strategy) WHERE s.user_id = $user_id
RETURN {_strategy_fields("s")}
ORDER BY s.id
LIMIT $limit
"""


@cypher("procedural.strategies_for_task_type")
def strategies_for_task_type(d: Dialect) -> str:
    """A user's strategies for one task type (by TaskType id), best track record first."""
    return f"""
MATCH (s:Strategy)-[:FOR_TASK]->(tt:TaskType {{id: $task_type_id}})
WHERE s.user_id = $user_id AND tt.user_id = $user_id
RETURN {_strategy_fields("s")}
ORDER BY success_rate DESC, id
LIMIT $limit
"""
