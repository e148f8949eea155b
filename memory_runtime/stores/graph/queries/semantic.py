"""Cypher builders: semantic memory (Entity, Fact, ABOUT, DERIVED_FROM, SUPERSEDES, entity relations).

Shared by both dialects; labels and relationship types are interpolated only through the whitelisting
helpers of `cypher.py`, var-length bounds only through `hops()`. Every statement is scoped by
`$user_id`. Times are epoch milliseconds (`$now` is the caller's clock).
"""

from memory_runtime.domain.vocabulary import ENTITY_RELATIONSHIPS, ENTITY_TYPES, entity_type
from memory_runtime.stores.graph.cypher import entity_rel_type, hops, ident, label
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

MAX_NEIGHBOUR_DEPTH = 2

# The one projection of an Entity node `e` and of a Fact node `f` into a row (see semantic.py).
ENTITY_FIELDS = """e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases,
       e.description AS description, e.salience AS salience, e.mention_count AS mention_count,
       e.attributes AS attributes, e.source_turn_ids AS source_turn_ids,
       e.extractor_version AS extractor_version, e.created_at AS created_at, e.updated_at AS updated_at"""

FACT_FIELDS = """f.id AS id, f.claim AS claim, f.confidence AS confidence, f.source AS source,
       f.source_turn_ids AS source_turn_ids, f.valid_at AS valid_at, f.invalid_at AS invalid_at,
       f.created_at AS created_at, f.updated_at AS updated_at, f.expired_at AS expired_at,
       f.extractor_version AS extractor_version, f.subject AS subject, f.predicate AS predicate,
       f.object AS object, [(f)-[:ABOUT]->(x:Entity) | x.id] AS entity_ids,
       [(f)-[:SUPERSEDES]->(o:Fact) | o.id] AS supersedes,
       [(n:Fact)-[:SUPERSEDES]->(f) | n.id] AS superseded_by"""

# A fact is current when its validity window is open at $now (invalid_at may lie in the future).
CURRENT_FACT = "(f.invalid_at IS NULL OR f.invalid_at > $now)"

# Lookup keys of a fact, stored as indexed properties so that the write path finds a user's duplicates and
# conflicting facts through one selective index instead of scanning all of the user's facts (FalkorDB
# otherwise starts from the `user_id` index). A key is a prefix of the user id and the normalised text,
# bounded so that it fits any index (Neo4j's range index refuses keys over 8 kB): a narrowing key, not an
# identity, so every lookup still checks the exact user_id and normalised values. Computed in Cypher from
# the node's own properties (learn_fact, and `backfill_fact_keys` for facts written before the keys).
KEY_PREFIX_CHARS = 200


def claim_key(user_id: str, norm_claim: str) -> str:
    """Cypher expression of the dedup key of (user_id, norm_claim) expressions."""
    return f"{user_id} + '|' + left({norm_claim}, {KEY_PREFIX_CHARS})"


def slot_key(user_id: str, norm_subject: str, norm_predicate: str) -> str:
    """Cypher expression of the (user, subject, predicate) slot key; null unless subject and predicate are set."""
    n = KEY_PREFIX_CHARS
    return f"{user_id} + '|' + left({norm_subject}, {n}) + '|' + left({norm_predicate}, {n})"


def _link_aliases(entity: str, keys: str) -> str:
    """MERGE an (:EntityAlias {id, user_id})-[:ALIAS_OF]->(entity) for each alias id of the list expression `keys`
    (`ids.alias_id`)."""
    return f"""FOREACH (k IN {keys} |
  MERGE (a:EntityAlias {{id: k}}) ON CREATE SET a.user_id = {entity}.user_id
  MERGE (a)-[:ALIAS_OF]->({entity}))
"""


# The entity an upsert lands on: the exact (user, type, normalised name) id, else an entity of the same
# type that already has the normalised name as an alias (oldest first). Both lookups go through a unique
# index (`Entity.id`, `EntityAlias.id`), on both backends: the cost does not grow with the user's entities.
_RESOLVE = """
OPTIONAL MATCH (x:Entity {id: $id}) WHERE x.user_id = $user_id AND x.type = $type
OPTIONAL MATCH (:EntityAlias {id: $alias_key})-[:ALIAS_OF]->(a:Entity)
 WHERE a.user_id = $user_id AND a.type = $type AND $norm_name IN a.norm_aliases
WITH x, a ORDER BY a.created_at LIMIT 1
WITH coalesce(x, a) AS c
"""


