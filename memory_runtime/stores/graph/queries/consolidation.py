"""Cypher builders: consolidation bookkeeping (MENTIONS edges, idempotency and counting reads).

Entities, facts and relations themselves are written through SemanticMemory (`queries/semantic.py`); these
statements only link turns to the entities they mention, in batches, and read what a window already
produced so that re-running it writes nothing twice. Every statement is scoped by `$user_id`.
"""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.queries.semantic import slot_key
from memory_runtime.stores.graph.registry import cypher


@cypher("consolidation.user_entities")
def user_entities(d: Dialect) -> str:
    """The entities of $user_id whose type is in $types: id, name, type, aliases (for resolution)."""
    return """
MATCH (e:Entity) WHERE e.user_id = $user_id AND e.type IN $types
RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases
"""


@cypher("consolidation.existing_mentions")
def existing_mentions(d: Dialect) -> str:
    """(turn_id, entity_id) of the MENTIONS edges that start at the turns $turn_ids of $user_id."""
    return """
MATCH (t:Turn)-[:MENTIONS]->(e:Entity)
WHERE t.id IN $turn_ids AND t.user_id = $user_id AND e.user_id = $user_id
RETURN t.id AS turn_id, e.id AS entity_id
"""


@cypher("consolidation.derived_claims")
def derived_claims(d: Dialect) -> str:
    """(turn_id, norm_claim) of the facts of $user_id DERIVED_FROM the turns $turn_ids."""
    return """
MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn)
WHERE t.id IN $turn_ids AND f.user_id = $user_id
RETURN t.id AS turn_id, f.norm_claim AS norm_claim
"""


@cypher("consolidation.link_mentions")
def link_mentions(d: Dialect) -> str:
    """MERGE (turn)-[:MENTIONS]->(entity) for $rows of {turn_id, entity_id}; returns the rows linked."""
    return """
UNWIND $rows AS r
MATCH (t:Turn {id: r.turn_id}) WHERE t.user_id = $user_id
MATCH (e:Entity {id: r.entity_id}) WHERE e.user_id = $user_id
MERGE (t)-[m:MENTIONS]->(e)
  ON CREATE SET m.created_at = $now, m.extractor_version = $extractor_version
RETURN count(m) AS linked
"""


@cypher("consolidation.fact_counts")
def fact_counts(d: Dialect) -> str:
    """Facts of $user_id in total, and those retired (expired_at) at or after $since (ms)."""
    return """
MATCH (f:Fact) WHERE f.user_id = $user_id
RETURN count(f) AS total,
       sum(CASE WHEN f.expired_at IS NOT NULL AND f.expired_at >= $since THEN 1 ELSE 0 END) AS expired
"""


@cypher("consolidation.self_entity")
def self_entity(d: Dialect) -> str:
    """The entity the user's current name fact ($norm_subject / $norm_predicate, e.g. user / name_is) is ABOUT:
    the person the user is, for relations the user states ("my manager Tomasz"). No row when unknown."""
    return f"""
MATCH (f:Fact)
 WHERE f.slot_key = {slot_key("$user_id", "$norm_subject", "$norm_predicate")}
   AND f.user_id = $user_id AND f.norm_subject = $norm_subject AND f.norm_predicate = $norm_predicate
   AND (f.invalid_at IS NULL OR f.invalid_at > $now)
MATCH (f)-[:ABOUT]->(e:Entity) WHERE e.user_id = $user_id AND e.type = 'Person'
RETURN e.id AS id, e.name AS name, f.norm_object AS norm_name
ORDER BY f.valid_at DESC
LIMIT 1
"""
