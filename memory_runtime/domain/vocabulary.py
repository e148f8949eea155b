"""The graph's vocabulary: node labels, entity types and relationship types (the whitelists)."""

from memory_runtime.domain.errors import InvalidLabel

# Node labels the runtime writes. Every node also carries `id` (unique) and `user_id` (scope).
NODE_LABELS: tuple[str, ...] = (
    "User",
    "Conversation",
    "Turn",
    "Entity",
    "EntityAlias",  # one per (user, normalised alias): resolution by alias through a unique index
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
    "ALIAS_OF",
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
    "PARTNER_OF",
    "FAMILY_OF",
    "PREFERS",
    "DISLIKES",
    "DEPENDS_ON",
    "SIMILAR_TO",
    "INSTANCE_OF",
    "HAS_ATTRIBUTE",
)


# Fact predicates the extractors may emit (besides `favorite_<thing>`), with whether each is functional: a
# functional predicate holds one object per subject at a time, so a new object supersedes the old fact.
FACT_PREDICATES: dict[str, bool] = {
    # identity
    "name_is": True,
    "age_is": True,
    "is_a": False,  # a role or kind: "data scientist", "vegetarian" is a diet, not a kind
    # employment and education
    "works_for": True,
    "studies_at": True,
    "studied_at": False,
    "field_of_study": False,
    # places
    "lives_in": True,
    "is_from": True,
    "travels_to": False,
    "located_in": True,
    # people and pets around the subject (the object is a Person/Other entity; RELATION_TYPES types the edge)
    "has_manager": True,
    "has_report": False,
    "has_colleague": False,
    "has_partner": True,
    "has_spouse": True,
    "has_parent": False,
    "has_child": False,
    "has_sibling": False,
    "has_relative": False,
    "has_friend": False,
    "has_roommate": False,
    "has_pet": False,
    # tastes, habits, things, plans, health
    "likes": False,
    "dislikes": False,
    "uses": False,
    "habit": False,
    "owns": False,
    "plans": False,
    "diet": True,
    "eats": False,
    "avoids": False,
    "allergic_to": False,
    "has_condition": False,
}

# The relationship type of the edge between subject and object entity for relation predicates.
RELATION_TYPES: dict[str, str] = {
    "works_for": "WORKS_FOR",
    "lives_in": "LIVES_IN",
    "located_in": "LOCATED_IN",
    "studies_at": "MEMBER_OF",
    "has_manager": "REPORTS_TO",
    "has_report": "MANAGES",
    "has_colleague": "WORKS_WITH",
    "has_partner": "PARTNER_OF",
    "has_spouse": "PARTNER_OF",
    "has_parent": "FAMILY_OF",
    "has_child": "FAMILY_OF",
    "has_sibling": "FAMILY_OF",
    "has_relative": "FAMILY_OF",
    "has_friend": "FRIEND_OF",
    "has_roommate": "KNOWS",
    "has_pet": "OWNS_ENTITY",
}


def fact_predicate(name: str) -> str | None:
    """`name` if it is a whitelisted fact predicate (FACT_PREDICATES or favorite_<thing>), else None."""
    if name in FACT_PREDICATES:
        return name
    if name.startswith("favorite_") and len(name) > len("favorite_") and name.replace("_", "").isalnum():
        return name
    return None


def entity_type(name: str) -> str:
    """The canonical entity type for `name` (case-insensitive), or InvalidLabel."""
    for allowed in ENTITY_TYPES:
        if allowed.lower() == str(name).strip().lower():
            return allowed
    raise InvalidLabel(f"unknown entity type {name!r}; allowed: {', '.join(ENTITY_TYPES)}")
