"""Cypher builders: export every node and relationship of the memory graph by label, and load them back.

Labels and relationship types are interpolated only through the whitelist helpers (`label`, `rel_type`, and the
entity types of `domain.vocabulary`); everything else is a parameter. Vector properties are written through the
dialect (`vecf32()` on FalkorDB), so the loaded nodes are in the vector indexes.
"""

from memory_runtime.domain.vocabulary import ENTITY_TYPES, NODE_LABELS, entity_type
from memory_runtime.stores.graph.cypher import ident, label, rel_type
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher
from memory_runtime.stores.graph.schema import SCHEMA

VECTOR_PROPS: dict[str, str] = {v.label: v.prop for v in SCHEMA.vectors}
_LABELS = [{"node_label": lbl} for lbl in NODE_LABELS]


@cypher("backup.node_page", variants=_LABELS)
def node_page(d: Dialect, node_label: str) -> str:
    """Up to $batch nodes of the label after ($after_t, $after) in (created_at, id) order, the order they were
    written in (a restore writes them in the same order): id, labels, every property, and the sort key `t`.

    Nodes are sorted before their properties are read, so a page reads the properties of $batch nodes only."""
    created = "coalesce(n.created_at, 0)"
    return f"""
MATCH (n:{label(node_label)}) WHERE {created} > $after_t OR ({created} = $after_t AND n.id > $after)
WITH n ORDER BY {created}, n.id LIMIT $batch
RETURN n.id AS id, labels(n) AS labels, properties(n) AS props, {created} AS t
"""


@cypher("backup.nodes_by_id", variants=_LABELS)
def nodes_by_id(d: Dialect, node_label: str) -> str:
    """The nodes of the label with an id in $ids (through the unique id index): id, labels and every property."""
    return f"""
MATCH (n:{label(node_label)}) WHERE n.id IN $ids
RETURN n.id AS id, labels(n) AS labels, properties(n) AS props
"""


@cypher("backup.count_label", variants=_LABELS)
def count_label(d: Dialect, node_label: str) -> str:
    """How many nodes the label has."""
    return f"MATCH (n:{label(node_label)}) RETURN count(n) AS nodes"


@cypher("backup.outgoing", variants=_LABELS)
def outgoing(d: Dialect, node_label: str) -> str:
    """Every relationship leaving the nodes of the label with an id in $ids: both ends, type and properties, and
    the source turns and creation time of the end node (null for nodes that record none)."""
    return f"""
MATCH (a:{label(node_label)})-[r]->(b) WHERE a.id IN $ids
RETURN a.id AS src, type(r) AS type, properties(r) AS props, labels(b) AS dst_labels, b.id AS dst,
       b.source_turn_ids AS dst_sources, b.created_at AS dst_created_at
"""


@cypher("backup.count_nodes")
def count_nodes(d: Dialect) -> str:
    """Every node of the graph (all users): is the target of a restore empty?"""
    return "MATCH (n) RETURN count(n) AS nodes"


@cypher("backup.delete_batch")
def delete_batch(d: Dialect) -> str:
    """Delete up to $batch nodes with their relationships (a forced restore empties the graph, keeping its indexes)."""
    return "MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS deleted"


def _node_variants() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for lbl in NODE_LABELS:
        extras = ("", *ENTITY_TYPES[:1]) if lbl == "Entity" else ("",)
        for extra in extras:
            out.append({"node_label": lbl, "extra_label": extra, "vector": lbl in VECTOR_PROPS})
    return out


@cypher("backup.create_nodes", variants=_node_variants())
def create_nodes(d: Dialect, node_label: str, extra_label: str = "", vector: bool = False) -> str:
    """Create the nodes of $rows ({props, vector}) with the label and entity type; the vector through the dialect."""
    labels = label(node_label) + (":" + ident(entity_type(extra_label)) if extra_label else "")
    set_vector = f"\nSET n.{ident(VECTOR_PROPS[node_label])} = {d.vector_expr('r.vector')}" if vector else ""
    return f"""
UNWIND $rows AS r
CREATE (n:{labels})
SET n = r.props{set_vector}
RETURN count(n) AS created
"""


@cypher(
    "backup.create_relationships",
    variants=[{"src_label": "Fact", "rel": "ABOUT", "dst_label": "Entity"}],
)
def create_relationships(d: Dialect, src_label: str, rel: str, dst_label: str) -> str:
    """Create the relationships of $rows ({src, dst, props}) between existing nodes; a missing end is skipped."""
    return f"""
UNWIND $rows AS r
MATCH (a:{label(src_label)} {{id: r.src}})
MATCH (b:{label(dst_label)} {{id: r.dst}})
CREATE (a)-[x:{rel_type(rel)}]->(b)
SET x = r.props
RETURN count(x) AS created
"""
