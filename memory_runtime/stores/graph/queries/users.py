"""Cypher builders: the user model (User, Preference, Topic; HAS_PREFERENCE, INTERESTED_IN), shared by both
dialects.

Every profile write also bumps `User.updated_at` strictly (max(previous + 1, $now)): it is the profile's
version, which the Postgres mirror uses to never overwrite a newer profile with an older one.
"""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

_USER = """
MERGE (u:User {id: $user_node_id})
  ON CREATE SET u.user_id = $user_id, u.created_at = $now
SET u.updated_at = CASE WHEN u.updated_at >= $now THEN u.updated_at + 1 ELSE $now END
"""


@cypher("users.set_preference")
def set_preference(d: Dialect) -> str:
    """MERGE the user and one Preference (deterministic id per normalised key); value is JSON text."""
    return f"""{_USER}
MERGE (p:Preference {{id: $id}})
  ON CREATE SET p.user_id = $user_id, p.key = $key, p.created_at = $now
SET p.value_json = $value_json, p.confidence = $confidence, p.updated_at = $now
MERGE (u)-[:HAS_PREFERENCE]->(p)
RETURN p.key AS key
"""


@cypher("users.set_expertise")
def set_expertise(d: Dialect) -> str:
    """MERGE the user and a Topic (deterministic id per normalised name) carrying the expertise level."""
    return f"""{_USER}
MERGE (t:Topic {{id: $id}})
  ON CREATE SET t.user_id = $user_id, t.name = $name, t.created_at = $now
SET t.expertise = $level, t.updated_at = $now
RETURN t.name AS name
"""


@cypher("users.add_interest")
def add_interest(d: Dialect) -> str:
    """MERGE the user, a Topic and (u)-[:INTERESTED_IN]->(t)."""
    return f"""{_USER}
MERGE (t:Topic {{id: $id}})
  ON CREATE SET t.user_id = $user_id, t.name = $name, t.created_at = $now
SET t.updated_at = $now
MERGE (u)-[r:INTERESTED_IN]->(t)
  ON CREATE SET r.created_at = $now
RETURN t.name AS name
"""


@cypher("users.profile_version")
def profile_version(d: Dialect) -> str:
    """The user's profile version (User.updated_at); no row for an unknown user."""
    return """
MATCH (u:User {id: $user_node_id}) WHERE u.user_id = $user_id
RETURN u.updated_at AS version
"""


@cypher("users.preferences")
def preferences(d: Dialect) -> str:
    """Every preference of the user."""
    return """
MATCH (p:Preference) WHERE p.user_id = $user_id
RETURN p.key AS key, p.value_json AS value_json, p.confidence AS confidence, p.updated_at AS updated_at
ORDER BY key
"""


@cypher("users.topics")
def topics(d: Dialect) -> str:
    """Every topic of the user with its expertise level (or null) and whether the user is interested."""
    return """
MATCH (t:Topic) WHERE t.user_id = $user_id
OPTIONAL MATCH (u:User {id: $user_node_id})-[r:INTERESTED_IN]->(t)
RETURN t.name AS name, t.expertise AS expertise, r IS NOT NULL AS interested, r.created_at AS interested_at
ORDER BY name
"""
