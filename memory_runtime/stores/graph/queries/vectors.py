"""Cypher builders: the stored vectors of every vector-indexed label, paged and rewritten (re-embedding).

Administrative, across users unless $user_id is given. `TEXT_PROPS` are the properties each label's
embedding text is made of (memory_runtime.stores.vectors turns them into the text): pages return them, and a
rewrite only lands on a node whose text properties still hold the values the new vector was computed from,
so a concurrent upsert (which embeds the new text itself) is never overwritten with a vector of the old text.
"""

from memory_runtime.stores.graph.cypher import ident, label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher
from memory_runtime.stores.graph.schema import SCHEMA

TEXT_PROPS: dict[str, tuple[str, ...]] = {
    "Turn": ("content",),
    "Entity": ("name", "aliases", "description"),
    "Fact": ("claim",),
    "Strategy": ("task_type", "description"),
    "Goal": ("description",),
}
_VECTOR = {v.label: v for v in SCHEMA.vectors}
_VARIANTS = [{"node_label": v.label} for v in SCHEMA.vectors]
_PAGED_VARIANTS = [v for v in _VARIANTS if v["node_label"] != "Turn"]  # turns are paged in PostgreSQL


def _props(node_label: str) -> list[str]:
    return [ident(p) for p in TEXT_PROPS[node_label]]


@cypher("vectors.page", variants=_PAGED_VARIANTS)
def page(d: Dialect, node_label: str) -> str:
    """Up to $limit nodes with a vector and an id after $after (keyset, by id), of user $user_id (null: all):
    id, embedding and the text properties."""
    prop = ident(_VECTOR[node_label].prop)
    texts = "".join(f", n.{p} AS {p}" for p in _props(node_label))
    return f"""
MATCH (n:{label(node_label)})
WHERE n.id > $after AND n.{prop} IS NOT NULL AND ($user_id IS NULL OR n.user_id = $user_id)
RETURN n.id AS id, n.{prop} AS embedding{texts}
ORDER BY id LIMIT $limit
"""


@cypher("vectors.count", variants=_PAGED_VARIANTS)
def count(d: Dialect, node_label: str) -> str:
    """How many nodes with a vector have an id after $after, of user $user_id (null: all)."""
    prop = ident(_VECTOR[node_label].prop)
    return f"""
MATCH (n:{label(node_label)})
WHERE n.id > $after AND n.{prop} IS NOT NULL AND ($user_id IS NULL OR n.user_id = $user_id)
RETURN count(n) AS n
"""


@cypher("vectors.by_ids", variants=_VARIANTS)
def by_ids(d: Dialect, node_label: str) -> str:
    """The vectors of those of $ids that have one: id, embedding."""
    prop = ident(_VECTOR[node_label].prop)
    return f"""
UNWIND $ids AS id
MATCH (n:{label(node_label)} {{id: id}}) WHERE n.{prop} IS NOT NULL
RETURN n.id AS id, n.{prop} AS embedding
"""


@cypher("vectors.rewrite", variants=_VARIANTS)
def rewrite(d: Dialect, node_label: str) -> str:
    """Set the vector of each of $rows (id, embedding, the text properties) on its node, if the node still has a
    vector (archived turns have none) and the text properties it was computed from; returns how many were set.

    The old vector is removed before the new one is set: FalkorDB 4.16 silently skips a SET of a vector over
    another vector (FalkorDB/FalkorDB#2099, its equality check calls any two vectors of 5+ dimensions equal,
    #2098). On Neo4j the two SETs are one update in the statement's transaction.
    """
    prop = ident(_VECTOR[node_label].prop)
    same = " AND ".join(f"(n.{p} = r.{p} OR (n.{p} IS NULL AND r.{p} IS NULL))" for p in _props(node_label))
    return f"""
UNWIND $rows AS r
MATCH (n:{label(node_label)} {{id: r.id}})
WHERE n.{prop} IS NOT NULL AND {same}
SET n.{prop} = null
WITH n, r
SET n.{prop} = {d.vector_expr("r.embedding")}
RETURN count(n) AS updated
"""
