"""The Cypher the consolidation assets and checks run, one builder per statement, portable across dialects.

Same rules as `memory_runtime/stores/graph/queries/` (notes/cypher_dialects.md §1.5): labels only through
`label()`, times as epoch-millisecond integers, pattern predicates instead of EXISTS{}, scalar or map
results, one logical write per statement. `all_statements()` renders every builder so the test suite can
lint the Neo4j dialect with Neo4j's own parser (tests/dagster/test_dagster_cypher_lint.py).
"""

from memory_runtime.stores.graph.cypher import label
from memory_runtime.stores.graph.dialect import Dialect

DECAY_LABELS = ("Turn", "Entity", "Fact")
RANGE_LABELS = ("Turn", "Entity", "Fact")
EMBEDDING_LABELS = ("Turn", "Entity", "Fact")


# ---- episodic -------------------------------------------------------------------------------------


def turns_per_day(d: Dialect) -> str:
    """Unarchived Turn nodes per UTC day number (epoch ms // 86 400 000) in [$start, $end)."""
    return """
MATCH (t:Turn) WHERE t.timestamp >= $start AND t.timestamp < $end AND coalesce(t.archived, false) = false
RETURN toInteger(t.timestamp / 86400000) AS day, count(t) AS turns
"""


# ---- timeline -------------------------------------------------------------------------------------


def facts_in_window(d: Dialect) -> str:
    """Facts learnt (created_at) or becoming valid (valid_at) in [$start, $end), with their conversations."""
    return """
MATCH (f:Fact)
WHERE (f.created_at >= $start AND f.created_at < $end) OR (f.valid_at >= $start AND f.valid_at < $end)
RETURN f.id AS id, f.user_id AS user_id, f.claim AS claim, f.confidence AS confidence, f.source AS source,
       f.valid_at AS valid_at, f.invalid_at AS invalid_at, f.created_at AS created_at,
       f.extractor_version AS extractor_version,
       [(f)-[:DERIVED_FROM]->(t:Turn) | t.conversation_id] AS conversation_ids
"""


def entities_in_window(d: Dialect) -> str:
    """Entities first learnt (created_at) in [$start, $end)."""
    return """
MATCH (e:Entity) WHERE e.created_at >= $start AND e.created_at < $end
RETURN e.id AS id, e.user_id AS user_id, e.name AS name, e.type AS type, e.description AS description,
       e.created_at AS created_at, e.mention_count AS mention_count
"""


# ---- procedural -----------------------------------------------------------------------------------


def upsert_mined_strategies(d: Dialect) -> str:
    """MERGE mined strategies with totals recomputed from the audit log (overwritten, so idempotent).

    $rows: id, user_id, description, norm_description, task_type_id, task_type, norm_task_type,
    tool_sequence, tool_ids, successes, failures, support, embedding; $now.
    """
    return f"""
UNWIND $rows AS r
MERGE (tt:TaskType {{id: r.task_type_id}})
  ON CREATE SET tt.user_id = r.user_id, tt.name = r.task_type, tt.norm_name = r.norm_task_type,
                tt.created_at = $now, tt.updated_at = $now
MERGE (s:Strategy {{id: r.id}})
  ON CREATE SET s.user_id = r.user_id, s.created_at = $now
WITH tt, s, r,
     s.success_count = r.successes AND s.failure_count = r.failures
     AND s.tool_sequence = r.tool_sequence AND s.description = r.description AS unchanged
SET s.description = r.description, s.norm_description = r.norm_description, s.task_type = tt.name,
    s.tool_sequence = r.tool_sequence, s.success_count = r.successes, s.failure_count = r.failures,
    s.success_rate = (toFloat(r.successes) + 1.0) / (r.successes + r.failures + 2), s.support = r.support,
    s.source = 'mined', s.embedding = {d.vector_expr("r.embedding")},
    s.updated_at = CASE WHEN unchanged THEN s.updated_at ELSE $now END
MERGE (s)-[:FOR_TASK]->(tt)
WITH s, r, unchanged
UNWIND r.tool_ids AS tool_id
OPTIONAL MATCH (tool:Tool {{id: tool_id}}) WHERE tool.user_id = r.user_id
FOREACH (_ IN CASE WHEN tool IS NULL THEN [] ELSE [1] END | MERGE (s)-[:USED_TOOL]->(tool))
WITH DISTINCT s, unchanged
RETURN count(s) AS strategies, sum(CASE WHEN unchanged THEN 0 ELSE 1 END) AS changed
"""


# ---- user profiles --------------------------------------------------------------------------------


def users_with_facts_in_window(d: Dialect) -> str:
    """Users with a fact learnt in [$start, $end)."""
    return """
MATCH (f:Fact) WHERE f.created_at >= $start AND f.created_at < $end
RETURN DISTINCT f.user_id AS user_id
"""


def profile_facts(d: Dialect) -> str:
    """Current first-person facts ($subject) of $users with a predicate, for the profile."""
    return """
MATCH (f:Fact)
WHERE f.user_id IN $users AND f.norm_subject = $subject AND f.predicate IS NOT NULL AND f.object IS NOT NULL
  AND (f.invalid_at IS NULL OR f.invalid_at > $now)
RETURN f.user_id AS user_id, f.predicate AS predicate, f.object AS object, f.confidence AS confidence,
       f.valid_at AS valid_at, f.created_at AS created_at
ORDER BY f.valid_at, f.created_at, f.id
"""


# ---- reflections ----------------------------------------------------------------------------------


