"""Episodic assets: Postgres turn log `conversation_turns` and the graph projection `episodic_graph`."""

from dataclasses import asdict

import dagster as dg

from memory_assets._common import GROUP, OWNERS, Timer, Window, markdown_table, materialized, stage, traced
from memory_assets.partitions import daily_partitions
from memory_runtime.batch import projection, turn_log
from resources import MemoryStoreResource


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("ingest"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"postgres"},
    description=(
        "The append-only turn log (Postgres conversation_logs), observed per day of turn time: turns, "
        "conversations, users and tool calls of the window. Writes nothing; its data version changes "
        "when turns are added, so downstream partitions show as stale."
    ),
)
@traced
def conversation_turns(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Count the turns of the window in the system of record (memory_runtime.batch.turn_log)."""
    window, timer = Window.of(context), Timer()
    report = turn_log.observe_window(memory.stores, window.start, window.end)
    counts = {
        "turns": report.turns,
        "conversations": report.conversations,
        "users": report.users,
        "archived_turns": report.archived_turns,
        "tool_invocations": report.tool_invocations,
    }
    return materialized(
        window,
        timer,
        counts,
        markdown_table(report.per_day, ["day", "turns", "conversations", "users"]),
        extra={"max_seq": report.max_seq},
        data_version=report.data_version,
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("ingest"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[conversation_turns],
    kinds={"postgres", "graph"},
    description=(
        "Conversation and Turn nodes in the graph for every unarchived turn of the window. Agents project "
        "turns as they store them; this re-projects any turn whose projection failed (Postgres is the "
        "source of truth), so after it runs the graph holds every turn of the window."
    ),
)
@traced
def episodic_graph(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Re-project the window's turns the graph is missing (memory_runtime.batch.projection)."""
    window, timer = Window.of(context), Timer()
    report = projection.project_window(
        memory.stores, window.start, window.end, progress=lambda n: context.log.debug(f"checked {n} more turns")
    )
    if report.projected:
        context.log.info(f"re-projected {report.projected} of {report.checked} turns missing from the graph")
    counts = {
        "turns_checked": report.checked,
        "turns_reprojected": report.projected,
        "graph_turns": report.graph_turns,
        "postgres_turns": report.postgres_turns,
    }
    rows = [asdict(d) for d in report.days]
    return materialized(window, timer, counts, markdown_table(rows, ["day", "postgres_turns", "graph_turns"]))
