"""Read-only looks at a Redis Stream's consumer group that `ReflectionQueue` does not offer (for the sensor)."""

from memory_runtime.stores.redis.client import RedisStore


def stale_pending_count(redis: RedisStore, key: str, group: str, idle_ms: int, limit: int = 1000) -> int:
    """Entries delivered in `group` but unacknowledged for at least `idle_ms`; at most `limit` are counted."""
    return len(redis.client.xpending_range(key, group, "-", "+", limit, idle=idle_ms))


def last_entry_id(redis: RedisStore, key: str) -> str | None:
    """Id of the newest entry of the stream `key`, or None when it is empty."""
    newest = redis.client.xrevrange(key, count=1)
    if not newest:
        return None
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
