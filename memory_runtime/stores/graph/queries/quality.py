"""Cypher builders: memory-quality measurements over the whole graph (`memory_runtime.batch.checks`)."""

from memory_runtime.stores.graph.cypher import label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

RANGE_LABELS = ("Turn", "Entity", "Fact")
EMBEDDING_LABELS = ("Turn", "Entity", "Fact")


@cypher("quality.untraceable_facts")
def untraceable_facts(d: Dialect) -> str:
    """Derived facts (source other than user_stated) with no DERIVED_FROM turn and no source_turn_ids."""
    return """
MATCH (f:Fact)
WHERE coalesce(f.source, '') <> 'user_stated' AND size(coalesce(f.source_turn_ids, [])) = 0
  AND NOT (f)-[:DERIVED_FROM]->(:Turn)
RETURN count(f) AS n, collect(f.id)[..10] AS sample
"""


@cypher("quality.cross_user_edges")
def cross_user_edges(d: Dialect) -> str:
    """Relationships whose endpoints belong to different users, per type."""
    return """
MATCH (a)-[r]->(b)
WHERE a.user_id IS NOT NULL AND b.user_id IS NOT NULL AND a.user_id <> b.user_id
RETURN type(r) AS type, count(*) AS n, collect(a.id + ' -> ' + b.id)[..5] AS sample
ORDER BY n DESC
"""


@cypher("quality.embedding_sample", variants=[{"node_label": lbl} for lbl in EMBEDDING_LABELS])
def embedding_sample(d: Dialect, node_label: str) -> str:
    """Up to $limit (id, embedding) pairs of one label (FalkorDB vecf32 comes back as a list)."""
    return f"""
MATCH (n:{label(node_label)}) WHERE n.embedding IS NOT NULL
WITH n LIMIT $limit
RETURN n.id AS id, n.embedding AS embedding
"""


@cypher("quality.out_of_range_scores", variants=[{"node_label": lbl} for lbl in RANGE_LABELS])
def out_of_range_scores(d: Dialect, node_label: str) -> str:
    """Nodes of one label whose salience or confidence lies outside [0, 1]."""
    return f"""
MATCH (n:{label(node_label)})
WHERE (n.salience IS NOT NULL AND (n.salience < 0.0 OR n.salience > 1.0))
   OR (n.confidence IS NOT NULL AND (n.confidence < 0.0 OR n.confidence > 1.0))
RETURN count(n) AS n, collect(n.id)[..10] AS sample
"""


@cypher("quality.entity_name_groups")
def entity_name_groups(d: Dialect) -> str:
    """Entities, and how many are duplicates of another with the same (user, type, norm_name)."""
    return """
MATCH (e:Entity) WHERE e.norm_name IS NOT NULL
WITH e.user_id AS user_id, e.type AS type, e.norm_name AS norm_name, count(e) AS n
RETURN sum(n) AS entities, sum(CASE WHEN n > 1 THEN n - 1 ELSE 0 END) AS duplicates,
       collect(CASE WHEN n > 1 THEN user_id + '/' + type + '/' + norm_name END)[..10] AS sample
"""
