"""Cypher builders: vector index health probes (administrative, across all users)."""

from memory_runtime.stores.graph.cypher import ident, label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher
from memory_runtime.stores.graph.schema import SCHEMA

_VECTOR = {v.label: v for v in SCHEMA.vectors}
_VARIANTS = [{"node_label": v.label} for v in SCHEMA.vectors]


@cypher("maintenance.vector_sample", variants=_VARIANTS)
def vector_sample(d: Dialect, node_label: str) -> str:
    """How many nodes of the label carry a vector, and the vectors of up to $probes of them."""
    prop = ident(_VECTOR[node_label].prop)
    return f"""
MATCH (n:{label(node_label)}) WHERE n.{prop} IS NOT NULL
WITH count(n) AS total
MATCH (n:{label(node_label)}) WHERE n.{prop} IS NOT NULL
WITH total, n LIMIT $probes
RETURN total, collect(n.{prop}) AS vectors
"""


@cypher("maintenance.vector_probe", variants=_VARIANTS)
def vector_probe(d: Dialect, node_label: str) -> str:
    """How many live nodes the label's vector index returns when asked for $k neighbours of $vec."""
    return f"""
{d.vector_search(_VECTOR[node_label])}
RETURN count(node) AS found
"""
