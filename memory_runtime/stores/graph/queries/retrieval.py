"""Cypher builders: retrieval (vector, full-text, graph expansion), shared by both dialects.

Vector and full-text indexes span all users, so every search over-fetches and then filters on
`user_id` before LIMIT; scores come out of the dialect normalised (vector) or backend-specific but
rank-only (full-text). Every ORDER BY ends on the id, so equally scored hits come out (and are cut by LIMIT)
in the same order on any copy of the data, whatever order its indexes were built in.
"""

from memory_runtime.domain.vocabulary import ENTITY_RELATIONSHIPS
from memory_runtime.stores.graph.cypher import hops, ident
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher
from memory_runtime.stores.graph.schema import SCHEMA

_VECTOR = {v.label: v for v in SCHEMA.vectors}
_FULLTEXT = {f.label: f for f in SCHEMA.fulltext}

TURN = (
    "node {.id, .conversation_id, .index, .role, .content, .timestamp, "
    "salience: coalesce(node.salience, 0.5)} AS turn, score"
)
_TURN_WINDOW = "($since IS NULL OR node.timestamp >= $since) AND ($until IS NULL OR node.timestamp <= $until)"

FACT = (
    "node {.id, .claim, .confidence, .source, .source_turn_ids, .valid_at, .invalid_at, .created_at, "
    ".expired_at, .extractor_version, salience: coalesce(node.salience, 0.5)} AS fact, score"
)
# Currently believed facts, or (with $as_of) facts whose validity interval contains $as_of.
FACT_VALID = (
    "(($as_of IS NULL AND node.invalid_at IS NULL AND node.expired_at IS NULL) OR "
    "($as_of IS NOT NULL AND coalesce(node.valid_at, node.created_at) <= $as_of "
    "AND (node.invalid_at IS NULL OR node.invalid_at > $as_of)))"
)
ENTITY = "node {.id, .name, .type, .description, .aliases, salience: coalesce(node.salience, 0.5)} AS item, score"


@cypher("retrieval.turn_fulltext")
def turn_fulltext(d: Dialect) -> str:
    """The user's turns matching $q, best first ($k of them, optionally in a time window)."""
    return f"""
{d.fulltext_search(_FULLTEXT["Turn"])}
WHERE node.user_id = $user_id AND {_TURN_WINDOW}
RETURN {TURN} ORDER BY score DESC, turn.id LIMIT $k
"""


TURN_MAP = "n {.id, .conversation_id, .index, .role, .content, .timestamp, salience: coalesce(n.salience, 0.5)}"


@cypher("retrieval.turn_postings")
def turn_postings(d: Dialect) -> str:
    """Per query term in $terms: how many of the user's turns match it (`df`, in the time window) and, when
    that is at most $max_df, those turns as [id, length in characters] — the inputs of BM25 in Python.

    Terms matching more turns yield no candidates (their turns are found through rarer terms or the vector
    search), and only ids travel, which keeps a query over a long history cheap.
    """
    return f"""
UNWIND $terms AS term
{d.fulltext_search(_FULLTEXT["Turn"], q="term")}
WHERE node.user_id = $user_id AND {_TURN_WINDOW}
WITH term, collect(node) AS nodes
WITH term, size(nodes) AS df, nodes
RETURN term, df, CASE WHEN df <= $max_df THEN [n IN nodes | [n.id, size(n.content)]] ELSE [] END AS hits
"""


@cypher("retrieval.turns_by_id")
def turns_by_id(d: Dialect) -> str:
    """The user's turns with the given $ids."""
    return f"""
UNWIND $ids AS id
MATCH (n:Turn {{id: id}})
WHERE n.user_id = $user_id
RETURN {TURN_MAP} AS turn
"""


@cypher("retrieval.turn_count")
def turn_count(d: Dialect) -> str:
    """How many turns the user has in the graph, a sample of their contents (for BM25 statistics), and how
    many turns of all users the graph holds (`indexed`: what the shared vector index spans). The sample is the
    first $sample by id, so that it depends on the turns alone, not on the order the graph stores them in."""
    return """
MATCH (a:Turn)
WITH count(a) AS indexed
MATCH (n:Turn) WHERE n.user_id = $user_id
WITH indexed, count(n) AS total
MATCH (n:Turn) WHERE n.user_id = $user_id
WITH indexed, total, n ORDER BY n.id LIMIT $sample
RETURN indexed, total, collect(n.content) AS sample
"""


@cypher("retrieval.turn_vector")
def turn_vector(d: Dialect) -> str:
    """The user's turns nearest to $vec (index over-fetch $k, $limit returned)."""
    return f"""
{d.vector_search(_VECTOR["Turn"])}
WHERE node.user_id = $user_id AND {_TURN_WINDOW}
RETURN {TURN} ORDER BY score DESC, turn.id LIMIT $limit
"""


ITEM_FACT = FACT.replace(" AS fact, score", " AS item, score")