def _entity_rel_alternation() -> str:
    """`A|B|…` over every caller-creatable relationship type (the traversable entity graph)."""
    return "|".join(entity_rel_type(t) for t in ENTITY_RELATIONSHIPS)


# ---- entities -------------------------------------------------------------------------------------


@cypher("semantic.resolve_entity")
def resolve_entity(d: Dialect) -> str:
    """The entity an upsert of ($id, $type, $norm_name) would merge into, with its mergeable state."""
    return (
        _RESOLVE
        + """
WITH c WHERE c IS NOT NULL
RETURN c.id AS id, c.name AS name, c.aliases AS aliases, c.norm_aliases AS norm_aliases,
       c.description AS description, c.attributes AS attributes
"""
    )


@cypher("semantic.upsert_entity", variants=[{"type_name": t} for t in ENTITY_TYPES])
def upsert_entity(d: Dialect, type_name: str) -> str:
    """MERGE an entity (resolved by id or alias) and union its aliases, in one statement.

    Every property but the vector is written inside ON CREATE / ON MATCH; the vector is set once, after the
    MERGE. On FalkorDB 4.16 a SET after creating a node with a vector re-indexes it and orphans that vector
    (memory_runtime.batch.reindex), so a new entity gets none until that last SET. And a SET of a vector over
    another is silently skipped (FalkorDB/FalkorDB#2099: any two vectors compare equal, #2098), so ON MATCH
    clears the old one first, or a re-mentioned entity would keep the vector of its first text.
    In ON MATCH the alias text comes before the alias lists and `norm_aliases` last, so whether an engine
    applies SET items one by one or all at once, each reads the lists as they were.

    $aliases: list of {name, norm}; $attributes: JSON text or null (keep); $description: text or null
    (keep); $embedding: list of floats; $source_turn_ids: list of str. Returns the entity (ENTITY_FIELDS).
    """
    type_label = ident(entity_type(type_name))
    vector = d.vector_value("embedding")
    return (
        _RESOLVE
        + f"""
WITH coalesce(c.id, $id) AS target
MERGE (e:Entity {{id: target}})
  ON CREATE SET e:{type_label}, e.user_id = $user_id, e.name = $name, e.norm_name = $norm_name, e.type = $type,
                e.mention_count = 1, e.salience = $salience, e.created_at = $now, e.updated_at = $now,
                e.description = $description, e.attributes = $attributes,
                e.extractor_version = $extractor_version, e.source_turn_ids = $source_turn_ids,
                e.aliases_text = reduce(s = '', a IN [a IN $aliases WHERE a.norm <> $norm_name | a.name] |
                                        s + CASE WHEN s = '' THEN '' ELSE ' | ' END + a),
                e.aliases = [a IN $aliases WHERE a.norm <> $norm_name | a.name],
                e.norm_aliases = [a IN $aliases WHERE a.norm <> $norm_name | a.norm]
  ON MATCH SET e:{type_label}, e.mention_count = coalesce(e.mention_count, 0) + 1,
               e.salience = CASE WHEN $salience > coalesce(e.salience, 0.0) THEN $salience ELSE e.salience END,
               e.updated_at = $now, e.description = coalesce($description, e.description),
               e.attributes = coalesce($attributes, e.attributes), e.embedding = null,
               e.extractor_version = coalesce($extractor_version, e.extractor_version),
               e.source_turn_ids = coalesce(e.source_turn_ids, [])
                   + [t IN $source_turn_ids WHERE NOT t IN coalesce(e.source_turn_ids, [])],
               e.aliases_text = reduce(s = '', a IN coalesce(e.aliases, []) + [a IN $aliases
                   WHERE a.norm <> e.norm_name AND NOT a.norm IN coalesce(e.norm_aliases, []) | a.name] |
                   s + CASE WHEN s = '' THEN '' ELSE ' | ' END + a),
               e.aliases = coalesce(e.aliases, []) + [a IN $aliases
                   WHERE a.norm <> e.norm_name AND NOT a.norm IN coalesce(e.norm_aliases, []) | a.name],
               e.norm_aliases = coalesce(e.norm_aliases, []) + [a IN $aliases
                   WHERE a.norm <> e.norm_name AND NOT a.norm IN coalesce(e.norm_aliases, []) | a.norm]
SET e.embedding = {vector}
{_link_aliases("e", "[a IN $aliases WHERE a.norm <> e.norm_name | a.key]")}RETURN {ENTITY_FIELDS}
"""
    )


