"""Access statistics of recalled items (last_accessed, access_count), buffered in Redis, written daily.

Writing them into the graph after every remember() put three write statements, and the graph's write
lock, on the path of the next read — and on FalkorDB 4.16 every update of a vector-indexed node leaves an
orphan vector that crowds live nodes out of k-nearest results (see memory_runtime.batch.reindex). So a read
only adds its items to two Redis hashes of the user (last access time, access count), on the store pool
after the read has returned (`record_later`); `flush_all()` moves
everything pending into the graph with one UNWIND statement per label, and the daily `salience_decay` run
calls it first (decay counts days from the last access), before `archived_memories` repairs the vector
indexes. Statistics in the graph therefore lag reads by up to a day; `flush()` writes a user's out on
demand. Pending statistics expire after PENDING_TTL_S without a flush. If Redis is down, the read writes
straight into the graph as before.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import redis

from memory_runtime.domain.models import now, to_ms
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import retrieval as q

log = logging.getLogger(__name__)

PENDING_TTL_S = 7 * 86400
LABELS = ("Turn", "Fact", "Entity")


def _keys(stores: Stores, user_id: str) -> tuple[str, str]:
    k = stores.redis.key
    return k("access", "last", user_id), k("access", "count", user_id)


# KEYS: the user's last-access and access-count hashes; ARGV: the TTL, the access time, then the items. One
# command instead of a pipeline of one HINCRBY per item: packing ~30 commands cost ~2 ms of the process's CPU
# per remember(), on the same cores as the next read.
_RECORD = """
for i = 3, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[2])
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return #ARGV - 2
"""


def record(stores: Stores, user_id: str, batches: dict[str, list[str]]) -> None:
    """Note an access to each item (label → ids) in the user's Redis buffer. Never raises."""
    items = [f"{label}:{i}" for label, ids in batches.items() for i in ids]
    if not items:
        return
    last, count = _keys(stores, user_id)
    stamp = to_ms(now())
    try:
        script = stores.memo.get("access_record_script")
        if script is None:  # EVALSHA, loading the script on the first call (and after a server restart)
            script = stores.memo["access_record_script"] = stores.redis.client.register_script(_RECORD)
        script(keys=[last, count], args=[PENDING_TTL_S, stamp, *items])
    except redis.RedisError as exc:
        log.debug("access buffer unavailable, writing to the graph: %s", exc)
        _submit(stores, lambda: _write(stores, user_id, {i: (stamp, 1) for i in items}))


def record_later(stores: Stores, user_id: str, batches: dict[str, list[str]]) -> None:
    """`record` on the store pool, off the read's path (in line if the pool is shut down). `flush` and
    `flush_all` wait for this process's pending records first, so nothing recorded before a flush misses it."""
    if not any(batches.values()):
        return
    pending: set[Future[None]] = stores.memo.setdefault("access_pending", set())
    try:
        job = stores.executor.submit(record, stores, user_id, batches)
    except RuntimeError:  # executor shut down (stores closing)
        record(stores, user_id, batches)
        return
    pending.add(job)
    job.add_done_callback(pending.discard)


def _await_pending(stores: Stores) -> None:
    for job in list(stores.memo.get("access_pending", ())):
        job.result()


def flush(stores: Stores, user_id: str) -> int:
    """Move the user's pending access statistics into the graph; returns how many items were updated."""
    _await_pending(stores)
    last, count = _keys(stores, user_id)
    pipe = stores.redis.client.pipeline(transaction=True)
    pipe.hgetall(last)
    pipe.hgetall(count)
    pipe.delete(last, count)
    stamps, counts, _ = pipe.execute()
    pending = {(k.decode() if isinstance(k, bytes) else k): (int(v), int(counts.get(k, 1))) for k, v in stamps.items()}
    return _write(stores, user_id, pending)


def flush_all(stores: Stores) -> int:
    """Flush every user's pending access statistics (batch jobs such as salience decay call this first)."""
    _await_pending(stores)
    pattern = stores.redis.key("access", "last", "") + "*"
    prefix = len(pattern) - 1
    total = 0
    for key in stores.redis.client.scan_iter(match=pattern, count=1000):
        escaped = (key.decode() if isinstance(key, bytes) else key)[prefix:]
        total += flush(stores, escaped.replace("%3A", ":").replace("%25", "%"))
    return total


def forget(stores: Stores, user_id: str) -> int:
    """Delete the user's pending access statistics (erasure); returns the number of keys removed."""
    _await_pending(stores)  # a record still in flight would write them again
    return int(stores.redis.client.delete(*_keys(stores, user_id)))


def _write(stores: Stores, user_id: str, pending: dict[str, tuple[int, int]]) -> int:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item, (stamp, n) in pending.items():
        label, _, item_id = item.partition(":")
        if label in LABELS:
            rows[label].append({"id": item_id, "last": stamp, "count": n})
    graph, done = stores.graph, 0
    for label, batch in rows.items():
        try:
            result = graph.write(q.touch(graph.dialect, node_label=label), {"rows": batch, "user_id": user_id})
            done += int(result[0]["touched"]) if result else 0
        except Exception as exc:  # noqa: BLE001 — bookkeeping must never fail a read
            log.debug("access statistics not recorded: %s", exc)
    return done


def _submit(stores: Stores, job: Callable[[], object]) -> None:
    try:
        stores.executor.submit(job)
    except RuntimeError:  # executor shut down (store closing)
        pass
