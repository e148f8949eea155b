"""Cypher builders: the facts user profiles are consolidated from (`memory_runtime.batch.profiles`)."""

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher


@cypher("profiles.users_with_facts_in_window")
def users_with_facts_in_window(d: Dialect) -> str:
    """Users with a fact learnt in [$start, $end)."""
    return """
MATCH (f:Fact) WHERE f.created_at >= $start AND f.created_at < $end
RETURN DISTINCT f.user_id AS user_id
"""


@cypher("profiles.profile_facts")
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
