"""Cypher builders: episodic memory (Conversation, Turn, HAS_TURN, FOLLOWED_BY), shared by both dialects."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

# $conversations: id, user_id, user_node_id, started_at, last_turn_at
_MERGE_CONVERSATIONS = """
UNWIND $conversations AS r
MERGE (u:User {id: r.user_node_id})
  ON CREATE SET u.user_id = r.user_id, u.created_at = $now
MERGE (c:Conversation {id: r.id})
  ON CREATE SET c.user_id = r.user_id, c.started_at = r.started_at, c.last_turn_at = r.last_turn_at,
                c.created_at = $now
SET c.started_at = CASE WHEN r.started_at < c.started_at THEN r.started_at ELSE c.started_at END,
    c.last_turn_at = CASE WHEN r.last_turn_at > c.last_turn_at THEN r.last_turn_at ELSE c.last_turn_at END
MERGE (u)-[:OWNS]->(c)
"""


def _merge_turns(d: Dialect) -> str:
    """MERGE the turns of $rows into their (existing) conversations, linked to their neighbours."""
    return f"""
UNWIND $rows AS r
MATCH (c:Conversation {{id: r.conversation_id}})
MERGE (t:Turn {{id: r.id}})
  ON CREATE SET t.user_id = r.user_id, t.conversation_id = r.conversation_id, t.index = r.index,
                t.role = r.role, t.content = r.content, t.timestamp = r.timestamp,
                t.salience = r.salience, t.created_at = $now, t.access_count = 0
SET t.embedding = {d.vector_expr("r.embedding")}
MERGE (c)-[:HAS_TURN]->(t)
WITH t, r
OPTIONAL MATCH (p:Turn {{id: r.prev_id}})
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (p)-[:FOLLOWED_BY]->(t))
WITH t, r
OPTIONAL MATCH (n:Turn {{id: r.next_id}})
FOREACH (_ IN CASE WHEN n IS NULL THEN [] ELSE [1] END | MERGE (t)-[:FOLLOWED_BY]->(n))
"""


@cypher("episodic.project")
def project(d: Dialect) -> str:
    """MERGE a batch of turns and their conversations in one statement (one transaction, one round trip).

    $conversations: id, user_id, user_node_id, started_at, last_turn_at (ms; a stored span is only widened).
    $rows: id, user_id, conversation_id, index, role, content, timestamp (ms), salience, embedding,
    prev_id, next_id (ids of turns index-1 / index+1, linked if present).
    """
    return f"""{_MERGE_CONVERSATIONS}WITH count(*) AS conversations
{_merge_turns(d)}RETURN count(DISTINCT t) AS turns
"""


@cypher("episodic.missing_turns")
def missing_turns(d: Dialect) -> str:
    """Which of $ids have no Turn node (for re-projection)."""
    return """
UNWIND $ids AS id
OPTIONAL MATCH (t:Turn {id: id})
WITH id, t WHERE t IS NULL
RETURN id
"""


@cypher("episodic.count_turns")
def count_turns(d: Dialect) -> str:
    """Number of Turn nodes of a user."""
    return "MATCH (t:Turn) WHERE t.user_id = $user_id RETURN count(t) AS n"
