"""Consolidation assets: semantic memory, mined strategies, the timeline and user profiles.

Each asset reads its partition window (one day, or a whole single-run backfill range), calls one
`memory_runtime.batch` function and reports its counts. Every batch function is idempotent for its window:
writes are MERGEs / upserts keyed by deterministic ids, and derived totals are recomputed from the system of
record instead of incremented.
"""

import dagster as dg

from memory_assets._common import (
    GROUP,
    OWNERS,
    Timer,
    Window,
    counts_table,
    markdown_table,
    materialized,
    most_changed_users,
    stage,
    traced,
)
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_assets.quality import quality_table
from memory_runtime.batch import consolidate, patterns, profiles, timeline
from memory_runtime.batch.patterns import MIN_SUPPORT
from resources import MemoryStoreResource

# What consolidation did, as the run page names it (keys of consolidate.COUNT_KEYS).
CHANGES = (
    ("facts_created", "facts added"),
    ("facts_invalidated", "facts invalidated (superseded by a newer one)"),
    ("facts_reinforced", "facts merged into an existing one (reinforced)"),
    ("entities_created", "entities added"),
    ("entities_merged", "entities merged (alias or near-duplicate)"),
    ("relations", "relations between entities"),
)
CHANGED_COLUMNS = [key for key, _ in CHANGES]

# The extractor version with the environment's settings, read when the code location loads (code version).
extractor_version = consolidate.configured_extractor_version

# ---- semantic memory --------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("consolidation"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[episodic_graph],
    code_version=extractor_version(),
    kinds={"graph", "spacy"},
    description=(
        "Entities, facts and entity relations extracted from the window's turns (spaCy NER + dependency "
        "rules, an LLM when configured), each fact linked to its source turns (DERIVED_FROM). The code "
        "version is the extractor version, so changing the extractor marks every partition stale and a "
        "backfill re-derives them."
    ),
)
@traced
def semantic_memory(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Consolidate the partition window (memory_runtime.batch.consolidate)."""
    window, timer = Window.of(context), Timer()
    report = consolidate.consolidate_semantic_memory(
        memory.stores,
        window.start,
        window.end,
        progress=lambda n: context.log.debug(f"extracted {n} more turns"),
        log_message=context.log.info,
    )
    counts = {**report.counts, "vector_indexes_rebuilt": report.vector_indexes_rebuilt}
    numeric = {k: v for k, v in counts.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    extra = {k: v for k, v in counts.items() if k not in numeric}
    extra["extractor_version"] = report.extractor_version
    extra["users_changed"] = len(report.by_user)
    changes = [{"change": label, "count": report.counts.get(key, 0)} for key, label in CHANGES]
    return materialized(
        window,
        timer,
        numeric,
        counts_table(counts),
        extra=extra,
        markdown={
            "changes": markdown_table(changes, ["change", "count"], len(changes)),
            "most_changed_users": most_changed_users(report.by_user, CHANGED_COLUMNS),
            "quality_checks": quality_table(memory),
        },
    )


# ---- procedural strategies --------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("consolidation"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[episodic_graph],
    kinds={"postgres", "graph"},
    description=(
        "Strategies mined from tool use: for every user who called tools in the window, each tool "
        f"sequence shared by at least {MIN_SUPPORT} conversations of a task type becomes a Strategy "
        "(source 'mined') with success/failure counts recomputed from tool_invocations, linked to its "
        "TaskType (FOR_TASK) and Tools (USED_TOOL). what_worked_for() ranks them with the rest."
    ),
)
@traced
def procedural_strategies(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Recompute mined strategies of the users active in the window (memory_runtime.batch.patterns)."""
    window, timer = Window.of(context), Timer()
    report = patterns.mine_strategies(memory.stores, window.start, window.end)
    counts = {
        "users": report.users,
        "strategies": report.strategies,
        "strategies_changed": report.changed,
        "successes": report.successes,
        "failures": report.failures,
    }
    preview = [
        {"user": m.user_id, "task_type": m.task_type, "tools": m.tool_sequence, "ok": m.successes, "failed": m.failures}
        for m in report.mined
    ]
    return materialized(window, timer, counts, markdown_table(preview, ["user", "task_type", "tools", "ok", "failed"]))


# ---- memory timeline --------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("consolidation"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[episodic_graph, "semantic_memory"],
    kinds={"postgres"},
    description=(
        "Postgres memory_timeline rows for the window: one 'episode' per conversation and day "
        "(ref_id '<conversation>@<day>'), one 'fact' per fact learnt or becoming valid in the window, one "
        "'entity' per entity first learnt in it. Upserted on (event_type, ref_id); unchanged rows are "
        "left alone."
    ),
)
@traced
def memory_timeline(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Upsert the window's episodes, facts and entities into memory_timeline (memory_runtime.batch.timeline)."""
    window, timer = Window.of(context), Timer()
    report = timeline.build_timeline(memory.stores, window.start, window.end)
    counts = {
        "episodes": report.episodes,
        "facts": report.facts,
        "entities": report.entities,
        "rows_inserted": report.inserted,
        "rows_updated": report.updated,
        "rows_unchanged": report.unchanged,
    }
    preview = [
        {"type": e.event_type, "user": e.user_id, "occurred_at": e.occurred_at, "summary": e.summary}
        for e in sorted(report.events, key=lambda e: e.occurred_at)
    ]
    return materialized(window, timer, counts, markdown_table(preview, ["type", "user", "occurred_at", "summary"]))


# ---- user profiles ----------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    tags=stage("consolidation"),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["semantic_memory"],
    kinds={"postgres", "graph"},
    description=(
        "The user model of every user active in the window, consolidated from their current first-person "
        "facts: 'favorite_<x>' and 'dislikes' facts become preferences, 'likes' facts interests "
        "(through memory_runtime.memory.users.UserModel, which mirrors the graph into user_profiles), plus a "
        "readable summary in user_profiles.summary. A fact only overrides a preference set after it if it "
        "is newer; nothing is written when nothing changed."
    ),
)
@traced
def user_profiles(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Fold preference and interest facts into the user model and refresh the profile summary
    (memory_runtime.batch.profiles)."""
    window, timer = Window.of(context), Timer()
    report = profiles.refresh_profiles(memory.stores, window.start, window.end)
    counts = {
        "users": report.users,
        "preferences_set": report.preferences_set,
        "interests_added": report.interests_added,
        "summaries_updated": report.summaries_updated,
    }
    preview = [{"user": p.user_id, "summary": p.summary} for p in report.profiles]
    return materialized(window, timer, counts, markdown_table(preview, ["user", "summary"]))
