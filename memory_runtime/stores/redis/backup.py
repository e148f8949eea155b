"""Backup and restore of the Redis state that is not a cache: working memory, job streams, pending access stats.

Keys are saved with DUMP (the server's own serialisation, consumer groups of streams included) and their
remaining time to live, relative to the prefix, so a backup restores under another prefix too. Caches
(embeddings, BM25 statistics) and rate-limit buckets are left out: they rebuild themselves.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from memory_runtime.stores.redis.client import RedisStore, as_str

# Key families (the first part after the prefix) a backup keeps.
FAMILIES = ("wm", "stream", "access")
_REGISTRY_SUFFIX = ":keys"  # `wm:<user>:keys`: the set of a user's working-memory keys, full names (with the prefix)
_BATCH = 500


@dataclass(frozen=True)
class SavedKey:
    """One key: its name after the prefix, its remaining TTL in ms (0 = none) and its DUMP payload."""

    name: str
    ttl_ms: int
    payload: bytes


def _names(redis: RedisStore) -> Iterator[str]:
    for family in FAMILIES:
        for key in redis.client.scan_iter(match=redis.key(family) + ":*", count=1000):
            yield as_str(key)


def key_count(redis: RedisStore) -> int:
    """Keys of the saved families under this prefix."""
    return sum(1 for _ in _names(redis))


def dump_keys(redis: RedisStore) -> Iterator[SavedKey]:
    """Every key of the saved families under this prefix, in batches of DUMP + PTTL."""
    start = len(redis.prefix) + 1
    names = list(_names(redis))
    for i in range(0, len(names), _BATCH):
        chunk = names[i : i + _BATCH]
        pipe = redis.client.pipeline(transaction=False)
        for name in chunk:
            pipe.dump(name)
            pipe.pttl(name)
        replies = pipe.execute()
        for j, name in enumerate(chunk):
            payload, ttl = cast(bytes | None, replies[2 * j]), int(replies[2 * j + 1])
            if payload is None or ttl == -2:
                continue  # expired or deleted since the scan
            yield SavedKey(name[start:], max(ttl, 0), payload)


def restore_keys(redis: RedisStore, keys: Iterable[SavedKey], *, source_prefix: str) -> int:
    """RESTORE the keys under this prefix (replacing existing ones); returns how many were restored.

    The working-memory registries hold full key names: under another prefix their members are renamed.
    """
    restored = 0
    batch: list[SavedKey] = []

    def flush() -> None:
        nonlocal restored
        pipe = redis.client.pipeline(transaction=False)
        for k in batch:
            pipe.restore(f"{redis.prefix}:{k.name}", k.ttl_ms, k.payload, replace=True)
        pipe.execute()
        restored += len(batch)
        batch.clear()

    registries = []
    for k in keys:
        batch.append(k)
        if k.name.startswith("wm:") and k.name.endswith(_REGISTRY_SUFFIX):
            registries.append(f"{redis.prefix}:{k.name}")
        if len(batch) >= _BATCH:
            flush()
    if batch:
        flush()
    if source_prefix != redis.prefix:
        for registry in registries:
            _rename_members(redis, registry, source_prefix)
    return restored


def _rename_members(redis: RedisStore, registry: str, source_prefix: str) -> None:
    old = source_prefix + ":"
    members = [as_str(m) for m in cast(set[bytes], redis.client.smembers(registry))]
    renamed = [f"{redis.prefix}:{m[len(old) :]}" if m.startswith(old) else m for m in members]
    ttl = int(redis.client.pttl(registry))
    pipe = redis.client.pipeline(transaction=True)
    pipe.delete(registry)
    if renamed:
        pipe.sadd(registry, *renamed)
        if ttl > 0:
            pipe.pexpire(registry, ttl)
    pipe.execute()


def delete_keys(redis: RedisStore) -> int:
    """Delete every key of the saved families under this prefix (a forced restore); returns how many."""
    names = list(_names(redis))
    deleted = 0
    for i in range(0, len(names), _BATCH):
        deleted += int(redis.client.delete(*names[i : i + _BATCH]))
    return deleted
