"""The `reflections` asset: consume queued reflection jobs into :Reflection nodes with a heuristic critique.

Delivery is at-least-once, and the asset (not the sensor) is the consumer. It reads the Redis Stream
through the consumer group `dagster` as consumer `dagster-reflections`: first it takes over jobs another
run read but never acknowledged for `RECLAIM_IDLE_MS` (a crashed run), then it reads new jobs, writes
each batch to the graph and Postgres, and acknowledges the batch only after those writes succeeded. A
crash before the acknowledgement leaves the jobs pending and a later run processes them again; that is
harmless because every write is keyed by the job (Reflection id = uuid5 of stream key + entry id, MERGE;
timeline upsert on (reflection, id)). `sensors/reflections.py` only watches the stream and requests runs.

The critique is heuristic: the outcome, the tools used in that conversation (Postgres tool_invocations)
with their call and failure counts, and a one-line lesson. An LLM critique (when MEMORY_LLM_MODEL is set)
is not implemented yet; the run's metadata says so.
"""

import json
import uuid
from collections import defaultdict
from typing import Any

import dagster as dg

from memory_assets import cypher
from memory_assets._common import GROUP, Timer, Window, markdown_table, materialized, utc_from_ms
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_assets.timeline import TimelineEvent, upsert_timeline
from memory_runtime.domain.models import now, to_ms
from memory_runtime.memory.reflection import DEFAULT_GROUP, ReflectionJob, ReflectionQueue
from resources import MemoryStoreResource

CONSUMER_GROUP = DEFAULT_GROUP
CONSUMER = "dagster-reflections"
RECLAIM_IDLE_MS = 5 * 60 * 1000  # a job unacknowledged this long belongs to a crashed run
BATCH = 200
MAX_JOBS_PER_RUN = 10_000  # the sensor requests another run for whatever is left


def reflection_id(queue: ReflectionQueue, job_id: str) -> str:
    """Deterministic Reflection node id of a stream entry."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join(("reflection", queue.key, job_id))))


def critique(success: bool | None, outcome: str, tools: dict[str, tuple[int, int]]) -> str:
    """A heuristic critique from the outcome and the conversation's tool calls {tool: (calls, failed)}."""
    verdict = {True: "Succeeded", False: "Failed", None: "Outcome unknown"}[success]
    said = outcome.strip()
    parts = [f"{verdict}: {said}" + ("" if said.endswith((".", "!", "?")) else ".")]
    if not tools:
        parts.append("No tool calls were recorded in this conversation.")
        return " ".join(parts)
    used = ", ".join(
        f"{name} ({calls} call{'s' if calls != 1 else ''}, {failed} failed)"
        for name, (calls, failed) in sorted(tools.items())
    )
    parts.append(f"Tools used: {used}.")
    failing = sorted((t for t, (_, f) in tools.items() if f), key=lambda t: (-tools[t][1], t))
    if success is False and failing:
        worst = failing[0]
        parts.append(
            f"Most failures came from {worst} ({tools[worst][1]} of {tools[worst][0]} calls failed): "
            f"check its inputs or try another tool first."
        )
    elif success is False:
        parts.append("Every tool call succeeded, so the failure lies in how their results were used.")
    elif failing:
        parts.append(f"It worked despite failed calls of {', '.join(failing)}: retries paid off but cost time.")
    else:
        parts.append("Every tool call succeeded; this tool sequence is worth reusing.")
    return " ".join(parts)


def _tool_usage(memory: MemoryStoreResource, jobs: list[ReflectionJob]) -> dict[tuple[str, str], dict]:
    """{(user_id, conversation_id): {tool: (calls, failed)}} for the jobs' conversations."""
    conversations = sorted({j.conversation_id for j in jobs if j.conversation_id})
    usage: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    if not conversations:
        return usage
    rows = memory.stores.pg.fetch(
        """
        SELECT user_id, conversation_id, tool_name, count(*) AS calls,
               count(*) FILTER (WHERE NOT success) AS failed
          FROM tool_invocations WHERE conversation_id = ANY(%s)
         GROUP BY user_id, conversation_id, tool_name
        """,
        (conversations,),
    )
    for r in rows:
        usage[(r["user_id"], r["conversation_id"])][r["tool_name"]] = (int(r["calls"]), int(r["failed"]))
    return usage


