"""The one place that turns names into Cypher identifiers, plus the label and relationship whitelists.

Labels, relationship types and var-length bounds can never be query parameters (on either backend), so
they are interpolated — only through these helpers, and only after a whitelist or range check.
"""

import re

from memory_runtime.errors import InvalidLabel, InvalidRelationshipType

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Node labels the runtime writes. Every node also carries `id` (unique) and `user_id` (scope).
NODE_LABELS: tuple[str, ...] = (
    "User",
    "Conversation",
    "Turn",
    "Entity",
    "Fact",
    "Tool",
    "Strategy",
    "TaskType",
    "Goal",
    "Preference",
    "Topic",
    "Reflection",
)

# Extra labels an Entity may carry for its type (upsert_entity's `type`).
ENTITY_TYPES: tuple[str, ...] = (
    "Person",
    "Organization",
    "Location",
    "Product",
    "Project",
    "Event",
    "Concept",
    "Technology",
    "Date",
    "Other",
)

# Relationship types the runtime writes itself.
STRUCTURAL_RELATIONSHIPS: tuple[str, ...] = (
    "HAS_TURN",
    "FOLLOWED_BY",
    "MENTIONS",
    "ABOUT",
    "DERIVED_FROM",
    "SUPERSEDES",
    "USED_TOOL",
    "SUBGOAL_OF",
    "BLOCKED_BY",
    "FOR_TASK",
    "HAS_PREFERENCE",
    "INTERESTED_IN",
    "REFLECTS_ON",
    "OWNS",
)

# Relationship types callers may create between entities with `relate()`.
ENTITY_RELATIONSHIPS: tuple[str, ...] = (
    "RELATED_TO",
    "WORKS_FOR",
    "WORKS_WITH",
    "WORKS_ON",
    "KNOWS",
    "LIVES_IN",
    "LOCATED_IN",
    "PART_OF",
    "MEMBER_OF",
    "OWNS_ENTITY",
    "USES",
    "CREATED",
    "MANAGES",
    "REPORTS_TO",
    "FRIEND_OF",
    "FAMILY_OF",
    "PREFERS",
    "DISLIKES",
    "DEPENDS_ON",
    "SIMILAR_TO",
    "INSTANCE_OF",
    "HAS_ATTRIBUTE",
)


def ident(name: str) -> str:
    """A backticked Cypher identifier; raises ValueError for anything that is not a plain name."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid Cypher identifier: {name!r}")
    return f"`{name}`"


def label(name: str) -> str:
    """A whitelisted node label, ready to interpolate."""
    if name not in NODE_LABELS:
        raise InvalidLabel(f"unknown node label {name!r}; allowed: {', '.join(NODE_LABELS)}")
    return ident(name)


def entity_type(name: str) -> str:
    """The canonical entity type for `name` (case-insensitive), or InvalidLabel."""
    for allowed in ENTITY_TYPES:
        if allowed.lower() == str(name).strip().lower():
            return allowed
    raise InvalidLabel(f"unknown entity type {name!r}; allowed: {', '.join(ENTITY_TYPES)}")


def rel_type(name: str) -> str:
    """A whitelisted relationship type, ready to interpolate."""
    if name in STRUCTURAL_RELATIONSHIPS or name in ENTITY_RELATIONSHIPS:
        return ident(name)
    raise InvalidRelationshipType(
        f"relationship type {name!r} is not allowed; use one of: {', '.join(ENTITY_RELATIONSHIPS)}"
    )


def entity_rel_type(name: str) -> str:
    """A relationship type callers may create between entities (relate()), ready to interpolate."""
    if name not in ENTITY_RELATIONSHIPS:
        raise InvalidRelationshipType(
            f"relationship type {name!r} is not allowed; use one of: {', '.join(ENTITY_RELATIONSHIPS)}"
        )
    return ident(name)


def hops(lo: int, hi: int) -> str:
    """Var-length bounds `*lo..hi` for 0 <= lo <= hi <= 4 (bounds cannot be parameters)."""
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 4):
        raise ValueError(f"traversal depth must satisfy 0 <= lo <= hi <= 4, got {lo}..{hi}")
    return f"*{lo}..{hi}"
