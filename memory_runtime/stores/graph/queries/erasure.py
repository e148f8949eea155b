"""Cypher builders: erasure of one user's graph, one label at a time (shared by both dialects)."""

from memory_runtime.domain.vocabulary import NODE_LABELS
from memory_runtime.stores.graph.cypher import label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("erasure.delete_user_nodes", variants=[{"node_label": lbl} for lbl in NODE_LABELS])
def delete_user_nodes(d: Dialect, node_label: str) -> str:
    """Detach-delete up to $batch nodes of one label owned by $user_id; returns how many."""
    return f"""
MATCH (n:{label(node_label)}) WHERE n.user_id = $user_id
WITH n LIMIT $batch
DETACH DELETE n
RETURN count(*) AS deleted
"""


@cypher("erasure.count_user_nodes")
def count_user_nodes(d: Dialect) -> str:
    """Every node of $user_id, whatever its label (erasure verification)."""
    return "MATCH (n) WHERE n.user_id = $user_id RETURN count(n) AS n"
