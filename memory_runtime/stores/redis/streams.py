"""Typed reads of Redis Streams: pages of entries, and looks at a consumer group that `ReflectionQueue` does not
offer (for the sensor)."""

from typing import TypeAlias, cast

from memory_runtime.stores.redis.client import RedisStore

# An entry id and its fields, undecoded (the client returns bytes; redis-py types them bytes | str | None).
StreamEntry: TypeAlias = tuple[bytes, dict[bytes, bytes]]


def stream_page(redis: RedisStore, key: str, start: str, count: int) -> list[StreamEntry]:
    """Up to `count` entries of the stream `key` from `start` ('-', an id, or '(' + id to exclude it) on."""
    return cast(list[StreamEntry], redis.client.xrange(key, min=start, max="+", count=count))


def stale_pending_count(redis: RedisStore, key: str, group: str, idle_ms: int, limit: int = 1000) -> int:
    """Entries delivered in `group` but unacknowledged for at least `idle_ms`; at most `limit` are counted."""
    return len(redis.client.xpending_range(key, group, "-", "+", limit, idle=idle_ms))


def last_entry_id(redis: RedisStore, key: str) -> str | None:
    """Id of the newest entry of the stream `key`, or None when it is empty."""
    newest = cast(list[StreamEntry], redis.client.xrevrange(key, count=1))
    if not newest:
        return None
    return newest[0][0].decode()
