"""User profiles consolidated from facts (the `user_profiles` asset).

For every user active in the window (a turn, or a fact learnt in it), the current first-person facts
become the user model: 'favorite_<x>' and 'dislikes' facts preferences, 'likes' facts interests (through
`memory_runtime.memory.users.UserModel`, which mirrors the graph into user_profiles), plus a readable
summary in user_profiles.summary. A fact only overrides a preference set after it if it is newer; nothing
is written when nothing changed.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memory_runtime.batch.timeline import shorten
from memory_runtime.domain import ids
from memory_runtime.domain.models import to_ms
from memory_runtime.extraction.types import USER_SUBJECT
from memory_runtime.memory import context_cache
from memory_runtime.memory.users import UserModel
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import profiles as q
from memory_runtime.stores.graph.queries import users as user_queries
from memory_runtime.stores.postgres import profiles as pg_profiles
from memory_runtime.stores.postgres import turn_log

INTEREST_PREDICATES = frozenset({"likes"})
LIST_PREFERENCE_PREDICATES = frozenset({"dislikes"})
USERS_PER_READ = 500
_MISSING = object()


@dataclass(frozen=True)
class ProfileSummary:
    """The summary written for one user (None: the profile has nothing to summarise)."""

    user_id: str
    summary: str | None


@dataclass(frozen=True)
class ProfilesReport:
    """Users looked at, what changed, and the summary of each user with a profile."""

    users: int
    preferences_set: int
    interests_added: int
    summaries_updated: int
    profiles: list[ProfileSummary]


def derive_profile(facts: list[dict[str, Any]]) -> tuple[dict[str, tuple[Any, float, int]], list[str]]:
    """Preferences {key: (value, confidence, learnt_ms)} and interests from a user's current facts.

    `learnt_ms` is when the fact was learnt (created_at), compared with when a preference was last set.
    """
    prefs: dict[str, tuple[Any, float, int]] = {}
    lists: dict[str, list[str]] = defaultdict(list)
    list_meta: dict[str, tuple[float, int]] = {}
    interests: list[str] = []
    for f in facts:  # ordered by valid_at: a later fact of a functional predicate wins
        pred, obj = str(f["predicate"]), str(f["object"]).strip()
        conf, at = float(f["confidence"] or 0.0), int(f["created_at"] or 0)
        if not obj:
            continue
        if pred.startswith("favorite_"):
            prefs[pred] = (obj, conf, at)
        elif pred in LIST_PREFERENCE_PREDICATES:
            if obj not in lists[pred]:
                lists[pred].append(obj)
            old_conf, old_at = list_meta.get(pred, (0.0, 0))
            list_meta[pred] = (max(old_conf, conf), max(old_at, at))
        elif pred in INTEREST_PREDICATES and obj not in interests:
            interests.append(obj)
    for pred, values in lists.items():
        prefs[pred] = (sorted(values), *list_meta[pred])
    return prefs, interests


def profile_summary(profile: Mapping[str, Any]) -> str | None:
    """A readable one-paragraph summary of a user context (preferences, interests, expertise)."""
    parts = []
    prefs = profile.get("preferences") or {}
    if prefs:
        shown = [
            f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in sorted(prefs.items())
        ]
        parts.append("Preferences — " + "; ".join(shown))
    if profile.get("interests"):
        parts.append("Interested in " + ", ".join(profile["interests"]))
    if profile.get("expertise"):
        parts.append("Expertise — " + ", ".join(f"{k} ({v})" for k, v in sorted(profile["expertise"].items())))
    return shorten(". ".join(parts), 1000) or None


def active_users(stores: Stores, start: datetime, end: datetime) -> list[str]:
    """Users with a turn or a learnt fact in [start, end), sorted."""
    graph = stores.graph
    users = turn_log.users_with_turns(stores.pg, start, end)
    users |= {
        r["user_id"]
        for r in graph.read(q.users_with_facts_in_window(graph.dialect), {"start": to_ms(start), "end": to_ms(end)})
        if r["user_id"]
    }
    return sorted(users)


def refresh_profiles(stores: Stores, start: datetime, end: datetime) -> ProfilesReport:
    """Fold preference and interest facts into the user model of every user active in [start, end), and
    refresh the profile summaries."""
    graph = stores.graph
    ordered = active_users(stores, start, end)
    facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for at in range(0, len(ordered), USERS_PER_READ):
        for r in graph.read(
            q.profile_facts(graph.dialect),
            {
                "users": ordered[at : at + USERS_PER_READ],
                "subject": ids.normalize_name(USER_SUBJECT),
                "now": to_ms(datetime.now(UTC)),
            },
        ):
            facts[r["user_id"]].append(r)
    prefs_set = interests_added = summaries = 0
    profiles = []
    for user_id in ordered:
        model = UserModel(stores, user_id)
        current = model.profile_from_graph()
        set_at = {
            p["key"]: int(p["updated_at"] or 0)
            for p in graph.read(user_queries.preferences(graph.dialect), {"user_id": user_id})
        }
        derived_prefs, derived_interests = derive_profile(facts.get(user_id, []))
        wrote = False
        for key, (value, confidence, learnt_ms) in sorted(derived_prefs.items()):
            if current["preferences"].get(key, _MISSING) == value:
                continue
            if key in set_at and set_at[key] >= learnt_ms:
                continue  # set (by the agent) after the fact was learnt: the newer statement wins
            model.set_preference(key, value, confidence=min(max(confidence, 0.0), 1.0))
            prefs_set += 1
            wrote = True
        for topic in derived_interests:
            if topic not in current["interests"]:
                model.add_interest(topic)
                interests_added += 1
                wrote = True
        if current["version"] is None and not wrote:
            continue  # no profile at all
        summary = profile_summary(model.get_user_context())
        summaries += pg_profiles.upsert_profile_summary(stores.pg, user_id, summary)
        context_cache.changed(stores, user_id)
        profiles.append(ProfileSummary(user_id, summary))
    return ProfilesReport(len(ordered), prefs_set, interests_added, summaries, profiles)
