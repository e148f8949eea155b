"""Cypher builders: goals (Goal; SUBGOAL_OF, BLOCKED_BY), shared by both dialects.

Every goal read returns the same columns (see `_goal_fields`), with `blocked_by` = ids of the goal's
blockers that are still open (status in $open).
"""

from memory_runtime.stores.graph.cypher import hops
from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.registry import cypher

MAX_BLOCKER_CHAIN = 4  # add_blocker refuses cycles of up to this many BLOCKED_BY hops


def _goal_fields(v: str, blocked_by: str) -> str:
    return (
        f"{v}.id AS id, {v}.description AS description, {v}.priority AS priority, {v}.status AS status, "
        f"{v}.parent_id AS parent_id, {blocked_by} AS blocked_by, {v}.deadline AS deadline, "
        f"{v}.created_at AS created_at, {v}.updated_at AS updated_at, {v}.completed_at AS completed_at"
    )


@cypher("goals.add_goal", variants=[{"with_parent": False}, {"with_parent": True}])
def add_goal(d: Dialect, with_parent: bool) -> str:
    """CREATE a goal; with a parent, only if $parent_id is one of the user's goals (no row otherwise).

    $id, $user_id, $description, $priority, $status, $parent_id, $deadline (ms or null),
    $completed_at (ms or null), $embedding, $now.
    """
    props = (
        "id: $id, user_id: $user_id, description: $description, priority: $priority, status: $status, "
        "parent_id: $parent_id, deadline: $deadline, completed_at: $completed_at, "
        "created_at: $now, updated_at: $now"
    )
    if with_parent:
        head = (
            "MATCH (p:Goal {id: $parent_id}) WHERE p.user_id = $user_id\n"
            f"CREATE (g:Goal {{{props}}})-[:SUBGOAL_OF]->(p)"
        )
    else:
        head = f"CREATE (g:Goal {{{props}}})"
    return f"""
{head}
SET g.embedding = {d.vector_value("embedding")}
RETURN g.id AS id
"""


@cypher("goals.add_blocker")
def add_blocker(d: Dialect) -> str:
    """MERGE (g)-[:BLOCKED_BY]->(b) for two of the user's goals unless b is already blocked by g
    (within MAX_BLOCKER_CHAIN hops); no row when a goal is unknown or the link would close a cycle."""
    return f"""
MATCH (g:Goal {{id: $goal_id}}) WHERE g.user_id = $user_id
MATCH (b:Goal {{id: $blocker_id}})
WHERE b.user_id = $user_id AND NOT (b)-[:BLOCKED_BY{hops(1, MAX_BLOCKER_CHAIN)}]->(g)
MERGE (g)-[:BLOCKED_BY]->(b)
SET g.updated_at = $now
RETURN g.id AS id
"""


@cypher("goals.goal_ids")
def goal_ids(d: Dialect) -> str:
    """Which of $ids are the user's goals."""
    return """
MATCH (g:Goal) WHERE g.id IN $ids AND g.user_id = $user_id
RETURN g.id AS id
"""


@cypher("goals.update_status")
def update_status(d: Dialect) -> str:
    """Set a goal's status; completing records completed_at (kept if already set), reopening clears it."""
    return """
MATCH (g:Goal {id: $id}) WHERE g.user_id = $user_id
SET g.status = $status, g.updated_at = $now,
    g.completed_at = CASE WHEN $status = 'completed' THEN coalesce(g.completed_at, $now) ELSE null END
RETURN g.id AS id
"""


@cypher("goals.get_goal")
def get_goal(d: Dialect) -> str:
    """One of the user's goals by id (no row if unknown)."""
    return f"""
MATCH (g:Goal {{id: $id}}) WHERE g.user_id = $user_id
OPTIONAL MATCH (g)-[:BLOCKED_BY]->(b:Goal) WHERE b.status IN $open
WITH g, collect(b.id) AS blocked_by
RETURN {_goal_fields("g", "blocked_by")}
"""


@cypher("goals.goals_by_status")
def goals_by_status(d: Dialect) -> str:
    """The user's goals with status $status, priority DESC (5 = highest), then oldest first."""
    return f"""
MATCH (g:Goal) WHERE g.user_id = $user_id AND g.status = $status
OPTIONAL MATCH (g)-[:BLOCKED_BY]->(b:Goal) WHERE b.status IN $open
WITH g, collect(b.id) AS blocked_by
RETURN {_goal_fields("g", "blocked_by")}
ORDER BY priority DESC, created_at, id
"""


@cypher("goals.subgoals")
def subgoals(d: Dialect) -> str:
    """Direct sub-goals of one of the user's goals; no row if the parent is unknown, one row with a null id
    if it has none."""
    return f"""
MATCH (p:Goal {{id: $id}}) WHERE p.user_id = $user_id
OPTIONAL MATCH (g:Goal)-[:SUBGOAL_OF]->(p) WHERE g.user_id = $user_id
OPTIONAL MATCH (g)-[:BLOCKED_BY]->(b:Goal) WHERE b.status IN $open
WITH g, collect(b.id) AS blocked_by
RETURN {_goal_fields("g", "blocked_by")}
ORDER BY priority DESC, created_at, id
"""
