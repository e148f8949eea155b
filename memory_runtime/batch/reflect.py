"""Reflection jobs consumed into :Reflection nodes with a heuristic critique (the `reflections` asset).

Delivery is at-least-once, through `ReflectionQueue` and its consumer group: `consume_reflections` first
takes over jobs another consumer read but never acknowledged for `reclaim_idle_ms` (a crashed run), then
reads new jobs, writes each batch to the graph and the timeline, and acknowledges the batch only after
those writes succeeded. A crash before the acknowledgement leaves the jobs pending and a later run
processes them again; that is harmless because every write is keyed by the job (Reflection id = uuid5 of
stream key + entry id, MERGE; timeline upsert on (reflection, id)). `backlog` is what a sensor looks at
to decide whether a run is needed; it reads nothing off the queue.

The critique is heuristic: the outcome, the tools used in that conversation (Postgres tool_invocations)
with their call and failure counts, and a one-line lesson.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memory_runtime.batch.timeline import TimelineEvent, upsert_timeline, utc_from_ms
from memory_runtime.domain.models import now, to_ms
from memory_runtime.memory.reflection import DEFAULT_GROUP, ReflectionJob, ReflectionQueue
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import reflections as q
from memory_runtime.stores.postgres import tools as pg_tools
from memory_runtime.stores.redis import streams

__all__ = ["DEFAULT_GROUP", "backlog", "consume_reflections", "critique", "reflection_id"]

CONSUMER = "dagster-reflections"
RECLAIM_IDLE_MS = 5 * 60 * 1000  # a job unacknowledged this long belongs to a crashed run
BATCH = 200
MAX_JOBS_PER_RUN = 10_000  # a later run takes whatever is left


@dataclass(frozen=True)
class JobSummary:
    """One consumed job, for a preview."""

    job: str
    user: str
    conversation: str | None
    success: bool | None


@dataclass
class ReflectionReport:
    """What a consuming run did, and the queue's state afterwards."""

    jobs_read: int = 0
    jobs_reclaimed: int = 0
    reflections_written: int = 0
    linked_to_conversation: int = 0
    invalid_jobs: int = 0
    acknowledged: int = 0
    pending_after: int = 0
    lag_after: int = 0
    jobs: list[JobSummary] = field(default_factory=list)


@dataclass(frozen=True)
class ReflectionBacklog:
    """Jobs waiting for a consumer group: undelivered (lag), stale pending, and the newest entry id."""

    lag: int
    stale: int
    newest: str | None

    @property
    def waiting(self) -> bool:
        """Whether a run has work: an entry exists and some job is undelivered or stale."""
        return self.newest is not None and (self.lag > 0 or self.stale > 0)


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


def tool_usage(stores: Stores, jobs: list[ReflectionJob]) -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
    """{(user_id, conversation_id): {tool: (calls, failed)}} for the jobs' conversations."""
    conversations = sorted({j.conversation_id for j in jobs if j.conversation_id})
    usage: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    if not conversations:
        return usage
    for r in pg_tools.tool_calls_per_conversation(stores.pg, conversations):
        usage[(r["user_id"], r["conversation_id"])][r["tool_name"]] = (int(r["calls"]), int(r["failed"]))
    return usage


def write_reflections(stores: Stores, queue: ReflectionQueue, jobs: list[ReflectionJob]) -> dict[str, int]:
    """Write one batch of jobs (graph + timeline); returns counts written / linked / invalid. Does not ack."""
    valid = [j for j in jobs if j.user_id and j.outcome.strip()]
    usage = tool_usage(stores, valid)
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
        graph = stores.graph
        result = graph.write(q.write_reflections(graph.dialect), {"rows": rows, "now": stamp})
        linked = int(result[0]["linked"])
        upsert_timeline(stores.pg, events)
    return {"written": len(rows), "linked": linked, "invalid": len(jobs) - len(valid)}


def consume_reflections(
    stores: Stores,
    *,
    group: str = DEFAULT_GROUP,
    consumer: str = CONSUMER,
    reclaim_idle_ms: int = RECLAIM_IDLE_MS,
    batch: int = BATCH,
    max_jobs: int = MAX_JOBS_PER_RUN,
    on_invalid: Callable[[int], None] | None = None,
) -> ReflectionReport:
    """Drain the reflection queue (reclaimed jobs first), writing and then acknowledging each batch.

    `on_invalid(n)` hears about each batch that had n jobs without a user or an outcome (dropped, but
    acknowledged).
    """
    queue = ReflectionQueue(stores.redis)
    queue.ensure_group(group)
    report = ReflectionReport()
    for source in ("reclaim", "read"):
        while report.jobs_read < max_jobs:
            if source == "reclaim":
                jobs = queue.reclaim(group, consumer, min_idle_ms=reclaim_idle_ms, count=batch)
                report.jobs_reclaimed += len(jobs)
            else:
                jobs = queue.read(group, consumer, count=batch)
            if not jobs:
                break
            report.jobs_read += len(jobs)
            counts = write_reflections(stores, queue, jobs)
            report.reflections_written += counts["written"]
            report.linked_to_conversation += counts["linked"]
            report.invalid_jobs += counts["invalid"]
            if counts["invalid"] and on_invalid is not None:
                on_invalid(counts["invalid"])
            report.acknowledged += queue.ack(group, [j.id for j in jobs])
            report.jobs += [JobSummary(j.id, j.user_id, j.conversation_id, j.success) for j in jobs]
    report.pending_after = queue.pending(group)
    report.lag_after = queue.lag(group)
    return report


def backlog(stores: Stores, group: str = DEFAULT_GROUP, stale_idle_ms: int = RECLAIM_IDLE_MS) -> ReflectionBacklog:
    """The jobs waiting for `group` (creating it if missing): lag, pending unacknowledged for at least
    `stale_idle_ms` (at most 1000 counted), and the newest entry id."""
    queue = ReflectionQueue(stores.redis)
    queue.ensure_group(group)
    lag = queue.lag(group)
    stale = streams.stale_pending_count(stores.redis, queue.key, group, stale_idle_ms)
    return ReflectionBacklog(lag, stale, streams.last_entry_id(stores.redis, queue.key))
