"""forget_user: erase one user from PostgreSQL, the graph and Redis, and report what was removed.

Postgres (the source of truth) goes first in one transaction, so a later re-projection can never bring
the user back; the graph and Redis follow. Every step deletes by user_id, so a run interrupted by an
outage is finished by calling forget_user again.
"""

from memory_runtime.domain.vocabulary import NODE_LABELS
from memory_runtime.memory import context_cache
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import erasure as q
from memory_runtime.stores.postgres import erasure as pg_erasure

_BATCH = 5000


def forget_user(stores: Stores, user_id: str) -> dict[str, int]:
    """Delete every row, node and key of `user_id`; returns counts keyed `store.kind`."""
    from memory_runtime.memory.reflection import forget_user as forget_reflections
    from memory_runtime.memory.working import forget_user as forget_working
    from memory_runtime.retrieval.access import forget as forget_access

    counts = {f"postgres.{table}": n for table, n in pg_erasure.delete_user_rows(stores.pg, user_id).items()}
    graph = stores.graph
    for node_label in NODE_LABELS:
        statement = q.delete_user_nodes(graph.dialect, node_label=node_label)
        total = 0
        while True:
            deleted = graph.write(statement, {"user_id": user_id, "batch": _BATCH})[0]["deleted"]
            total += deleted
            if deleted < _BATCH:
                break
        counts[f"graph.{node_label}"] = total
    redis = stores.redis
    counts["redis.working_memory"] = forget_working(redis, user_id)
    counts["redis.reflection_jobs"] = forget_reflections(redis, user_id)
    counts["redis.access_stats"] = forget_access(stores, user_id)
    counts["redis.context_version"] = context_cache.forget(stores, user_id)
    counts["redis.rate_limits"] = int(
        redis.client.delete(redis.key("rl", "write", user_id), redis.key("rl", "read", user_id))
    )
    return counts


def remaining(stores: Stores, user_id: str) -> dict[str, int]:
    """What is left of `user_id` in Postgres and the graph (0 everywhere after forget_user)."""
    out = {f"postgres.{table}": n for table, n in pg_erasure.count_user_rows(stores.pg, user_id).items()}
    out["graph.nodes"] = stores.graph.read(q.count_user_nodes(stores.graph.dialect), {"user_id": user_id})[0]["n"]
    return out