def write_reflections(d: Dialect) -> str:
    """MERGE Reflection nodes (id derived from the job) and link each to its user's Conversation.

    $rows: id, job_id, user_id, conversation_id (or null), outcome, success (or null), critique,
    tools_used, tool_failures (JSON text), tool_calls, failed_calls, enqueued_at; $now.
    """
    return """
UNWIND $rows AS r
MERGE (x:Reflection {id: r.id})
  ON CREATE SET x.created_at = $now
SET x.user_id = r.user_id, x.job_id = r.job_id, x.conversation_id = r.conversation_id, x.outcome = r.outcome,
    x.success = r.success, x.critique = r.critique, x.tools_used = r.tools_used,
    x.tool_failures = r.tool_failures, x.tool_calls = r.tool_calls, x.failed_calls = r.failed_calls,
    x.enqueued_at = r.enqueued_at, x.updated_at = $now
WITH x, r
OPTIONAL MATCH (c:Conversation {id: r.conversation_id}) WHERE c.user_id = r.user_id
FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | MERGE (x)-[:REFLECTS_ON]->(c))
RETURN count(x) AS reflections, count(c) AS linked
"""


# ---- lifecycle ------------------------------------------------------------------------------------


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


def archive_turn_batch(d: Dialect) -> str:
    """Archive up to $batch Turn nodes said before $cutoff (ms): flag them and drop their embedding."""
    return """
MATCH (t:Turn) WHERE t.timestamp < $cutoff AND coalesce(t.archived, false) = false
WITH t LIMIT $batch
SET t.archived = true, t.archived_at = $now
REMOVE t.embedding
RETURN count(t) AS archived
"""


def delete_orphan_entity_batch(d: Dialect) -> str:
    """Delete up to $batch entities below $min_salience that no fact is ABOUT and no turn MENTIONS."""
    return """
MATCH (e:Entity)
WHERE e.salience < $min_salience AND NOT (e)-[:MENTIONS]-() AND NOT (e)-[:ABOUT]-()
WITH e LIMIT $batch
DETACH DELETE e
RETURN count(*) AS deleted
"""


# ---- checks ---------------------------------------------------------------------------------------


def untraceable_facts(d: Dialect) -> str:
    """Derived facts (source other than user_stated) with no DERIVED_FROM turn and no source_turn_ids."""
    return """
MATCH (f:Fact)
WHERE coalesce(f.source, '') <> 'user_stated' AND size(coalesce(f.source_turn_ids, [])) = 0
  AND NOT (f)-[:DERIVED_FROM]->(:Turn)
RETURN count(f) AS n, collect(f.id)[..10] AS sample
"""


def cross_user_edges(d: Dialect) -> str:
    """Relationships whose endpoints belong to different users, per type."""
    return """
MATCH (a)-[r]->(b)
WHERE a.user_id IS NOT NULL AND b.user_id IS NOT NULL AND a.user_id <> b.user_id
RETURN type(r) AS type, count(*) AS n, collect(a.id + ' -> ' + b.id)[..5] AS sample
ORDER BY n DESC
"""


def embedding_sample(d: Dialect, node_label: str) -> str:
    """Up to $limit (id, embedding) pairs of one label (FalkorDB vecf32 comes back as a list)."""
    return f"""
MATCH (n:{label(node_label)}) WHERE n.embedding IS NOT NULL
WITH n LIMIT $limit
RETURN n.id AS id, n.embedding AS embedding
"""


def out_of_range_scores(d: Dialect, node_label: str) -> str:
    """Nodes of one label whose salience or confidence lies outside [0, 1]."""
    return f"""
MATCH (n:{label(node_label)})
WHERE (n.salience IS NOT NULL AND (n.salience < 0.0 OR n.salience > 1.0))
   OR (n.confidence IS NOT NULL AND (n.confidence < 0.0 OR n.confidence > 1.0))
RETURN count(n) AS n, collect(n.id)[..10] AS sample
"""


def entity_name_groups(d: Dialect) -> str:
    """Entities, and how many are duplicates of another with the same (user, type, norm_name)."""
    return """
MATCH (e:Entity) WHERE e.norm_name IS NOT NULL
WITH e.user_id AS user_id, e.type AS type, e.norm_name AS norm_name, count(e) AS n
RETURN sum(n) AS entities, sum(CASE WHEN n > 1 THEN n - 1 ELSE 0 END) AS duplicates,
       collect(CASE WHEN n > 1 THEN user_id + '/' + type + '/' + norm_name END)[..10] AS sample
"""


def all_statements(d: Dialect) -> dict[str, str]:
    """Every statement of this module rendered in `d`, keyed by builder name (and label)."""
    out = {
        fn.__name__: fn(d)
        for fn in (
            turns_per_day,
            facts_in_window,
            entities_in_window,
            upsert_mined_strategies,
            users_with_facts_in_window,
            profile_facts,
            write_reflections,
            archive_turn_batch,
            delete_orphan_entity_batch,
            untraceable_facts,
            cross_user_edges,
            entity_name_groups,
        )
    }
    out.update({f"decay_batch[{lbl}]": decay_batch(d, lbl) for lbl in DECAY_LABELS})
    out.update({f"embedding_sample[{lbl}]": embedding_sample(d, lbl) for lbl in EMBEDDING_LABELS})
    out.update({f"out_of_range_scores[{lbl}]": out_of_range_scores(d, lbl) for lbl in RANGE_LABELS})
    return out
