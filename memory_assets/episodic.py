"""Episodic assets: Postgres turn log `conversation_turns` and the graph projection `episodic_graph`."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from memory_assets import cypher
from memory_assets._common import GROUP, Timer, Window, markdown_table, materialized
from memory_assets.partitions import daily_partitions
from memory_runtime.memory.episodic import reproject
from resources import MemoryStoreResource

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"postgres"},
    description=(
        "The append-only turn log (Postgres conversation_logs), observed per day of turn time: turns, "
        "conversations, users and tool calls of the window. Writes nothing; its data version changes "
        "when turns are added, so downstream partitions show as stale."
    ),
)
def conversation_turns(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Count the turns of the window in the system of record."""
    window, timer = Window.of(context), Timer()
    pg = memory.stores.pg
    params = {"start": window.start, "end": window.end}
    totals = pg.fetch(
        """
        SELECT count(*) AS turns, count(DISTINCT conversation_id) AS conversations,
               count(DISTINCT user_id) AS users, count(*) FILTER (WHERE archived_at IS NOT NULL) AS archived,
               coalesce(max(seq), 0) AS max_seq
          FROM conversation_logs WHERE created_at >= %(start)s AND created_at < %(end)s
        """,
        params,
    )[0]
    tools = pg.fetch(
        "SELECT count(*) AS n FROM tool_invocations WHERE created_at >= %(start)s AND created_at < %(end)s",
        params,
    )[0]["n"]
    per_day = pg.fetch(
        """
        SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS turns,
               count(DISTINCT conversation_id) AS conversations, count(DISTINCT user_id) AS users
          FROM conversation_logs WHERE created_at >= %(start)s AND created_at < %(end)s
         GROUP BY 1 ORDER BY 1
        """,
        params,
    )
    counts = {
        "turns": int(totals["turns"]),
        "conversations": int(totals["conversations"]),
        "users": int(totals["users"]),
        "archived_turns": int(totals["archived"]),
        "tool_invocations": int(tools),
    }
    return materialized(
        window,
        timer,
        counts,
        markdown_table(per_day, ["day", "turns", "conversations", "users"]),
        extra={"max_seq": int(totals["max_seq"])},
        data_version=f"{counts['turns']}@{int(totals['max_seq'])}",
    )


@dg.asset(
    group_name=GROUP,
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
def episodic_graph(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Re-project the window's turns the graph is missing (memory_runtime.memory.episodic.reproject)."""
    window, timer = Window.of(context), Timer()
    stores = memory.stores
    report = reproject(
        stores,
        since=window.start,
        until=window.end,
        progress=lambda n: context.log.debug(f"checked {n} more turns"),
    )
    if report.projected:
        context.log.info(f"re-projected {report.projected} of {report.checked} turns missing from the graph")
    pg_days = {
        r["day"]: int(r["turns"])
        for r in stores.pg.fetch(
            """
            SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS turns
              FROM conversation_logs
             WHERE created_at >= %s AND created_at < %s AND archived_at IS NULL GROUP BY 1
            """,
            (window.start, window.end),
        )
    }
    graph = stores.graph
    graph_days = {
        (_EPOCH + timedelta(days=int(r["day"]))).strftime("%Y-%m-%d"): int(r["turns"])
        for r in graph.read(cypher.turns_per_day(graph.dialect), {"start": window.start_ms, "end": window.end_ms})
    }
    days = sorted(set(pg_days) | set(graph_days))
    rows = [{"day": d, "postgres_turns": pg_days.get(d, 0), "graph_turns": graph_days.get(d, 0)} for d in days]
    counts = {
        "turns_checked": report.checked,
        "turns_reprojected": report.projected,
        "graph_turns": sum(graph_days.values()),
        "postgres_turns": sum(pg_days.values()),
    }
    return materialized(window, timer, counts, markdown_table(rows, ["day", "postgres_turns", "graph_turns"]))
