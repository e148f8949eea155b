"""A per-user version token of the context sections remember() returns (active goals, profile, strategies).

Every write to one of them replaces the token with a fresh random one (`bump`), so a reader that cached
the sections under the token it read sees at once that they changed. Random rather than a counter: erasing
the user deletes the key, and a counter started again would reproduce versions cached before the erasure.
"""

import logging
import uuid

import redis

from memory_runtime.stores.redis.client import RedisStore, as_str

log = logging.getLogger(__name__)

TTL_S = 30 * 86400  # an idle user's token expires; its absence is a version too (None)


def _key(store: RedisStore, user_id: str) -> str:
    return store.key("ctxv", user_id)


def current(store: RedisStore, user_id: str) -> str | None:
    """The user's context version (None before any write); raises redis.RedisError if Redis is down."""
    raw = store.client.get(_key(store, user_id))
    return as_str(raw) if raw else None


def bump(store: RedisStore, user_id: str) -> None:
    """Mark the user's context as changed. Never raises: a lost bump is bounded by the readers' maximum age."""
    try:
        store.client.set(_key(store, user_id), uuid.uuid4().hex, ex=TTL_S)
    except redis.RedisError as exc:
        log.warning("context version of a user not bumped (cached context may lag for a minute): %s", exc)


def forget(store: RedisStore, user_id: str) -> int:
    """Delete the user's version token (erasure); returns the number of keys removed."""
    return int(store.client.delete(_key(store, user_id)))
