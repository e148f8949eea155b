"""The `reflections` asset: consume queued reflection jobs into :Reflection nodes with a heuristic critique.

Delivery is at-least-once, and the asset (not the sensor) is the consumer: `memory_runtime.batch.reflect`
reads the reflection queue through the consumer group `dagster` as consumer `dagster-reflections`, takes over
jobs a crashed run left unacknowledged for `RECLAIM_IDLE_MS`, writes each batch to the graph and Postgres and
acknowledges it only after those writes succeeded. `sensors/reflections.py` only watches the queue and
requests runs.

An LLM critique (when MEMORY_LLM_MODEL is set) is not implemented yet; the run's metadata says so.
"""

from typing import Any

import dagster as dg

from memory_assets._common import GROUP, OWNERS, Timer, Window, markdown_table, materialized, stage, traced
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_runtime.batch import reflect
from resources import MemoryStoreResource

CONSUMER_GROUP = reflect.DEFAULT_GROUP
RECLAIM_IDLE_MS = reflect.RECLAIM_IDLE_MS  # read at run time, so tests can shorten it


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("consolidation"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[episodic_graph],
    kinds={"redis", "graph"},
    description=(
        "Reflection nodes for the jobs queued by AgentMemory.reflect(), each linked to its conversation "
        "(REFLECTS_ON) with a heuristic critique (outcome, tools used and their failures). Consumes the "
        "Redis Stream at least once: jobs are acknowledged only after they are written, and jobs of a "
        "crashed run are reclaimed. The partition is the day the jobs were consumed."
    ),
)
@traced
def reflections(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Drain the reflection queue (reclaimed jobs first), writing and then acknowledging each batch."""
    window, timer = Window.of(context), Timer()
    report = reflect.consume_reflections(
        memory.stores,
        group=CONSUMER_GROUP,
        reclaim_idle_ms=RECLAIM_IDLE_MS,
        on_invalid=lambda n: context.log.warning(f"{n} reflection jobs without user or outcome were dropped"),
    )
    totals = {
        "jobs_read": report.jobs_read,
        "jobs_reclaimed": report.jobs_reclaimed,
        "reflections_written": report.reflections_written,
        "linked_to_conversation": report.linked_to_conversation,
        "invalid_jobs": report.invalid_jobs,
        "acknowledged": report.acknowledged,
    }
    extra: dict[str, Any] = {"pending_after": report.pending_after, "lag_after": report.lag_after}
    if memory.settings.llm_model:
        extra["llm_critique"] = "not implemented: heuristic critique only"
    preview = [
        {"job": j.job, "user": j.user, "conversation": j.conversation, "success": j.success} for j in report.jobs
    ]
    return materialized(
        window,
        timer,
        totals,
        markdown_table(preview, ["job", "user", "conversation", "success"]),
        extra=extra,
    )