@cypher("semantic.get_entity")
def get_entity(d: Dialect) -> str:
    """One entity of $user_id by $id."""
    return f"MATCH (e:Entity {{id: $id}}) WHERE e.user_id = $user_id RETURN {ENTITY_FIELDS}"


@cypher("semantic.find_entities")
def find_entities(d: Dialect) -> str:
    """Entities of $user_id whose normalised name or alias is $norm_name ($type null = any type), through the
    `norm_name` index and the alias nodes."""
    return f"""
OPTIONAL MATCH (n:Entity {{norm_name: $norm_name}}) WHERE n.user_id = $user_id
WITH collect(n) AS named
OPTIONAL MATCH (:EntityAlias {{id: $alias_key}})-[:ALIAS_OF]->(a:Entity)
 WHERE a.user_id = $user_id AND $norm_name IN a.norm_aliases
WITH named, collect(a) AS aliased
UNWIND named + aliased AS e
WITH DISTINCT e WHERE $type IS NULL OR e.type = $type
RETURN {ENTITY_FIELDS}
ORDER BY CASE WHEN e.norm_name = $norm_name THEN 0 ELSE 1 END, e.mention_count DESC, e.id
LIMIT $limit
"""


@cypher("semantic.existing_ids", variants=[{"node_label": "Entity"}, {"node_label": "Fact"}])
def existing_ids(d: Dialect, node_label: str) -> str:
    """Which of $ids exist as nodes of `node_label` owned by $user_id."""
    return f"MATCH (n:{label(node_label)}) WHERE n.id IN $ids AND n.user_id = $user_id RETURN n.id AS id"


@cypher("semantic.relate", variants=[{"rel_name": t} for t in ENTITY_RELATIONSHIPS])
def relate(d: Dialect, rel_name: str) -> str:
    """MERGE (source)-[rel_name]->(target) between two entities of $user_id; SET its flat $props.

    Returns no row when either entity is missing (nothing is written then).
    """
    return f"""
MATCH (a:Entity {{id: $source_id}}) WHERE a.user_id = $user_id
MATCH (b:Entity {{id: $target_id}}) WHERE b.user_id = $user_id
MERGE (a)-[r:{entity_rel_type(rel_name)}]->(b)
  ON CREATE SET r.created_at = $now
SET r += $props, r.updated_at = $now
RETURN a.id AS source_id, b.id AS target_id
"""


@cypher("semantic.neighbours", variants=[{"depth": n} for n in range(1, MAX_NEIGHBOUR_DEPTH + 1)])
def neighbours(d: Dialect, depth: int) -> str:
    """Entities within `depth` entity relations of $entity_id (either direction), nearest first.

    Each row: id, name, type, description, distance (shortest path length), via (relationship types
    along one shortest path, from the start entity outwards).
    """
    return f"""
MATCH (s:Entity {{id: $entity_id}}) WHERE s.user_id = $user_id
MATCH p = (s)-[:{_entity_rel_alternation()}{hops(1, depth)}]-(n:Entity)
WHERE n.id <> s.id AND all(x IN nodes(p) WHERE x.user_id = $user_id)
WITH n, length(p) AS distance, [r IN relationships(p) | type(r)] AS via
ORDER BY distance
WITH n, collect({{distance: distance, via: via}})[0] AS best
RETURN n.id AS id, n.name AS name, n.type AS type, n.description AS description,
       best.distance AS distance, best.via AS via
ORDER BY distance, n.salience DESC, name
LIMIT $limit
"""


# ---- facts ----------------------------------------------------------------------------------------