def _process(memory: MemoryStoreResource, queue: ReflectionQueue, jobs: list[ReflectionJob]) -> dict[str, int]:
    """Write one batch of jobs (graph + timeline); returns counts. Acknowledging is the caller's job."""
    valid = [j for j in jobs if j.user_id and j.outcome.strip()]
    usage = _tool_usage(memory, valid)
    rows: list[dict[str, Any]] = []
    events: list[TimelineEvent] = []
    stamp = to_ms(now())
    for j in valid:
        tools = usage.get((j.user_id, j.conversation_id or ""), {})
        text = critique(j.success, j.outcome, tools)
        rid = reflection_id(queue, j.id)
        rows.append(
            {
                "id": rid,
                "job_id": j.id,
                "user_id": j.user_id,
                "conversation_id": j.conversation_id,
                "outcome": j.outcome,
                "success": j.success,
                "critique": text,
                "tools_used": sorted(tools),
                "tool_failures": json.dumps({t: f for t, (_, f) in sorted(tools.items())}),
                "tool_calls": sum(c for c, _ in tools.values()),
                "failed_calls": sum(f for _, f in tools.values()),
                "enqueued_at": j.enqueued_at_ms or stamp,
            }
        )
        events.append(
            TimelineEvent(
                user_id=j.user_id,
                event_type="reflection",
                ref_id=rid,
                conversation_id=j.conversation_id,
                occurred_at=utc_from_ms(j.enqueued_at_ms or stamp),
                summary=text,
                metadata={"success": j.success, "job_id": j.id, "tools": sorted(tools)},
            )
        )
    linked = 0
    if rows:
        graph = memory.stores.graph
        result = graph.write(cypher.write_reflections(graph.dialect), {"rows": rows, "now": stamp})
        linked = int(result[0]["linked"])
        upsert_timeline(memory.stores.pg, events)
    return {"written": len(rows), "linked": linked, "invalid": len(jobs) - len(valid)}


@dg.asset(
    group_name=GROUP,
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
def reflections(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Drain the reflection queue (reclaimed jobs first), writing and then acknowledging each batch."""
    window, timer = Window.of(context), Timer()
    queue = ReflectionQueue(memory.stores.redis)
    queue.ensure_group(CONSUMER_GROUP)
    totals = {"jobs_read": 0, "jobs_reclaimed": 0, "reflections_written": 0, "linked_to_conversation": 0}
    totals |= {"invalid_jobs": 0, "acknowledged": 0}
    preview: list[dict[str, Any]] = []
    for source in ("reclaim", "read"):
        while totals["jobs_read"] < MAX_JOBS_PER_RUN:
            if source == "reclaim":
                jobs = queue.reclaim(CONSUMER_GROUP, CONSUMER, min_idle_ms=RECLAIM_IDLE_MS, count=BATCH)
                totals["jobs_reclaimed"] += len(jobs)
            else:
                jobs = queue.read(CONSUMER_GROUP, CONSUMER, count=BATCH)
            if not jobs:
                break
            totals["jobs_read"] += len(jobs)
            counts = _process(memory, queue, jobs)
            totals["reflections_written"] += counts["written"]
            totals["linked_to_conversation"] += counts["linked"]
            totals["invalid_jobs"] += counts["invalid"]
            if counts["invalid"]:
                context.log.warning(f"{counts['invalid']} reflection jobs without user or outcome were dropped")
            totals["acknowledged"] += queue.ack(CONSUMER_GROUP, [j.id for j in jobs])
            preview += [
                {"job": j.id, "user": j.user_id, "conversation": j.conversation_id, "success": j.success} for j in jobs
            ]
    extra: dict[str, Any] = {
        "pending_after": queue.pending(CONSUMER_GROUP),
        "lag_after": queue.lag(CONSUMER_GROUP),
    }
    if memory.settings.llm_model:
        extra["llm_critique"] = "not implemented: heuristic critique only"
    return materialized(
        window,
        timer,
        totals,
        markdown_table(preview, ["job", "user", "conversation", "success"]),
        extra=extra,
    )
