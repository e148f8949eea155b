"""Deterministic ids: every store derives the same id for the same thing, so writes are idempotent."""

import hashlib
import re
import unicodedata
import uuid

_NS = uuid.UUID("6f1c8f2e-9a7b-4d4e-8a3c-2b5d7e9f0a11")
_SPACE = re.compile(r"\s+")


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "\x1f".join(str(p) for p in parts)))


def normalize_name(text: str) -> str:
    """Case-, accent-width- and whitespace-insensitive form of a name or claim."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = _SPACE.sub(" ", text)
    return text.strip(" .,;:!?\"'")


def turn_id(conversation_id: str, index: int) -> str:
    """Id of turn `index` of a conversation."""
    return _uuid("turn", conversation_id, index)


def entity_id(user_id: str, entity_type: str, name: str) -> str:
    """Id of an entity: one per user, type and normalised name."""
    return _uuid("entity", user_id, entity_type, normalize_name(name))


def tool_id(user_id: str, tool_name: str) -> str:
    """Id of a user's Tool node."""
    return _uuid("tool", user_id, tool_name)


def user_node_id(user_id: str) -> str:
    """Id of the User node."""
    return _uuid("user", user_id)


def content_hash(text: str) -> str:
    """sha256 of content, hex; the idempotency key of a turn."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def alias_id(user_id: str, norm_alias: str) -> str:
    """Id of the EntityAlias node of a user's normalised alias: the user id and a digest of the alias (an alias
    may hold any character; an id with control characters crashed FalkorDB's unique index)."""
    return f"{user_id}|{content_hash(norm_alias)[:32]}"


def new_id() -> str:
    """A random id for things that have no natural key (goals, strategies, reflections)."""
    return str(uuid.uuid4())