def _fact_vector(d: Dialect, exact: bool) -> str:
    prop = _VECTOR["Fact"].prop
    if exact:
        return f"""
MATCH (node:Fact) WHERE node.user_id = $user_id AND node.{prop} IS NOT NULL AND {FACT_VALID}
WITH node, {d.similarity("node." + prop)} AS score
RETURN 'fact_vector' AS strategy, {ITEM_FACT} ORDER BY score DESC, item.id LIMIT $limit
"""
    return f"""
{d.vector_search(_VECTOR["Fact"])}
WHERE node.user_id = $user_id AND {FACT_VALID}
RETURN 'fact_vector' AS strategy, {ITEM_FACT} ORDER BY score DESC, item.id LIMIT $limit
"""


def _fact_fulltext(d: Dialect) -> str:
    return f"""
{d.fulltext_search(_FULLTEXT["Fact"])}
WHERE node.user_id = $user_id AND {FACT_VALID}
RETURN 'fact_fulltext' AS strategy, {ITEM_FACT} ORDER BY score DESC, item.id LIMIT $limit
"""


def _entity_vector(d: Dialect, exact: bool) -> str:
    prop = _VECTOR["Entity"].prop
    if exact:
        return f"""
MATCH (node:Entity) WHERE node.user_id = $user_id AND node.{prop} IS NOT NULL
WITH node, {d.similarity("node." + prop)} AS score
RETURN 'entity_vector' AS strategy, {ENTITY} ORDER BY score DESC, item.id LIMIT $limit
"""
    return f"""
{d.vector_search(_VECTOR["Entity"])}
WHERE node.user_id = $user_id
RETURN 'entity_vector' AS strategy, {ENTITY} ORDER BY score DESC, item.id LIMIT $limit
"""


def _entity_fulltext(d: Dialect) -> str:
    return f"""
{d.fulltext_search(_FULLTEXT["Entity"])}
WHERE node.user_id = $user_id
RETURN 'entity_fulltext' AS strategy, {ENTITY} ORDER BY score DESC, item.id LIMIT $limit
"""


@cypher(
    "retrieval.semantic_search",
    variants=[{"fulltext": f, "exact": e} for f in (True, False) for e in (True, False)],
)
def semantic_search(d: Dialect, fulltext: bool, exact: bool = False) -> str:
    """The user's valid facts and entities nearest to $vec and (with `fulltext`) matching $q: up to $limit
    rows per strategy, each tagged with it — one statement instead of four round trips. Facts are valid now,
    or at $as_of. The vector searches over-fetch $k from the HNSW index before the user filter, or, `exact`,
    scan the user's facts and entities by exact similarity (a user with few: faster, and independent of how
    the index was built)."""
    parts = [_fact_vector(d, exact), _entity_vector(d, exact)]
    if fulltext:
        parts += [_fact_fulltext(d), _entity_fulltext(d)]
    return "UNION ALL".join(parts)


def _expansion_types() -> str:
    return "|".join(ident(t).strip("`") for t in (*ENTITY_RELATIONSHIPS, "ABOUT"))


@cypher("retrieval.expand_entities", variants=[{"depth": 1}, {"depth": 2}])
def expand_entities(d: Dialect, depth: int) -> str:
    """Entities within `depth` hops of the seed entities (through entity relations or shared facts)."""
    return f"""
MATCH (s:Entity) WHERE s.id IN $seeds AND s.user_id = $user_id
MATCH p = (s)-[:{_expansion_types()}{hops(1, 2 * depth)}]-(n:Entity)
WHERE n.user_id = $user_id AND NOT n.id IN $seeds
WITH n, min(length(p)) AS dist
RETURN n {{.id, .name, .type, .description, .aliases, salience: coalesce(n.salience, 0.5)}} AS entity, dist
ORDER BY dist, entity.salience DESC, entity.id LIMIT $limit
"""


@cypher("retrieval.facts_about")
def facts_about(d: Dialect) -> str:
    """Valid facts about any of $entity_ids, most confident first (the match starts at the entities' id
    index and the fact filter waits behind WITH: given `node.user_id` up front, FalkorDB scans the user's
    facts through that index instead)."""
    return f"""
MATCH (e:Entity) WHERE e.id IN $entity_ids AND e.user_id = $user_id
MATCH (node:Fact)-[:ABOUT]->(e)
WITH node WHERE node.user_id = $user_id AND {FACT_VALID}
WITH DISTINCT node, 1.0 AS score
RETURN {FACT} ORDER BY node.confidence DESC, node.id LIMIT $limit
"""


@cypher("retrieval.touch", variants=[{"node_label": "Turn"}, {"node_label": "Fact"}, {"node_label": "Entity"}])
def touch(d: Dialect, node_label: str) -> str:
    """Record accesses: each of $rows is {id, last, count} (last access in epoch ms, accesses since)."""
    from memory_runtime.stores.graph.cypher import label

    return f"""
UNWIND $rows AS r
MATCH (n:{label(node_label)} {{id: r.id}})
WHERE n.user_id = $user_id
SET n.last_accessed = CASE WHEN coalesce(n.last_accessed, 0) > r.last THEN n.last_accessed ELSE r.last END,
    n.access_count = coalesce(n.access_count, 0) + r.count
RETURN count(n) AS touched
"""
