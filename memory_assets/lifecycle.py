"""Lifecycle assets: salience decay and archival, computed "as of" the end of their window (never the future).

Both are idempotent for a window: decay counts only the time since a node was last decayed or accessed,
so re-running the same day changes nothing; archival selects only what is not archived yet.
"""

from datetime import timedelta
from typing import Any

import dagster as dg

from memory_assets import cypher
from memory_assets._common import GROUP, Timer, Window, markdown_table, materialized
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_runtime.batch import reindex as maintenance
from memory_runtime.domain.models import now, to_ms
from memory_runtime.retrieval import access
from resources import MemoryStoreResource

BATCH = 5000


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[episodic_graph, "semantic_memory"],
    kinds={"graph", "postgres"},
    description=(
        "Salience of Turn, Entity and Fact nodes decayed through the end of the window: multiplied by "
        "(1 - decay_rate) ^ days since the node was last accessed or last decayed (fractional days), "
        "clamped to [0, 1]; Turn salience is mirrored into Postgres conversation_logs.salience. Nodes "
        "without a salience are left alone. `decayed_at` on each node makes re-runs change nothing."
    ),
)
def salience_decay(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Decay every node not yet decayed through the window's end; mirror Turn salience to Postgres."""
    window, timer = Window.of(context), Timer()
    stores = memory.stores
    graph = stores.graph
    rate = memory.settings.decay_rate
    as_of = to_ms(window.as_of())
    flushed = access.flush_all(stores)  # buffered last_accessed stamps must be in the graph before decaying
    stats: dict[str, dict[str, Any]] = {}
    pg_updated = 0
    for node_label in cypher.DECAY_LABELS:
        statement = cypher.decay_batch(graph.dialect, node_label)
        n, before, after = 0, 0.0, 0.0
        while True:
            rows = graph.write(statement, {"as_of": as_of, "keep": 1.0 - rate, "batch": BATCH})
            n += len(rows)
            before += sum(float(r["before"]) for r in rows)
            after += sum(float(r["salience"]) for r in rows)
            if node_label == "Turn" and rows:
                with stores.pg.connection() as conn:
                    pg_updated += conn.execute(
                        """
                        UPDATE conversation_logs AS l SET salience = x.s
                          FROM unnest(%s::uuid[], %s::real[]) AS x(id, s)
                         WHERE l.id = x.id AND l.salience IS DISTINCT FROM x.s
                        """,
                        ([r["id"] for r in rows], [float(r["salience"]) for r in rows]),
                    ).rowcount
            if len(rows) < BATCH:
                break
        stats[node_label] = {
            "label": node_label,
            "decayed": n,
            "mean_before": before / n if n else None,
            "mean_after": after / n if n else None,
        }
    plural = {"Turn": "turns", "Entity": "entities", "Fact": "facts"}
    counts = {f"{plural[lbl]}_decayed": s["decayed"] for lbl, s in stats.items()}
    counts["postgres_turns_updated"] = pg_updated
    counts["access_stats_flushed"] = flushed
    return materialized(
        window,
        timer,
        counts,
        markdown_table(list(stats.values()), ["label", "decayed", "mean_before", "mean_after"]),
        extra={"decay_rate": float(rate), "as_of": window.as_of().isoformat()},
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[salience_decay],
    kinds={"postgres", "graph"},
    description=(
        "Turns said more than retention_days before the end of the window are archived: archived_at is set "
        "in Postgres (the rows stay there and enter the cold-tier HNSW index), and their graph Turn nodes lose "
        "their embedding (leaving the vector index) and get archived = true. Entities whose salience fell "
        "below archive_min_salience and that no fact is ABOUT and no turn MENTIONS are deleted. Then every "
        "vector index whose k-nearest probes return under 90% live nodes is rebuilt (FalkorDB 4.16 leaves the "
        "old vector of an updated or deleted node behind; see memory_runtime.batch.reindex)."
    ),
)
def archived_memories(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Archive old turns in Postgres and the graph, and delete low-salience orphan entities."""
    window, timer = Window.of(context), Timer()
    stores = memory.stores
    graph = stores.graph
    settings = memory.settings
    cutoff = window.as_of() - timedelta(days=settings.retention_days)
    pg_archived = 0
    while True:
        with stores.pg.connection() as conn:
            done = conn.execute(
                """
                UPDATE conversation_logs SET archived_at = now()
                 WHERE id IN (SELECT id FROM conversation_logs
                               WHERE created_at < %s AND archived_at IS NULL LIMIT %s)
                """,
                (cutoff, BATCH),
            ).rowcount
        pg_archived += done
        if done < BATCH:
            break
    graph_archived = _drain(graph, cypher.archive_turn_batch(graph.dialect), "archived",
                            {"cutoff": to_ms(cutoff), "now": to_ms(now())})  # fmt: skip
    entities_deleted = _drain(
        graph,
        cypher.delete_orphan_entity_batch(graph.dialect),
        "deleted",
        {"min_salience": float(settings.archive_min_salience)},
    )
    # Decay and archival updated (and deleted) vector-indexed nodes, which on FalkorDB leaves orphan vectors
    # crowding live ones out of nearest-neighbour results: rebuild the indexes that lost too many.
    indexes = maintenance.repair_vector_indexes(stores, progress=context.log.info)
    counts = {
        "postgres_turns_archived": pg_archived,
        "graph_turns_archived": graph_archived,
        "orphan_entities_deleted": entities_deleted,
        "vector_indexes_rebuilt": sum(i.rebuilt for i in indexes),
    }
    rows = [{"step": k, "count": v} for k, v in counts.items()]
    health = [
        {"index": i.label, "vectors": i.vectors, "health": round(i.health, 3),
         "after": "" if i.health_after is None else round(i.health_after, 3), "rebuild_s": i.seconds}
        for i in indexes
    ]  # fmt: skip
    return materialized(
        window,
        timer,
        counts,
        markdown_table(rows, ["step", "count"])
        + "\n\nVector index health (share of live nodes a k-nearest probe returns):\n\n"
        + markdown_table(health, ["index", "vectors", "health", "after", "rebuild_s"]),
        extra={
            "cutoff": cutoff.isoformat(),
            "retention_days": settings.retention_days,
            "archive_min_salience": float(settings.archive_min_salience),
            "min_vector_index_health": min((i.current for i in indexes), default=1.0),
        },
    )


def _drain(graph: Any, statement: str, column: str, params: dict[str, Any]) -> int:
    """Run a batched write until a batch comes back short; returns the total of `column`."""
    total = 0
    while True:
        done = int(graph.write(statement, {**params, "batch": BATCH})[0][column])
        total += done
        if done < BATCH:
            return total
