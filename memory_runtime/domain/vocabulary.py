"""The graph's vocabulary: node labels, entity types and relationship types (the whitelists)."""

from memory_runtime.domain.errors import InvalidLabel

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


def entity_type(name: str) -> str:
    """The canonical entity type for `name` (case-insensitive), or InvalidLabel."""
    for allowed in ENTITY_TYPES:
        if allowed.lower() == str(name).strip().lower():
            return allowed
    raise InvalidLabel(f"unknown entity type {name!r}; allowed: {', '.join(ENTITY_TYPES)}")