@cypher("semantic.learn_fact")
def learn_fact(d: Dialect) -> str:
    """Learn a fact in one statement: guard, dedup/reinforce, link, supersede.

    1. Guard: every id in $supersedes (Fact) and $entity_ids (Entity) must exist for $user_id, else
       the statement returns no row and writes nothing. (Both counts are aggregated before the one
       filter: an aggregation without grouping keys turns zero rows back into one.)
    2. Dedup: a current fact of $user_id with the same $norm_claim is reinforced (confidence = max,
       source_turn_ids union, valid_at = earliest); otherwise a new Fact $id is created.
    3. ABOUT edges to the entities; DERIVED_FROM edges to those $source_turn_ids that are Turn nodes.
    4. Supersession. Conflicts are the facts in $supersedes plus, when subject/predicate/object are
       given, the facts with the same normalised subject and predicate, another object and a validity
       window still open at the new fact's valid_at. A conflict that began no later than the new fact
       (or is listed in $supersedes) is closed: invalid_at = the new valid_at, expired_at = $now, and
       (new)-[:SUPERSEDES]->(old). A conflict that began later (out-of-order learning, backfills)
       closes the new fact instead: its invalid_at becomes the earliest such valid_at, and
       (later)-[:SUPERSEDES]->(new). Old facts are never deleted.
    5. Lookup keys: the fact's `claim_key` and `slot_key` are set from the values it is stored with
       (on a reinforcement from the merged subject and predicate: the same on either engine whether the
       SET items see the old or the new values).

    Duplicates and subject/predicate conflicts are found through the `claim_key` / `slot_key` indexes and
    only then filtered by user and exact values: a filter on `user_id` next to an unindexed predicate makes
    FalkorDB scan all of the user's facts, so the write would slow down with every fact learnt.

    Returns one row: the fact as stored (FACT_FIELDS), reinforced, superseded (number of facts closed).
    """
    merged_slot_key = slot_key(
        "f.user_id", "coalesce(f.norm_subject, $norm_subject)", "coalesce(f.norm_predicate, $norm_predicate)"
    )
    return f"""
OPTIONAL MATCH (s:Fact) WHERE s.user_id = $user_id AND s.id IN $supersedes
WITH count(DISTINCT s) AS found
OPTIONAL MATCH (e:Entity) WHERE e.user_id = $user_id AND e.id IN $entity_ids
WITH found, collect(DISTINCT e) AS ents
WHERE found = size($supersedes) AND size(ents) = size($entity_ids)
OPTIONAL MATCH (dup:Fact) WHERE dup.claim_key = {claim_key("$user_id", "$norm_claim")}
WITH ents, [d IN collect(dup) WHERE d.user_id = $user_id AND d.norm_claim = $norm_claim
                                AND (d.invalid_at IS NULL OR d.invalid_at > $now)] AS dups
UNWIND CASE WHEN size(dups) = 0 THEN [null] ELSE dups END AS dup
WITH ents, dup ORDER BY dup.created_at LIMIT 1
WITH ents, dup IS NOT NULL AS reinforced, coalesce(dup.id, $id) AS fid
MERGE (f:Fact {{id: fid}})
  ON CREATE SET f.user_id = $user_id, f.claim = $claim, f.norm_claim = $norm_claim,
                f.confidence = $confidence, f.source = $source, f.valid_at = $valid_at,
                f.invalid_at = $invalid_at, f.created_at = $now, f.updated_at = $now,
                f.source_turn_ids = $source_turn_ids, f.extractor_version = $extractor_version,
                f.subject = $subject, f.predicate = $predicate, f.object = $object,
                f.norm_subject = $norm_subject, f.norm_predicate = $norm_predicate,
                f.norm_object = $norm_object, f.reinforcements = 0,
                f.embedding = {d.vector_value("embedding")},
                f.claim_key = {claim_key("$user_id", "$norm_claim")},
                f.slot_key = {slot_key("$user_id", "$norm_subject", "$norm_predicate")}
  ON MATCH SET f.confidence = CASE WHEN $confidence > f.confidence THEN $confidence ELSE f.confidence END,
               f.source_turn_ids = coalesce(f.source_turn_ids, [])
                   + [t IN $source_turn_ids WHERE NOT t IN coalesce(f.source_turn_ids, [])],
               f.valid_at = CASE WHEN $valid_at < f.valid_at THEN $valid_at ELSE f.valid_at END,
               f.extractor_version = coalesce($extractor_version, f.extractor_version),
               f.subject = coalesce(f.subject, $subject), f.predicate = coalesce(f.predicate, $predicate),
               f.object = coalesce(f.object, $object),
               f.norm_subject = coalesce(f.norm_subject, $norm_subject),
               f.norm_predicate = coalesce(f.norm_predicate, $norm_predicate),
               f.norm_object = coalesce(f.norm_object, $norm_object),
               f.reinforcements = coalesce(f.reinforcements, 0) + 1, f.updated_at = $now,
               f.claim_key = {claim_key("f.user_id", "f.norm_claim")},
               f.slot_key = {merged_slot_key}
FOREACH (e IN ents | MERGE (f)-[:ABOUT]->(e))
WITH f, reinforced
OPTIONAL MATCH (t:Turn) WHERE t.user_id = $user_id AND t.id IN $source_turn_ids
WITH f, reinforced, collect(DISTINCT t) AS turns
FOREACH (t IN turns | MERGE (f)-[:DERIVED_FROM]->(t))
WITH f, reinforced
OPTIONAL MATCH (o:Fact)
 WHERE o.id IN $supersedes
    OR o.slot_key = CASE WHEN $single_valued AND $norm_object IS NOT NULL
                         THEN {slot_key("$user_id", "$norm_subject", "$norm_predicate")} END
WITH f, reinforced, collect(DISTINCT o) AS candidates
WITH f, reinforced,
     [o IN candidates
      WHERE o.user_id = $user_id AND o.id <> f.id
        AND (o.id IN $supersedes
             OR ($single_valued AND $norm_subject IS NOT NULL AND $norm_predicate IS NOT NULL
                 AND $norm_object IS NOT NULL
                 AND o.norm_subject = $norm_subject AND o.norm_predicate = $norm_predicate
                 AND o.norm_object <> $norm_object
                 AND (o.invalid_at IS NULL OR o.invalid_at > f.valid_at)))] AS conflicts
WITH f, reinforced,
     [o IN conflicts WHERE o.id IN $supersedes OR o.valid_at <= f.valid_at] AS older,
     [o IN conflicts WHERE NOT o.id IN $supersedes AND o.valid_at > f.valid_at
                       AND (f.invalid_at IS NULL OR o.valid_at < f.invalid_at)] AS newer
FOREACH (o IN older |
  SET o.invalid_at = CASE
        WHEN o.invalid_at IS NOT NULL
             AND o.invalid_at <= CASE WHEN o.valid_at > f.valid_at THEN o.valid_at ELSE f.valid_at END
        THEN o.invalid_at
        ELSE CASE WHEN o.valid_at > f.valid_at THEN o.valid_at ELSE f.valid_at END
      END,
      o.expired_at = $now, o.updated_at = $now
  MERGE (f)-[:SUPERSEDES]->(o))
FOREACH (o IN newer | MERGE (o)-[:SUPERSEDES]->(f))
WITH f, reinforced, older,
     CASE WHEN size(newer) = 0 THEN null
          ELSE reduce(m = newer[0].valid_at, o IN newer | CASE WHEN o.valid_at < m THEN o.valid_at ELSE m END)
     END AS until
FOREACH (_ IN CASE WHEN until IS NOT NULL AND (f.invalid_at IS NULL OR until < f.invalid_at) THEN [1] ELSE [] END |
  SET f.invalid_at = until)
RETURN {FACT_FIELDS}, reinforced, size(older) AS superseded
"""


