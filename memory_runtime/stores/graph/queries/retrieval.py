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

TURN_NODE = "node {.id, .conversation_id, .index, .role, .content, .timestamp, salience: coalesce(node.salience, 0.5)}"
TURN = f"{TURN_NODE} AS turn, score"
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


def _best(limit: str, projection: str) -> str:
    """The `limit` best rows by score, projected: sorting and cutting the over-fetched `node, score` rows
    before projecting them spares projecting every one (on FalkorDB, a third of the fact and entity search's
    server time; the turn vector search's over-fetch is four times what it returns)."""
    return f"WITH node, score ORDER BY score DESC, node.id LIMIT {limit}\nRETURN {projection}"


@cypher("retrieval.turn_fulltext")
def turn_fulltext(d: Dialect) -> str:
    """The user's turns matching $q, best first ($k of them, optionally in a time window)."""
    return f"""
{d.fulltext_search(_FULLTEXT["Turn"])}
WHERE node.user_id = $user_id AND {_TURN_WINDOW}
{_best("$k", TURN)}
"""


@cypher("retrieval.turn_postings")
def turn_postings(d: Dialect) -> str:
    """Per query term in $terms, how many of the user's turns match it (in the time window); and the $fetch
    turns that BM25 over the rarer terms rates best, with their text — the inputs of BM25 in Python, in one
    round trip.

    `dfs` is [[term, df], ...] for every term some turn matches. A term matching at most $max_df turns makes
    them candidates (more: it adds weight but no candidates — their turns come through rarer terms or the
    vector search); each candidate is estimated from what the index tells without its text, as
    `lexical.estimate` does: the Lucene idf (over max($n, every df) turns) of the rare terms it matched
    (`matched`), with tf 1, normalised by its length in terms (characters / $chars_per_term, against
    $avg_terms, BM25's $k1 and $b). Every row repeats `dfs`; with no candidate, one row has `turn` null.
    (`dfs` rides through the per-turn grouping as an aggregate, not as a grouping key: hashing the list on
    every row cost FalkorDB more than the rest of the statement.)
    """
    return f"""
UNWIND $terms AS term
{d.fulltext_search(_FULLTEXT["Turn"], q="term")}
WHERE node.user_id = $user_id AND {_TURN_WINDOW}
WITH term, collect(node) AS nodes
WITH collect([term, size(nodes)]) AS dfs,
     collect(CASE WHEN size(nodes) <= $max_df THEN [term, size(nodes), nodes] END) AS rare
WITH dfs, rare, reduce(m = $n, f IN dfs | CASE WHEN f[1] > m THEN f[1] ELSE m END) AS n
UNWIND CASE WHEN size(rare) = 0 THEN [null] ELSE rare END AS r
UNWIND CASE WHEN r IS NULL THEN [null] ELSE r[2] END AS node
WITH node, head(collect(dfs)) AS dfs, collect(r[0]) AS matched,
     sum(CASE WHEN r IS NULL THEN 0.0 ELSE log(1.0 + (n - r[1] + 0.5) / (r[1] + 0.5)) END) AS weight
WITH dfs, node, matched,
     coalesce(weight / (1.0 + $k1 * (1.0 - $b + $b * size(node.content) / $chars_per_term / $avg_terms)), -1.0)
     AS estimate
ORDER BY estimate DESC, node.id LIMIT $fetch
RETURN dfs, matched, CASE WHEN node IS NULL THEN null ELSE {TURN_NODE} END AS turn
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
{_best("$limit", TURN)}
"""


ITEM_FACT = FACT.replace(" AS fact, score", " AS item, score")


def _fact_vector(d: Dialect, exact: bool) -> str:
    prop = _VECTOR["Fact"].prop
    if exact:
        return f"""
MATCH (node:Fact) WHERE node.user_id = $user_id AND node.{prop} IS NOT NULL AND {FACT_VALID}
WITH node, {d.similarity("node." + prop)} AS score
{_best("$limit", "'fact_vector' AS strategy, " + ITEM_FACT)}
"""
    return f"""
{d.vector_search(_VECTOR["Fact"])}
WHERE node.user_id = $user_id AND {FACT_VALID}
{_best("$limit", "'fact_vector' AS strategy, " + ITEM_FACT)}
"""


def _fact_fulltext(d: Dialect) -> str:
    return f"""
{d.fulltext_search(_FULLTEXT["Fact"])}
WHERE node.user_id = $user_id AND {FACT_VALID}
{_best("$limit", "'fact_fulltext' AS strategy, " + ITEM_FACT)}
"""


def _entity_vector(d: Dialect, exact: bool) -> str:
    prop = _VECTOR["Entity"].prop
    if exact:
        return f"""
MATCH (node:Entity) WHERE node.user_id = $user_id AND node.{prop} IS NOT NULL
WITH node, {d.similarity("node." + prop)} AS score
{_best("$limit", "'entity_vector' AS strategy, " + ENTITY)}
"""
    return f"""
{d.vector_search(_VECTOR["Entity"])}
WHERE node.user_id = $user_id
{_best("$limit", "'entity_vector' AS strategy, " + ENTITY)}
"""


def _entity_fulltext(d: Dialect) -> str:
    return f"""
{d.fulltext_search(_FULLTEXT["Entity"])}
WHERE node.user_id = $user_id
{_best("$limit", "'entity_fulltext' AS strategy, " + ENTITY)}
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


ENTITY_MAP = "n {.id, .name, .type, .description, .aliases, salience: coalesce(n.salience, 0.5)}"


@cypher("retrieval.expand_with_facts", variants=[{"depth": 1}, {"depth": 2}])
def expand_with_facts(d: Dialect, depth: int) -> str:
    """The graph around the seed entities, in one statement: the entities within `depth` hops of them
    (through entity relations or shared facts), nearest first, then the most salient; and the valid facts
    (now, or at $as_of) about the seeds and those entities, most confident first — $limit of each. `near`
    is the entities (each with its `dist`), repeated on every row; each row holds one fact (null on the
    only row when there is none).

    Facts are looked up from each entity's id (one index seek per entity, then its ABOUT edges), and the
    fact filter waits for them: given `node.user_id` up front, FalkorDB scans the user's facts instead.
    """
    return f"""
MATCH (s:Entity) WHERE s.id IN $seeds AND s.user_id = $user_id
MATCH p = (s)-[:{_expansion_types()}{hops(1, 2 * depth)}]-(n:Entity)
WHERE n.user_id = $user_id AND NOT n.id IN $seeds
WITH n, min(length(p)) AS dist
ORDER BY dist, coalesce(n.salience, 0.5) DESC, n.id LIMIT $limit
WITH collect({ENTITY_MAP[:-1]}, dist: dist}}) AS near
UNWIND $seeds + [x IN near | x.id] AS about
OPTIONAL MATCH (e:Entity {{id: about}}) WHERE e.user_id = $user_id
OPTIONAL MATCH (node:Fact)-[:ABOUT]->(e)
WITH near, collect(DISTINCT CASE WHEN node.user_id = $user_id AND {FACT_VALID} THEN node END) AS facts
UNWIND CASE WHEN size(facts) = 0 THEN [null] ELSE facts END AS node
WITH near, node, 1.0 AS score ORDER BY node.confidence DESC, node.id LIMIT $limit
RETURN near, CASE WHEN node IS NULL THEN null ELSE {FACT.replace(" AS fact, score", "")} END AS fact, score
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
