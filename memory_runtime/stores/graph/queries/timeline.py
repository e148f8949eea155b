"""Cypher builders: the facts and entities of a time window, read into the memory timeline (all users)."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("timeline.facts_in_window")
def facts_in_window(d: Dialect) -> str:
    """Facts learnt (created_at) or becoming valid (valid_at) in [$start, $end), with their conversations."""
    return """
MATCH (f:Fact)
WHERE (f.created_at >= $start AND f.created_at < $end) OR (f.valid_at >= $start AND f.valid_at < $end)
RETURN f.id AS id, f.user_id AS user_id, f.claim AS claim, f.confidence AS confidence, f.source AS source,
       f.valid_at AS valid_at, f.invalid_at AS invalid_at, f.created_at AS created_at,
       f.extractor_version AS extractor_version,
       [(f)-[:DERIVED_FROM]->(t:Turn) | t.conversation_id] AS conversation_ids
"""


@cypher("timeline.entities_in_window")
def entities_in_window(d: Dialect) -> str:
    """Entities first learnt (created_at) in [$start, $end)."""
    return """
MATCH (e:Entity) WHERE e.created_at >= $start AND e.created_at < $end
RETURN e.id AS id, e.user_id AS user_id, e.name AS name, e.type AS type, e.description AS description,
       e.created_at AS created_at, e.mention_count AS mention_count
"""
