"""Cypher builders: salience decay and archival (`memory_runtime.batch.decay`, `memory_runtime.batch.archive`).

Administrative statements across all users, each bounded by `$batch` so a caller drains them in steps.
"""

from memory_runtime.stores.graph.cypher import label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

DECAY_LABELS = ("Turn", "Entity", "Fact")


@cypher("lifecycle.decay_batch", variants=[{"node_label": lbl} for lbl in DECAY_LABELS])
def decay_batch(d: Dialect, node_label: str) -> str:
    """Decay up to $batch nodes not yet decayed through $as_of (ms); returns their new salience.

    salience *= $keep ^ days, where days run from the latest of (last decay, last access, creation) to
    $as_of, so time is never counted twice and re-running the same $as_of changes nothing. Clamped to
    [0, 1]. $keep = 1 - decay_rate.
    """
    return f"""
MATCH (n:{label(node_label)}) WHERE n.salience IS NOT NULL AND coalesce(n.decayed_at, 0) < $as_of
WITH n LIMIT $batch
WITH n, n.salience AS before,
     CASE WHEN coalesce(n.last_accessed, 0) > coalesce(n.decayed_at, 0)
          THEN n.last_accessed ELSE coalesce(n.decayed_at, 0) END AS seen
WITH n, before,
     CASE WHEN seen > coalesce(n.created_at, $as_of) THEN seen
          ELSE coalesce(n.created_at, $as_of) END AS anchor
WITH n, before, before * ($keep ^ (CASE WHEN anchor < $as_of THEN toFloat($as_of - anchor) ELSE 0.0 END
                                   / 86400000.0)) AS after
SET n.salience = CASE WHEN after < 0.0 THEN 0.0 WHEN after > 1.0 THEN 1.0 ELSE after END,
    n.decayed_at = $as_of
RETURN n.id AS id, before, n.salience AS salience
"""


@cypher("lifecycle.archive_turn_batch")
def archive_turn_batch(d: Dialect) -> str:
    """Archive up to $batch Turn nodes said before $cutoff (ms): flag them and drop their embedding."""
    return """
MATCH (t:Turn) WHERE t.timestamp < $cutoff AND coalesce(t.archived, false) = false
WITH t LIMIT $batch
SET t.archived = true, t.archived_at = $now
REMOVE t.embedding
RETURN count(t) AS archived
"""


@cypher("lifecycle.delete_orphan_entity_batch")
def delete_orphan_entity_batch(d: Dialect) -> str:
    """Delete up to $batch entities below $min_salience that no fact is ABOUT and no turn MENTIONS."""
    return """
MATCH (e:Entity)
WHERE e.salience < $min_salience AND NOT (e)-[:MENTIONS]-() AND NOT (e)-[:ABOUT]-()
WITH e LIMIT $batch
DETACH DELETE e
RETURN count(*) AS deleted
"""


@cypher("lifecycle.delete_orphan_alias_batch")
def delete_orphan_alias_batch(d: Dialect) -> str:
    """Delete up to $batch alias nodes that name no entity any more (their entities were deleted)."""
    return """
MATCH (a:EntityAlias)
WHERE NOT (a)-[:ALIAS_OF]->()
WITH a LIMIT $batch
DELETE a
RETURN count(*) AS deleted
"""