@cypher("semantic.backfill_fact_keys")
def backfill_fact_keys(d: Dialect) -> str:
    """Set the lookup keys of up to $batch facts written before they existed; returns how many were set.

    Run by `agent-memory migrate` until it returns less than $batch (see `migrations.backfill_graph`).
    """
    return f"""
MATCH (f:Fact) WHERE f.claim_key IS NULL AND f.user_id IS NOT NULL AND f.norm_claim IS NOT NULL
WITH f LIMIT $batch
SET f.claim_key = {claim_key("f.user_id", "f.norm_claim")},
    f.slot_key = {slot_key("f.user_id", "f.norm_subject", "f.norm_predicate")}
RETURN count(f) AS updated
"""


@cypher("semantic.entity_alias_page")
def entity_alias_page(d: Dialect) -> str:
    """Up to $batch entities with aliases and an id after $after, in id order: id, user_id, norm_aliases and the
    ids of the alias nodes linked to them (`migrations.backfill_graph` links the missing ones)."""
    return """
MATCH (e:Entity) WHERE e.id > $after AND e.user_id IS NOT NULL AND size(coalesce(e.norm_aliases, [])) > 0
RETURN e.id AS id, e.user_id AS user_id, e.norm_aliases AS norm_aliases,
       [(h:EntityAlias)-[:ALIAS_OF]->(e) | h.id] AS linked
ORDER BY e.id LIMIT $batch
"""


