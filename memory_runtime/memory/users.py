"""The user model: preferences, expertise and interests, in the graph and mirrored to Postgres.

The graph holds the model: `(:User)-[:HAS_PREFERENCE]->(:Preference {key, value_json, confidence})`,
`(:User)-[:INTERESTED_IN]->(:Topic {name})`, and expertise as `Topic.expertise` (one of `EXPERTISE_LEVELS`;
a topic the user knows about is not necessarily one they are interested in). Preference keys and topic
names are matched case- and whitespace-insensitively; the first spelling is kept.

Every write MERGEs into the graph (one statement) and then mirrors the whole profile into Postgres
`user_profiles` (preferences `{key: value}`, expertise `{topic: level}`, interests `[topic, ...]` in the
order they were added), which is the fast path `get_user_context()` reads. The mirror is rebuilt from the
graph on each write, so it heals itself, and it is versioned by `User.updated_at`: an older profile never
overwrites a newer one. If the Postgres step fails the graph is already updated and the error propagates;
calling again (every write is idempotent) or `mirror_to_postgres()` brings the mirror up to date.
The `summary` column belongs to the user_profiles asset and is never touched here.
"""

import json
import math
import uuid
from typing import Any, Literal, get_args

from memory_runtime.domain import ids
from memory_runtime.domain.errors import ValidationError
from memory_runtime.domain.models import UserContext, from_ms, now, to_ms, utc
from memory_runtime.domain.validation import identifier, json_text
from memory_runtime.memory import context_cache
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import users as q
from memory_runtime.stores.postgres import profiles

ExpertiseLevel = Literal["novice", "beginner", "intermediate", "advanced", "expert"]
EXPERTISE_LEVELS: tuple[str, ...] = get_args(ExpertiseLevel)


def _node_id(kind: str, user_id: str, name: str) -> str:
    """Deterministic id of a user's Preference or Topic node (normalised name)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join((kind, user_id, ids.normalize_name(name)))))


def _empty_context() -> UserContext:
    return {"preferences": {}, "expertise": {}, "interests": [], "summary": None, "updated_at": None}


class UserModel:
    """Preferences, expertise and interests of one user; see the module docstring."""

    def __init__(self, stores: Stores, user_id: str) -> None:
        self.stores = stores
        self.user_id = user_id

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_node_id": ids.user_node_id(self.user_id),
            "now": to_ms(now()),
            **extra,
        }

    def _write(self, statement: str, params: dict[str, Any]) -> None:
        self.stores.graph.write(statement, params)
        self.mirror_to_postgres()

    # ---- writes ----------------------------------------------------------------------------------
    def set_preference(self, key: str, value: Any, confidence: float = 0.8) -> None:
        """Set a preference (any JSON value) with a confidence in [0, 1]; replaces an earlier value."""
        key = identifier(key, "preference key")
        value_json = json_text(value, f"value of preference {key!r}")
        if len(value_json) > self.stores.settings.max_content_chars:
            raise ValidationError(
                f"value of preference {key!r} is {len(value_json)} characters as JSON; the limit is "
                f"MEMORY_MAX_CONTENT_CHARS={self.stores.settings.max_content_chars}"
            )
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise ValidationError(f"confidence must be a number in [0, 1], got {type(confidence).__name__}")
        if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
            raise ValidationError(f"confidence must be in [0, 1], got {confidence!r}")
        graph = self.stores.graph
        self._write(
            q.set_preference(graph.dialect),
            self._params(
                id=_node_id("preference", self.user_id, key),
                key=key,
                value_json=value_json,
                confidence=float(confidence),
            ),
        )

    def add_expertise(self, topic: str, level: str) -> None:
        """Record the user's expertise in a topic: one of novice, beginner, intermediate, advanced, expert."""
        topic = identifier(topic, "topic")
        norm = level.strip().lower() if isinstance(level, str) else None
        if norm not in EXPERTISE_LEVELS:
            raise ValidationError(f"invalid expertise level {level!r}; use one of: {', '.join(EXPERTISE_LEVELS)}")
        graph = self.stores.graph
        self._write(
            q.set_expertise(graph.dialect),
            self._params(id=_node_id("topic", self.user_id, topic), name=topic, level=norm),
        )

    def add_interest(self, topic: str) -> None:
        """Record that the user is interested in a topic (idempotent)."""
        topic = identifier(topic, "topic")
        graph = self.stores.graph
        self._write(q.add_interest(graph.dialect), self._params(id=_node_id("topic", self.user_id, topic), name=topic))

    # ---- mirror and reads ------------------------------------------------------------------------
    def profile_from_graph(self) -> dict[str, Any]:
        """The profile as the graph holds it: preferences (with confidence), expertise, interests, version."""
        graph = self.stores.graph
        params = self._params()
        # Version first: data read afterwards is at least as new, so the mirror never regresses.
        version = graph.read(q.profile_version(graph.dialect), params)
        prefs = graph.read(q.preferences(graph.dialect), params)
        topics = graph.read(q.topics(graph.dialect), params)
        interests = sorted((t for t in topics if t["interested"]), key=lambda t: (t["interested_at"] or 0, t["name"]))
        return {
            "preferences": {p["key"]: json.loads(p["value_json"]) for p in prefs},
            "confidence": {p["key"]: float(p["confidence"]) for p in prefs},
            "expertise": {t["name"]: t["expertise"] for t in topics if t["expertise"] is not None},
            "interests": [t["name"] for t in interests],
            "version": version[0]["version"] if version else None,
        }

    def mirror_to_postgres(self) -> None:
        """Write the graph's profile into `user_profiles` unless Postgres already holds a newer one."""
        profile = self.profile_from_graph()
        if profile["version"] is None:
            return  # no profile in the graph: nothing to mirror
        profiles.upsert_profile_mirror(
            self.stores.pg,
            self.user_id,
            preferences=profile["preferences"],
            expertise=profile["expertise"],
            interests=profile["interests"],
            updated_at=from_ms(profile["version"]),
        )
        context_cache.changed(self.stores, self.user_id)  # after the write: a reader never caches the old profile

    def get_user_context(self) -> UserContext:
        """preferences, expertise, interests, summary, updated_at from Postgres (empty if unknown)."""
        row = profiles.user_profile(self.stores.pg, self.user_id)
        if row is None:
            return _empty_context()
        return {
            "preferences": dict(row["preferences"] or {}),
            "expertise": dict(row["expertise"] or {}),
            "interests": list(row["interests"] or []),
            "summary": row["summary"],
            "updated_at": utc(row["updated_at"]),
        }
