"""Consolidation assets: semantic memory, mined strategies, the timeline and user profiles.

Each asset reads its partition window (one day, or a whole single-run backfill range) and is idempotent
for it: writes are MERGEs / upserts keyed by deterministic ids, and derived totals are recomputed from
the system of record instead of incremented.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from memory_assets import cypher
from memory_assets._common import GROUP, Timer, Window, counts_table, markdown_table, materialized, utc_from_ms
from memory_assets.episodic import episodic_graph
from memory_assets.partitions import daily_partitions
from memory_assets.timeline import TimelineEvent, shorten, upsert_timeline
from memory_runtime.batch import reindex as maintenance
from memory_runtime.domain import ids
from memory_runtime.domain.models import now, to_ms
from resources import MemoryStoreResource

# ---- semantic memory --------------------------------------------------------------------------------


def extractor_version() -> str | None:
    """The extractor version the configured settings select, for the asset's code version.

    memory_runtime.extraction.extractor_version(settings) (rules + spaCy model + LLM model/prompt) with the
    environment's settings, else its EXTRACTOR_VERSION (default settings), else None while extraction is
    unavailable. Read when the code location loads; importing extraction does not load spaCy.
    """
    try:
        from memory_runtime import extraction
    except Exception:  # noqa: BLE001 — not landed, or its dependencies are missing
        return None
    try:
        from memory_runtime.config import load_settings

        return str(extraction.extractor_version(load_settings()))
    except Exception:  # noqa: BLE001 — an invalid environment must not break loading the code location
        return str(getattr(extraction, "EXTRACTOR_VERSION", "")) or None


@dg.asset(
    group_name=GROUP,
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
def semantic_memory(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Run memory_runtime.extraction.consolidate_window over the partition window."""
    window, timer = Window.of(context), Timer()
    try:
        from memory_runtime.extraction import consolidate_window
    except ImportError as exc:
        raise dg.Failure(description=f"memory_runtime.extraction.consolidate_window is not available: {exc}") from exc
    from memory_runtime.extraction import extractor_version as version_for

    counts = dict(
        consolidate_window(
            memory.stores,
            window.start,
            window.end,
            progress=lambda n: context.log.debug(f"extracted {n} more turns"),
        )
    )
    counts.pop("duration_s", None)  # the asset reports its own duration
    # Re-mentioned entities and closed facts leave orphan vectors on FalkorDB 4.16 (memory_runtime.batch.reindex).
    repaired = maintenance.repair_vector_indexes(memory.stores, labels=("Fact", "Entity"), progress=context.log.info)
    counts["vector_indexes_rebuilt"] = sum(i.rebuilt for i in repaired)
    numeric = {k: v for k, v in counts.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    extra = {k: v for k, v in counts.items() if k not in numeric}
    extra["extractor_version"] = version_for(memory.settings)
    return materialized(window, timer, numeric, counts_table(counts), extra=extra)


# ---- procedural strategies --------------------------------------------------------------------------

MIN_SUPPORT = 2  # conversations that must share a tool sequence before it is a strategy
DEFAULT_TASK_TYPE = "general"

# One row per (user, task type, tool sequence) over the whole history of the users who called tools in
# the window. A conversation's sequence is its tool calls in order with consecutive repeats collapsed
# (retries); its outcome is the success of its last call. The task type is the conversation's
# metadata.task_type, else the first turn metadata.task_type, else "general".
_PATTERNS = """
WITH active AS (
    SELECT DISTINCT user_id FROM tool_invocations
     WHERE created_at >= %(start)s AND created_at < %(end)s AND conversation_id IS NOT NULL
), calls AS (
    SELECT ti.user_id, ti.conversation_id, ti.tool_name, ti.success, ti.created_at, ti.id,
           lag(ti.tool_name) OVER w AS previous_tool,
           row_number() OVER (PARTITION BY ti.conversation_id
                              ORDER BY ti.created_at DESC, ti.id DESC) AS from_end
      FROM tool_invocations ti JOIN active a ON a.user_id = ti.user_id
     WHERE ti.conversation_id IS NOT NULL
    WINDOW w AS (PARTITION BY ti.conversation_id ORDER BY ti.created_at, ti.id)
), runs AS (
    SELECT user_id, conversation_id,
           array_agg(tool_name ORDER BY created_at, id)
               FILTER (WHERE previous_tool IS DISTINCT FROM tool_name) AS tools,
           bool_or(success) FILTER (WHERE from_end = 1) AS succeeded
      FROM calls GROUP BY user_id, conversation_id
), typed AS (
    SELECT r.user_id, r.conversation_id, r.tools, r.succeeded,
           coalesce(
               nullif(btrim(c.metadata ->> 'task_type'), ''),
               (SELECT nullif(btrim(l.metadata ->> 'task_type'), '') FROM conversation_logs l
                 WHERE l.conversation_id = r.conversation_id AND l.metadata ->> 'task_type' IS NOT NULL
                 ORDER BY l.turn_index LIMIT 1),
               %(default_task)s) AS task_type
      FROM runs r LEFT JOIN conversations c ON c.id = r.conversation_id
)
SELECT user_id, task_type, tools, count(*) FILTER (WHERE succeeded) AS successes,
       count(*) FILTER (WHERE NOT succeeded) AS failures, count(*) AS support
  FROM typed GROUP BY user_id, task_type, tools
HAVING count(*) >= %(min_support)s
 ORDER BY user_id, task_type, tools
"""


def _strategy_description(tools: list[str]) -> str:
    return "Use " + " → ".join(tools)


@dg.asset(
    group_name=GROUP,
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
def procedural_strategies(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Recompute mined strategies of the users active in the window."""
    from memory_runtime.memory.procedural import strategy_id, strategy_text, task_type_id

    window, timer = Window.of(context), Timer()
    stores = memory.stores
    patterns = stores.pg.fetch(
        _PATTERNS,
        {
            "start": window.start,
            "end": window.end,
            "min_support": MIN_SUPPORT,
            "default_task": DEFAULT_TASK_TYPE,
        },
    )
    rows: list[dict[str, Any]] = []
    for p in patterns:
        task_type = p["task_type"][:256]
        tools = list(p["tools"])
        description = _strategy_description(tools)
        rows.append(
            {
                "id": strategy_id(p["user_id"], task_type, description),
                "user_id": p["user_id"],
                "description": description,
                "norm_description": ids.normalize_name(description),
                "task_type_id": task_type_id(p["user_id"], task_type),
                "task_type": task_type,
                "norm_task_type": ids.normalize_name(task_type),
                "tool_sequence": tools,
                "tool_ids": [ids.tool_id(p["user_id"], t) for t in dict.fromkeys(tools)],
                "successes": int(p["successes"]),
                "failures": int(p["failures"]),
                "support": int(p["support"]),
                "text": strategy_text(task_type, description),
            }
        )
    written = changed = 0
    if rows:
        vectors = stores.embedder.embed([r.pop("text") for r in rows])
        for r, vec in zip(rows, vectors, strict=True):
            r["embedding"] = [float(x) for x in vec]
        graph = stores.graph
        result = graph.write(cypher.upsert_mined_strategies(graph.dialect), {"rows": rows, "now": to_ms(now())})
        written, changed = int(result[0]["strategies"]), int(result[0]["changed"] or 0)
    counts = {
        "users": len({r["user_id"] for r in rows}),
        "strategies": written,
        "strategies_changed": changed,
        "successes": sum(r["successes"] for r in rows),
        "failures": sum(r["failures"] for r in rows),
    }
    preview = [
        {
            "user": r["user_id"],
            "task_type": r["task_type"],
            "tools": r["tool_sequence"],
            "ok": r["successes"],
            "failed": r["failures"],
        }
        for r in rows
    ]
    return materialized(window, timer, counts, markdown_table(preview, ["user", "task_type", "tools", "ok", "failed"]))


# ---- memory timeline --------------------------------------------------------------------------------

_EPISODES = """
SELECT user_id, conversation_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
       count(*) AS turns, min(created_at) AS first_at, max(created_at) AS last_at,
       min(turn_index) AS first_index, max(turn_index) AS last_index,
       (array_agg(left(content, 300) ORDER BY turn_index) FILTER (WHERE role = 'user'))[1] AS opening,
       (array_agg(left(content, 300) ORDER BY turn_index))[1] AS first_content
  FROM conversation_logs WHERE created_at >= %s AND created_at < %s
 GROUP BY 1, 2, 3
"""


def _episode_events(memory: MemoryStoreResource, window: Window) -> list[TimelineEvent]:
    rows = memory.stores.pg.fetch(_EPISODES, (window.start, window.end))
    return [
        TimelineEvent(
            user_id=r["user_id"],
            event_type="episode",
            ref_id=f"{r['conversation_id']}@{r['day']}",
            conversation_id=r["conversation_id"],
            occurred_at=r["first_at"],
            summary=f"{r['turns']} turns: {shorten(r['opening'] or r['first_content'], 300)}",
            metadata={
                "day": r["day"],
                "turns": int(r["turns"]),
                "first_index": int(r["first_index"]),
                "last_index": int(r["last_index"]),
                "last_at": r["last_at"].astimezone(UTC).isoformat(),
            },
        )
        for r in rows
    ]


def _fact_events(memory: MemoryStoreResource, window: Window) -> list[TimelineEvent]:
    graph = memory.stores.graph
    rows = graph.read(cypher.facts_in_window(graph.dialect), {"start": window.start_ms, "end": window.end_ms})
    events = []
    for r in rows:
        occurred = r["valid_at"] if r["valid_at"] is not None else r["created_at"]
        if occurred is None or not r["user_id"]:
            continue
        convs = sorted(c for c in (r["conversation_ids"] or []) if c)
        invalid = r["invalid_at"]
        events.append(
            TimelineEvent(
                user_id=r["user_id"],
                event_type="fact",
                ref_id=r["id"],
                conversation_id=convs[0] if convs else None,
                occurred_at=utc_from_ms(occurred),
                summary=r["claim"] or "",
                metadata={
                    "confidence": r["confidence"],
                    "source": r["source"],
                    "extractor_version": r["extractor_version"],
                    "invalid_at": utc_from_ms(invalid).isoformat() if invalid is not None else None,
                },
            )
        )
    return events


def _entity_events(memory: MemoryStoreResource, window: Window) -> list[TimelineEvent]:
    graph = memory.stores.graph
    rows = graph.read(cypher.entities_in_window(graph.dialect), {"start": window.start_ms, "end": window.end_ms})
    return [
        TimelineEvent(
            user_id=r["user_id"],
            event_type="entity",
            ref_id=r["id"],
            occurred_at=utc_from_ms(r["created_at"]),
            summary=f"{r['type']} {r['name']}" + (f": {r['description']}" if r["description"] else ""),
            metadata={"name": r["name"], "type": r["type"]},
        )
        for r in rows
    ]


@dg.asset(
    group_name=GROUP,
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
def memory_timeline(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Upsert the window's episodes, facts and entities into memory_timeline."""
    window, timer = Window.of(context), Timer()
    events = _episode_events(memory, window) + _fact_events(memory, window) + _entity_events(memory, window)
    result = upsert_timeline(memory.stores.pg, events)
    by_type: dict[str, int] = defaultdict(int)
    for e in events:
        by_type[e.event_type] += 1
    counts = {
        "episodes": by_type["episode"],
        "facts": by_type["fact"],
        "entities": by_type["entity"],
        "rows_inserted": result["inserted"],
        "rows_updated": result["updated"],
        "rows_unchanged": result["unchanged"],
    }
    preview = [
        {"type": e.event_type, "user": e.user_id, "occurred_at": e.occurred_at, "summary": e.summary}
        for e in sorted(events, key=lambda e: e.occurred_at)
    ]
    return materialized(window, timer, counts, markdown_table(preview, ["type", "user", "occurred_at", "summary"]))


# ---- user profiles ----------------------------------------------------------------------------------

INTEREST_PREDICATES = frozenset({"likes"})
_MISSING = object()
LIST_PREFERENCE_PREDICATES = frozenset({"dislikes"})


def _derive_profile(facts: list[dict[str, Any]]) -> tuple[dict[str, tuple[Any, float, int]], list[str]]:
    """Preferences {key: (value, confidence, learnt_ms)} and interests from a user's current facts.

    `learnt_ms` is when the fact was learnt (created_at), compared with when a preference was last set.
    """
    prefs: dict[str, tuple[Any, float, int]] = {}
    lists: dict[str, list[str]] = defaultdict(list)
    list_meta: dict[str, tuple[float, int]] = {}
    interests: list[str] = []
    for f in facts:  # ordered by valid_at: a later fact of a functional predicate wins
        pred, obj = str(f["predicate"]), str(f["object"]).strip()
        conf, at = float(f["confidence"] or 0.0), int(f["created_at"] or 0)
        if not obj:
            continue
        if pred.startswith("favorite_"):
            prefs[pred] = (obj, conf, at)
        elif pred in LIST_PREFERENCE_PREDICATES:
            if obj not in lists[pred]:
                lists[pred].append(obj)
            old_conf, old_at = list_meta.get(pred, (0.0, 0))
            list_meta[pred] = (max(old_conf, conf), max(old_at, at))
        elif pred in INTEREST_PREDICATES and obj not in interests:
            interests.append(obj)
    for pred, values in lists.items():
        prefs[pred] = (sorted(values), *list_meta[pred])
    return prefs, interests


def _summary(profile: dict[str, Any]) -> str | None:
    parts = []
    prefs = profile.get("preferences") or {}
    if prefs:
        shown = [
            f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in sorted(prefs.items())
        ]
        parts.append("Preferences — " + "; ".join(shown))
    if profile.get("interests"):
        parts.append("Interested in " + ", ".join(profile["interests"]))
    if profile.get("expertise"):
        parts.append("Expertise — " + ", ".join(f"{k} ({v})" for k, v in sorted(profile["expertise"].items())))
    return shorten(". ".join(parts), 1000) or None


@dg.asset(
    group_name=GROUP,
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
def user_profiles(context: dg.AssetExecutionContext, memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Fold preference and interest facts into the user model and refresh the profile summary."""
    from memory_runtime.extraction.types import USER_SUBJECT
    from memory_runtime.memory.users import UserModel
    from memory_runtime.stores.graph.queries import users as user_queries

    window, timer = Window.of(context), Timer()
    stores = memory.stores
    graph = stores.graph
    users = {
        r["user_id"]
        for r in stores.pg.fetch(
            "SELECT DISTINCT user_id FROM conversation_logs WHERE created_at >= %s AND created_at < %s",
            (window.start, window.end),
        )
    }
    users |= {
        r["user_id"]
        for r in graph.read(
            cypher.users_with_facts_in_window(graph.dialect), {"start": window.start_ms, "end": window.end_ms}
        )
        if r["user_id"]
    }
    ordered = sorted(users)
    facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for at in range(0, len(ordered), 500):
        for r in graph.read(
            cypher.profile_facts(graph.dialect),
            {
                "users": ordered[at : at + 500],
                "subject": ids.normalize_name(USER_SUBJECT),
                "now": to_ms(datetime.now(UTC)),
            },
        ):
            facts[r["user_id"]].append(r)
    prefs_set = interests_added = summaries = 0
    preview = []
    for user_id in ordered:
        model = UserModel(stores, user_id)
        current = model.profile_from_graph()
        set_at = {
            p["key"]: int(p["updated_at"] or 0)
            for p in graph.read(user_queries.preferences(graph.dialect), {"user_id": user_id})
        }
        derived_prefs, derived_interests = _derive_profile(facts.get(user_id, []))
        wrote = False
        for key, (value, confidence, learnt_ms) in sorted(derived_prefs.items()):
            if current["preferences"].get(key, _MISSING) == value:
                continue
            if key in set_at and set_at[key] >= learnt_ms:
                continue  # set (by the agent) after the fact was learnt: the newer statement wins
            model.set_preference(key, value, confidence=min(max(confidence, 0.0), 1.0))
            prefs_set += 1
            wrote = True
        for topic in derived_interests:
            if topic not in current["interests"]:
                model.add_interest(topic)
                interests_added += 1
                wrote = True
        if current["version"] is None and not wrote:
            continue  # no profile at all
        summary = _summary(model.get_user_context())
        with stores.pg.connection() as conn:
            summaries += conn.execute(
                """
                INSERT INTO user_profiles (user_id, summary) VALUES (%s, %s)
                ON CONFLICT (user_id) DO UPDATE SET summary = EXCLUDED.summary
                 WHERE user_profiles.summary IS DISTINCT FROM EXCLUDED.summary
                """,
                (user_id, summary),
            ).rowcount
        preview.append({"user": user_id, "summary": summary})
    counts = {
        "users": len(ordered),
        "preferences_set": prefs_set,
        "interests_added": interests_added,
        "summaries_updated": summaries,
    }
    return materialized(window, timer, counts, markdown_table(preview, ["user", "summary"]))
