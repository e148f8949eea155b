"""A process-local cache of the context sections of remember(): active goals, the user profile, and
whether the user has any strategies.

They change only when the user (or a batch job) writes them, yet every remember() read them: two graph
queries and a Postgres query on each call. Each write bumps the user's version token in Redis
(`stores.redis.context_version`); a remember() reads the token once (one GET) and answers each section
from this process's cache when it was loaded under the same token, less than MAX_AGE_S ago. The age bound
covers a bump lost while Redis was down, or a write that bypassed the runtime. With Redis down nothing is
cached: every section is read from its store as before.
"""

import copy
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import redis

from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.redis import context_version

T = TypeVar("T")

MAX_AGE_S = 60.0
MAX_ENTRIES = 4096
SECTIONS = ("goals", "profile", "has_strategies")
_MEMO = "context_cache"


class _Unavailable:
    """The version when Redis did not answer: bypass the cache."""


UNAVAILABLE: Final = _Unavailable()
Version = str | None | _Unavailable


def version(stores: Stores, user_id: str) -> Version:
    """The user's current context version, or UNAVAILABLE (then `get` always loads)."""
    try:
        return context_version.current(stores.redis, user_id)
    except redis.RedisError:
        return UNAVAILABLE


def get(stores: Stores, user_id: str, at: Version, section: str, load: Callable[[], T]) -> T:
    """The section as cached under version `at`, else `load()` (cached under `at`); a copy, so the caller may
    change what it gets."""
    if isinstance(at, _Unavailable):
        return load()
    entries: dict[tuple[str, str], tuple[Version, float, Any]] = stores.memo.setdefault(_MEMO, {})
    key = (user_id, section)
    hit = entries.get(key)
    if hit is not None and hit[0] == at and time.monotonic() - hit[1] < MAX_AGE_S:
        return copy.deepcopy(hit[2])  # type: ignore[no-any-return]
    value = load()
    if len(entries) >= MAX_ENTRIES:
        entries.pop(next(iter(entries)), None)  # the oldest entry
    entries[key] = (at, time.monotonic(), copy.deepcopy(value))
    return value


def _drop(stores: Stores, user_id: str) -> None:
    entries = stores.memo.get(_MEMO, {})
    for section in SECTIONS:  # this process's entries go at once, even with Redis down
        entries.pop((user_id, section), None)


def changed(stores: Stores, user_id: str) -> None:
    """Note that the user's goals, profile or strategies changed (call after every such write)."""
    _drop(stores, user_id)
    context_version.bump(stores.redis, user_id)


def forget(stores: Stores, user_id: str) -> int:
    """Erase the user's version token and this process's entries; returns the number of Redis keys removed."""
    _drop(stores, user_id)
    return context_version.forget(stores.redis, user_id)
