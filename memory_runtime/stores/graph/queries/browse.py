"""Cypher builders: the memory browser's reads (pages of facts and entities, per-user counts, the edges among
a set of entities). Shared by both dialects; every statement is scoped by `$user_id` (or `$user_ids`).

Pages sort and cut the bare nodes first (`WITH n ORDER BY … SKIP $skip LIMIT $limit`) and only then project
the fields, so the ABOUT/SUPERSEDES comprehensions of `FACT_FIELDS` run for one page, not for every fact.
"""

from memory_runtime.stores.graph.cypher import label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.queries.semantic import (
    CURRENT_FACT,
    ENTITY_FIELDS,
    FACT_FIELDS,
    _entity_rel_alternation,
)
from memory_runtime.stores.graph.registry import cypher

COUNTED_LABELS = ("Fact", "Entity", "Goal", "Strategy")

# Facts of the page: valid at $as_of (ms) when it is set, else current ones or (with $include_invalid) all.
_FACT_FILTER = f"""f.user_id = $user_id
  AND ($as_of IS NULL OR (f.valid_at <= $as_of AND (f.invalid_at IS NULL OR f.invalid_at > $as_of)))
  AND ($as_of IS NOT NULL OR $include_invalid OR {CURRENT_FACT})"""


@cypher("browse.fact_page")
def fact_page(d: Dialect) -> str:
    """A page of $user_id's facts (see _FACT_FILTER), latest valid_at first."""
    return f"""
MATCH (f:Fact) WHERE {_FACT_FILTER}
WITH f ORDER BY f.valid_at DESC, f.created_at DESC, f.id SKIP $skip LIMIT $limit
RETURN {FACT_FIELDS}
"""


@cypher("browse.fact_totals")
def fact_totals(d: Dialect) -> str:
    """How many of $user_id's facts the filter keeps, and the span of their validity (ms)."""
    return f"""
MATCH (f:Fact) WHERE {_FACT_FILTER}
RETURN count(f) AS n, min(f.valid_at) AS first_valid_at, max(coalesce(f.invalid_at, f.valid_at)) AS last_change
"""


@cypher("browse.entity_page")
def entity_page(d: Dialect) -> str:
    """A page of $user_id's entities, most salient first."""
    return f"""
MATCH (e:Entity) WHERE e.user_id = $user_id
WITH e ORDER BY e.salience DESC, e.mention_count DESC, e.id SKIP $skip LIMIT $limit
RETURN {ENTITY_FIELDS}
"""


@cypher("browse.count_per_user", variants=[{"node_label": lbl} for lbl in COUNTED_LABELS])
def count_per_user(d: Dialect, node_label: str) -> str:
    """Nodes of `node_label` per user of $user_ids (users without any are left out)."""
    return f"""
UNWIND $user_ids AS uid
MATCH (n:{label(node_label)}) WHERE n.user_id = uid
RETURN uid AS user_id, count(n) AS n
"""


@cypher("browse.entity_edges")
def entity_edges(d: Dialect) -> str:
    """The entity relations among $ids (entities of $user_id): source, type, target."""
    return f"""
MATCH (a:Entity)-[r:{_entity_rel_alternation()}]->(b:Entity)
WHERE a.id IN $ids AND b.id IN $ids AND a.user_id = $user_id AND b.user_id = $user_id
RETURN a.id AS source, type(r) AS type, b.id AS target
ORDER BY source, type, target
"""
