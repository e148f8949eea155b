"""Side jobs that derive no asset but rewrite stored memory, launched by hand from the UI or the CLI.

`reembed_job` recomputes every stored vector with the configured embedder (`memory_runtime.batch.reembed`: after the
embedder changed, resumable, then the recorded model id moves). `reindex_job` rebuilds the graph vector indexes that
orphaned vectors have degraded (`memory_runtime.batch.reindex`), and with `compact` the Neo4j indexes that single-
transaction writes have split into many segments (weekly, `weekly_vector_compaction_schedule`). Both are ops, not
assets (docs/notes/dagster_style.md: ops for imperative jobs that produce no data asset), so their runs, logs and
timings show in the UI like every consolidation run. The CLI commands `agent-memory reembed` / `reindex` do the same
in the foreground.
"""

import time

import dagster as dg
from pydantic import Field

from memory_assets._common import traced
from memory_assets.jobs import STAGE_TAG
from memory_runtime.batch import reembed
from memory_runtime.batch import reindex as maintenance
from resources import MemoryStoreResource

LOG_EVERY_S = 5.0


class ReembedConfig(dg.Config):
    """What to re-embed."""

    user_id: str | None = Field(None, description="Only this user's vectors (the recorded model stays).")
    batch_size: int = Field(reembed.DEFAULT_BATCH_SIZE, description="Vectors per embed() call and write.")


@dg.op(description="Recompute every stored vector with the configured embedder, then record it (resumable).")
@traced
def reembed_vectors(context: dg.OpExecutionContext, config: ReembedConfig, memory: MemoryStoreResource) -> None:
    """Run `reembed`, logging the plan, progress every few seconds, and the report."""
    stores = memory.stores
    plan = reembed.plan(stores, user_id=config.user_id)
    context.log.info(plan.render())
    if plan.nothing_to_do:
        return
    done, last = 0, time.monotonic()

    def progress(kind: str, n: int) -> None:
        nonlocal done, last
        done += n
        if time.monotonic() - last >= LOG_EVERY_S:
            context.log.info(f"re-embedded {done:,}/{plan.total:,} vectors (now: {kind})")
            last = time.monotonic()

    report = reembed.reembed(stores, user_id=config.user_id, batch_size=config.batch_size, progress=progress)
    context.log.info(report.render())


class ReindexConfig(dg.Config):
    """Which vector indexes to rebuild."""

    threshold: float = Field(maintenance.DEFAULT_THRESHOLD, description="Rebuild indexes below this health.")
    force: bool = Field(False, description="Rebuild every vector index.")
    compact: bool = Field(
        False, description="Also rebuild the large Neo4j vector indexes into few Lucene segments (faster queries)."
    )


@dg.op(description="Measure every graph vector index and rebuild those whose probes return too few live nodes.")
@traced
def reindex_vectors(context: dg.OpExecutionContext, config: ReindexConfig, memory: MemoryStoreResource) -> None:
    """Run `repair_vector_indexes`, logging each index's health before and after."""
    indexes = maintenance.repair_vector_indexes(
        memory.stores, config.threshold, force=config.force, compact=config.compact, progress=context.log.info
    )
    for index in indexes:
        after = "" if index.health_after is None else f" -> {index.health_after:.3f} ({index.seconds:.1f} s)"
        context.log.info(f":{index.label} {index.vectors:,} vectors, health {index.health:.3f}{after}")


@dg.job(tags={STAGE_TAG: "upkeep"}, description="Re-embed every stored vector after the embedder changed.")
def reembed_job() -> None:
    reembed_vectors()


@dg.job(tags={STAGE_TAG: "upkeep"}, description="Rebuild degraded graph vector indexes.")
def reindex_job() -> None:
    reindex_vectors()


UPKEEP_JOBS = [reembed_job, reindex_job]
