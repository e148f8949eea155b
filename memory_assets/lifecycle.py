"""Lifecycle assets: salience decay and archival, computed "as of" the end of their window (never the future).

Both are idempotent for a window: decay counts only the time since a node was last decayed or accessed,
so re-running the same day changes nothing; archival selects only what is not archived yet
(memory_runtime.batch.decay, memory_runtime.batch.archive).
"""

from dataclasses import asdict

import dagster as dg

from memory_assets._common import GROUP, OWNERS, Timer, Window, markdown_table, materialized, stage, traced
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_runtime.batch import archive, decay
from resources import MemoryStoreResource


def salience_distribution(labels: list[decay.LabelDecay]) -> str:
    """How many decayed nodes of each label had a salience in each tenth of [0, 1], before and after."""
    bins = decay.HISTOGRAM_BINS
    rows = [
        {"salience": f"{i / bins:.1f}–{(i + 1) / bins:.1f}"}
        | {f"{s.label} before": s.histogram_before[i] for s in labels}
        | {f"{s.label} after": s.histogram_after[i] for s in labels}
        for i in range(bins)
    ]
    columns = ["salience"] + [f"{s.label} {when}" for s in labels for when in ("before", "after")]
    return markdown_table(rows, columns, bins)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("lifecycle"),
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
@traced
def salience_decay(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Decay every node not yet decayed through the window's end; mirror Turn salience to Postgres."""
    window, timer = Window.of(context), Timer()
    rate = memory.settings.decay_rate
    report = decay.decay_salience(memory.stores, window.as_of(), rate)
    counts = {f"{decay.PLURAL[s.label]}_decayed": s.decayed for s in report.labels}
    counts["postgres_turns_updated"] = report.postgres_turns_updated
    counts["access_stats_flushed"] = report.access_stats_flushed
    histogram = {s.label: {"before": s.histogram_before, "after": s.histogram_after} for s in report.labels}
    return materialized(
        window,
        timer,
        counts,
        markdown_table([asdict(s) for s in report.labels], ["label", "decayed", "mean_before", "mean_after"]),
        extra={
            "decay_rate": float(rate),
            "as_of": window.as_of().isoformat(),
            "salience_histogram": dg.MetadataValue.json(histogram),
        },
        markdown={"salience_distribution": salience_distribution(report.labels)},
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("lifecycle"),
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
@traced
def archived_memories(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Archive old turns in Postgres and the graph, and delete low-salience orphan entities."""
    window, timer = Window.of(context), Timer()
    settings = memory.settings
    report = archive.archive(
        memory.stores,
        window.as_of(),
        settings.retention_days,
        settings.archive_min_salience,
        progress=context.log.info,
    )
    counts = {
        "postgres_turns_archived": report.postgres_turns_archived,
        "graph_turns_archived": report.graph_turns_archived,
        "orphan_entities_deleted": report.orphan_entities_deleted,
        "vector_indexes_rebuilt": report.vector_indexes_rebuilt,
    }
    rows = [{"step": k, "count": v} for k, v in counts.items()]
    health = [
        {"index": i.label, "vectors": i.vectors, "health": round(i.health, 3),
         "after": "" if i.health_after is None else round(i.health_after, 3), "rebuild_s": i.seconds}
        for i in report.indexes
    ]  # fmt: skip
    return materialized(
        window,
        timer,
        counts,
        markdown_table(rows, ["step", "count"])
        + "\n\nVector index health (share of live nodes a k-nearest probe returns):\n\n"
        + markdown_table(health, ["index", "vectors", "health", "after", "rebuild_s"]),
        extra={
            "cutoff": report.cutoff.isoformat(),
            "retention_days": settings.retention_days,
            "archive_min_salience": float(settings.archive_min_salience),
            "min_vector_index_health": report.min_vector_index_health,
        },
    )