@cypher("semantic.link_entity_aliases")
def link_entity_aliases(d: Dialect) -> str:
    """Link the alias nodes of $rows ({id, keys: [alias id]}) to their entities; returns how many entities."""
    return f"""
UNWIND $rows AS r
MATCH (e:Entity {{id: r.id}})
{_link_aliases("e", "r.keys")}RETURN count(e) AS updated
"""


@cypher("semantic.get_fact")
def get_fact(d: Dialect) -> str:
    """One fact of $user_id by $id."""
    return f"MATCH (f:Fact {{id: $id}}) WHERE f.user_id = $user_id RETURN {FACT_FIELDS}"


@cypher("semantic.invalidate_fact")
def invalidate_fact(d: Dialect) -> str:
    """Close a fact's validity at $at (ms) and record when we retired it ($now)."""
    return """
MATCH (f:Fact {id: $id}) WHERE f.user_id = $user_id
SET f.invalid_at = $at, f.expired_at = $now, f.updated_at = $now
RETURN f.id AS id
"""


@cypher("semantic.retract_facts")
def retract_facts(d: Dialect) -> str:
    """Close, at $at (ms), the facts of $user_id that a denial retracts: those with the normalised subject,
    predicate and object ($norm_subject, $norm_predicate, $norm_object), or with the claim $norm_claim, that
    began no later than $at and are still open then. Found through the slot and claim key indexes.
    Returns the ids closed."""
    return f"""
OPTIONAL MATCH (f:Fact)
 WHERE f.slot_key = {slot_key("$user_id", "$norm_subject", "$norm_predicate")}
    OR f.claim_key = {claim_key("$user_id", "$norm_claim")}
WITH collect(DISTINCT f) AS found
UNWIND found AS f
WITH f
 WHERE f.user_id = $user_id AND f.valid_at <= $at AND (f.invalid_at IS NULL OR f.invalid_at > $at)
   AND ((f.norm_subject = $norm_subject AND f.norm_predicate = $norm_predicate AND f.norm_object = $norm_object)
        OR f.norm_claim = $norm_claim)
SET f.invalid_at = $at, f.expired_at = $now, f.updated_at = $now
RETURN f.id AS id
"""


@cypher("semantic.facts_about")
def facts_about(d: Dialect) -> str:
    """Facts of $user_id ABOUT entity $entity_id, latest valid_at first (current only unless asked)."""
    return f"""
MATCH (e:Entity {{id: $entity_id}}) WHERE e.user_id = $user_id
MATCH (f:Fact)-[:ABOUT]->(e)
WHERE f.user_id = $user_id AND ($include_invalid OR {CURRENT_FACT})
RETURN {FACT_FIELDS}
ORDER BY f.valid_at DESC, f.created_at DESC
LIMIT $limit
"""


@cypher("semantic.list_facts")
def list_facts(d: Dialect) -> str:
    """Facts of $user_id, most recently learnt first (current only unless $include_invalid)."""
    return f"""
MATCH (f:Fact) WHERE f.user_id = $user_id AND ($include_invalid OR {CURRENT_FACT})
RETURN {FACT_FIELDS}
ORDER BY f.created_at DESC, f.id
LIMIT $limit
"""


@cypher("semantic.facts_as_of")
def facts_as_of(d: Dialect) -> str:
    """Facts of $user_id valid at $t (ms); with $known_at (ms), as recorded at that time.

    Known at K means created by K, and an invalidation recorded after K (expired_at > K) is ignored.
    """
    return f"""
MATCH (f:Fact)
WHERE f.user_id = $user_id AND f.valid_at <= $t
  AND ($known_at IS NULL OR f.created_at <= $known_at)
  AND (f.invalid_at IS NULL OR f.invalid_at > $t
       OR ($known_at IS NOT NULL AND f.expired_at IS NOT NULL AND f.expired_at > $known_at))
RETURN {FACT_FIELDS}
ORDER BY f.valid_at DESC, f.created_at DESC
LIMIT $limit
"""
