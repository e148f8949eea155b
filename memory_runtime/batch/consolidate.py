"""Consolidation of a time window: turns -> entities, facts and relations in semantic memory.

`consolidate_window(stores, start, end)` reads the window's non-archived turns from Postgres in time
order, extracts (spaCy rules, or the LLM when MEMORY_LLM_MODEL is set), resolves entities per user
(`resolution.py`), and writes through SemanticMemory:

* entities: one upsert per entity and page with the turns that mention it; salience from the number of
  mentions (0.5 for one, +0.1 per doubling, at most 1.0; upserts only ever raise it); a batched
  `(turn)-[:MENTIONS]->(entity)` edge per mention;
* facts: `learn_fact(source="extraction", valid_at=<turn time>, source_turn_ids=[turn], extractor_version)`,
  so backfilled history keeps its timeline. Single-valued predicates (`types.FUNCTIONAL_PREDICATES`,
  `favorite_*`) pass subject/predicate/object, so a new object supersedes the old fact; multi-valued ones
  (likes, uses, ...) pass no object, because SemanticMemory treats every full triple as single-valued.
  Identical claims within a page are learnt once with all their turns (for single-valued predicates
  only consecutive repeats, so "Paris, Berlin, Paris" stays three facts);
* relations: `relate()` between resolved entities, with the extractor version and the source turn.

Idempotent per window: a fact already DERIVED_FROM its turn with the same claim, a MENTIONS edge that
exists, and relations of turns consolidated before are skipped, so a re-run writes nothing new. Turns
missing from the graph are re-projected first (DERIVED_FROM and MENTIONS need the Turn nodes).
"""

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from memory_runtime.batch.reindex import repair_vector_indexes
from memory_runtime.domain import ids
from memory_runtime.domain.models import Entity, now, to_ms, utc
from memory_runtime.domain.vocabulary import ENTITY_TYPES
from memory_runtime.extraction.resolution import EntityResolver, KnownEntity, Merge
from memory_runtime.extraction.types import (
    USER_SUBJECT,
    EntityMention,
    ExtractedFact,
    Extraction,
    Extractor,
    TurnInput,
)
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import consolidation as q
from memory_runtime.stores.graph.queries import episodic as episodic_q
from memory_runtime.stores.postgres import turn_log

log = logging.getLogger(__name__)

PAGE_SIZE = 2000  # turns read, extracted and written per step
LINK_BATCH = 2000  # MENTIONS rows per UNWIND statement

COUNT_KEYS = (
    "turns_read",
    "entities_created",
    "entities_merged",
    "facts_created",
    "facts_reinforced",
    "facts_invalidated",
    "relations",
)


@dataclass(frozen=True)
class TurnRow:
    """One turn of the log, as consolidation reads it."""

    id: str
    user_id: str
    conversation_id: str
    index: int
    role: str
    content: str
    created_at: datetime
    speaker: str | None = None  # metadata `speaker`: who said it in a chat between named people

    def as_input(self) -> TurnInput:
        """The turn as the extractor reads it (its time resolves dates, its conversation pronouns)."""
        return TurnInput(self.content, self.role, self.created_at, self.speaker, self.conversation_id)


def read_turns(
    stores: Stores, start: datetime, end: datetime, user_id: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[list[TurnRow]]:
    """Non-archived turns with created_at in [start, end), in time order, a page at a time."""
    after: tuple[datetime, str, int] | None = None
    while True:
        rows = turn_log.turn_page(stores.pg, utc(start), utc(end), user_id, after, page_size)
        if not rows:
            return
        page = [
            TurnRow(
                r["id"],
                r["user_id"],
                r["conversation_id"],
                r["turn_index"],
                r["role"],
                r["content"],
                r["created_at"],
                r.get("speaker"),
            )
            for r in rows
        ]
        yield page
        if len(rows) < page_size:
            return
        last = page[-1]
        after = (last.created_at, last.conversation_id, last.index)


def salience(mentions: int) -> float:
    """Salience from a mention count: 0.5 for one mention, +0.1 per doubling, at most 1.0."""
    return min(1.0, 0.5 + 0.1 * math.log2(max(1, mentions)))


@dataclass
class _FactOp:
    fact: ExtractedFact
    subject: str
    norm_claim: str
    entity_ids: list[str]
    turn_ids: list[str]
    valid_at: datetime
    confidence: float


@dataclass
class _UserRun:
    """Per-user state of one consolidation run: the resolver and fact totals at the start."""

    stores: Stores
    user_id: str
    resolver: EntityResolver
    facts_before: int
    merges_seen: int = 0
    semantic: Any = field(default=None)
    self_entity: str | None = None  # the Person entity the user is (their current name fact), if known

    @classmethod
    def open(cls, stores: Stores, user_id: str) -> "_UserRun":
        from memory_runtime.memory.semantic import SemanticMemory

        graph = stores.graph
        rows = graph.read(q.user_entities(graph.dialect), {"user_id": user_id, "types": list(ENTITY_TYPES)})
        known = [KnownEntity(r["id"], r["name"], r["type"], list(r.get("aliases") or [])) for r in rows]
        resolver = EntityResolver(user_id, known, stores.embedder)
        before = graph.read(q.fact_counts(graph.dialect), {"user_id": user_id, "since": 0})
        run = cls(stores, user_id, resolver, int(before[0]["total"]) if before else 0)
        run.semantic = SemanticMemory(stores, user_id)
        me = graph.read(
            q.self_entity(graph.dialect),
            {"user_id": user_id, "norm_subject": USER_SUBJECT, "norm_predicate": "name_is", "now": to_ms(now())},
        )
        run.self_entity = me[0]["id"] if me else None
        return run

    def fact_totals(self, since_ms: int) -> tuple[int, int]:
        """(facts now, facts retired since `since_ms`) of this user."""
        graph = self.stores.graph
        rows = graph.read(q.fact_counts(graph.dialect), {"user_id": self.user_id, "since": since_ms})
        return (int(rows[0]["total"]), int(rows[0]["expired"] or 0)) if rows else (0, 0)


def _display_names(items: Sequence[tuple[TurnRow, Extraction]]) -> dict[tuple[str, str], str]:
    """Best surface form per (type, normalised name) in a page: capitalised first, then most frequent."""
    forms: dict[tuple[str, str], Counter[str]] = {}
    for _, ext in items:
        for m in ext.entities:
            forms.setdefault(m.key, Counter())[m.name] += 1
    return {
        key: max(c.items(), key=lambda kv: (kv[0] != kv[0].lower(), kv[1], -len(kv[0])))[0] for key, c in forms.items()
    }


def _canonical(fact: ExtractedFact, entities: Sequence[KnownEntity | None]) -> ExtractedFact:
    """The fact with subject and object renamed to their resolved entities ("Acme" -> "Acme Corp").

    Supersession compares objects by name, so "works at Acme" must not retire "works at Acme Corp".
    """
    subject, obj, claim = fact.subject, fact.object, fact.claim
    for m, entity in zip(fact.entities, entities, strict=True):
        if entity is None or entity.name == m.name:
            continue
        norm = ids.normalize_name(m.name)
        if ids.normalize_name(subject) == norm:
            subject = entity.name
            if claim.startswith(fact.subject):
                claim = entity.name + claim[len(fact.subject) :]
        if ids.normalize_name(obj) == norm:
            obj = entity.name
            if claim.endswith(fact.object):
                claim = claim[: len(claim) - len(fact.object)] + entity.name
    if (subject, obj, claim) == (fact.subject, fact.object, fact.claim):
        return fact
    return ExtractedFact(subject, fact.predicate, obj, claim, fact.confidence, fact.entities)


def _apply_page(run: _UserRun, items: list[tuple[TurnRow, Extraction]], version: str, counts: Counter[str]) -> None:
    """Write one page of one user's extractions; see the module docstring."""
    stores, user_id = run.stores, run.user_id
    graph = stores.graph
    turn_ids = [t.id for t, _ in items]
    params = {"user_id": user_id, "turn_ids": turn_ids}
    mentioned = {(r["turn_id"], r["entity_id"]) for r in graph.read(q.existing_mentions(graph.dialect), params)}
    derived = {(r["turn_id"], r["norm_claim"]) for r in graph.read(q.derived_claims(graph.dialect), params)}
    done_turns = {t for t, _ in mentioned} | {t for t, _ in derived}

    # ---- entities: resolve every mention, then one upsert per touched entity -------------------------
    names = _display_names(items)
    run.resolver.prime(EntityMention(name, type_, "") for (type_, _), name in names.items())
    resolved: dict[tuple[str, str, str], KnownEntity] = {}  # (turn id, type, norm name) -> entity
    touched: dict[str, KnownEntity] = {}
    turns_of: dict[str, list[str]] = {}
    aliases_of: dict[str, list[str]] = {}
    for turn, ext in items:
        for m in ext.entities:
            result = run.resolver.resolve(EntityMention(names[m.key], m.type, m.label))
            entity = result.entity
            resolved[(turn.id, *m.key)] = entity
            if result.merge is not None:
                aliases_of.setdefault(entity.id, []).append(result.merge.merged_name)
                touched[entity.id] = entity
            if (turn.id, entity.id) not in mentioned:
                touched[entity.id] = entity
                if turn.id not in turns_of.setdefault(entity.id, []):
                    turns_of[entity.id].append(turn.id)
    actual: dict[str, str] = {}
    for eid, entity in touched.items():
        mentions = turns_of.get(eid, [])
        actual[eid] = run.semantic.upsert_entity(
            Entity(
                name=entity.name,
                type=entity.type,
                aliases=aliases_of.get(eid, []),
                salience=salience(len(mentions)),
            ),
            source_turn_ids=mentions,
            extractor_version=version,
        ).id
        if entity.new:
            counts["entities_created"] += 1
            entity.new = False
    new_merges: list[Merge] = run.resolver.merges[run.merges_seen :]
    run.merges_seen = len(run.resolver.merges)
    counts["entities_merged"] += len(new_merges)
    for merge in new_merges:
        log.info("user %s: merged %r into entity %s (%s)", user_id, merge.merged_name, merge.kept_id, merge.reason)
    rows = [{"turn_id": tid, "entity_id": actual.get(eid, eid)} for eid, tids in turns_of.items() for tid in tids]
    stamp = to_ms(now())
    for start in range(0, len(rows), LINK_BATCH):
        graph.write(
            q.link_mentions(graph.dialect),
            {
                "user_id": user_id,
                "rows": rows[start : start + LINK_BATCH],
                "now": stamp,
                "extractor_version": version,
            },
        )

    def entity_id(turn: TurnRow, m: EntityMention) -> str | None:
        entity = resolved.get((turn.id, *m.key))
        return None if entity is None else actual.get(entity.id, entity.id)

    # ---- facts: time order, identical claims of a page folded into one learn_fact --------------------
    ops: list[_FactOp] = []
    by_claim: dict[str, _FactOp] = {}
    last_object: dict[tuple[str, str], str] = {}
    self_at: dict[str, str | None] = {}  # turn id -> the user's own entity as of that turn
    for turn, ext in items:
        for fact in ext.facts:
            fact = _canonical(fact, [resolved.get((turn.id, *m.key)) for m in fact.entities])
            norm_claim = ids.normalize_name(fact.claim)
            if not norm_claim or (turn.id, norm_claim) in derived:
                continue
            subject = fact.subject
            about = [e for m in fact.entities if (e := entity_id(turn, m))]
            if fact.negated:  # retracts the positive fact; a later repeat of it is a new fact
                by_claim.pop(norm_claim, None)
                ops.append(_FactOp(fact, subject, norm_claim, [], [turn.id], turn.created_at, fact.confidence))
                continue
            if subject == USER_SUBJECT and fact.predicate == "name_is" and about:
                run.self_entity = about[0]
            sp = (ids.normalize_name(subject), fact.predicate)
            op = by_claim.get(norm_claim)
            if op is not None and (not fact.functional or last_object.get(sp) == norm_claim):
                op.turn_ids.append(turn.id)
                op.confidence = max(op.confidence, fact.confidence)
                op.entity_ids += [e for e in about if e not in op.entity_ids]
                continue
            op = _FactOp(
                fact,
                subject,
                norm_claim,
                list(dict.fromkeys(about)),
                [turn.id],
                turn.created_at,
                fact.confidence,
            )
            ops.append(op)
            by_claim[norm_claim] = op
            if fact.functional:
                last_object[sp] = norm_claim
        self_at[turn.id] = run.self_entity
    for op in ops:
        if op.fact.negated:
            run.semantic.retract(op.subject, op.fact.predicate, op.fact.object, op.fact.claim, at=op.valid_at)
            continue
        run.semantic.learn_fact(
            op.fact.claim,
            source="extraction",
            confidence=op.confidence,
            entity_ids=op.entity_ids,
            source_turn_ids=list(dict.fromkeys(op.turn_ids)),
            valid_at=op.valid_at,
            extractor_version=version,
            subject=op.subject,
            predicate=op.fact.predicate,
            object=op.fact.object,
            single_valued=op.fact.functional,
        )
        counts["fact_writes"] += 1

    # ---- relations of turns not consolidated before ----------------------------------------------
    seen: set[tuple[str, str, str]] = set()
    for turn, ext in items:
        if turn.id in done_turns:
            continue
        edges = [(entity_id(turn, r.source), entity_id(turn, r.target), r.rel_type) for r in ext.relations]
        edges += _fact_edges(turn, ext, self_at.get(turn.id), entity_id)
        for src, dst, rel_type in edges:
            if src is None or dst is None or src == dst or (src, dst, rel_type) in seen:
                continue
            seen.add((src, dst, rel_type))
            run.semantic.relate(
                src,
                dst,
                rel_type,
                {"source": "extraction", "extractor_version": version, "source_turn_id": turn.id},
            )
            counts["relations"] += 1


def _fact_edges(
    turn: TurnRow,
    ext: Extraction,
    self_entity: str | None,
    entity_id: Callable[[TurnRow, EntityMention], str | None],
) -> list[tuple[str | None, str | None, str]]:
    """The typed edges that relation facts imply ("User's manager is Tomasz" -> (user)-[:REPORTS_TO]->(Tomasz)):
    from the subject's entity (the user's own Person entity for `user`, when known) to the object's."""
    edges: list[tuple[str | None, str | None, str]] = []
    for fact in ext.facts:
        if fact.rel_type is None or fact.negated:
            continue
        by_name = {ids.normalize_name(m.name): m for m in fact.entities}
        target = by_name.get(ids.normalize_name(fact.object))
        source_mention = by_name.get(ids.normalize_name(fact.subject))
        source = (
            self_entity
            if fact.subject == USER_SUBJECT
            else (entity_id(turn, source_mention) if source_mention is not None else None)
        )
        if target is not None:
            edges.append((source, entity_id(turn, target), fact.rel_type))
    return edges


def _ensure_projected(stores: Stores, page: list[TurnRow], user_id: str | None) -> None:
    """Re-project turns of the page that the graph is missing (their provenance edges need them)."""
    from memory_runtime.memory.episodic import reproject

    graph = stores.graph
    missing = graph.read(episodic_q.missing_turns(graph.dialect), {"ids": [t.id for t in page]})
    if missing:
        reproject(
            stores,
            since=page[0].created_at,
            until=page[-1].created_at + timedelta(microseconds=1),
            user_id=user_id,
        )


def _extracted(
    extractor: Extractor, pages: Iterator[list[TurnRow]]
) -> Iterator[tuple[list[TurnRow], list[Extraction]]]:
    """Pages with their extractions; the next page is extracted in a worker thread while this one is written.

    spaCy and the graph server each keep a core busy, so overlapping them cuts a run by about a third.
    """

    def work(page: list[TurnRow]) -> tuple[list[TurnRow], list[Extraction]]:
        return page, extractor.extract_turns([t.as_input() for t in page])

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="extraction") as pool:
        pending: Future[tuple[list[TurnRow], list[Extraction]]] | None = None
        for page in pages:
            future = pool.submit(work, page)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def consolidate_window(
    stores: Stores,
    start: datetime,
    end: datetime,
    *,
    user_id: str | None = None,
    progress: Callable[[int], None] | None = None,
    extractor: Extractor | None = None,
    page_size: int = PAGE_SIZE,
    by_user: dict[str, dict[str, int]] | None = None,
) -> dict[str, int | float]:
    """Extract and learn the window's turns (created_at in [start, end)); returns counts (see COUNT_KEYS).

    `duration_s` (float seconds) is added to the counts; `progress(n)` is called after each page of n
    turns. The extractor defaults to `make_extractor(stores.settings)`. A given `by_user` dict is filled with
    the same counts per user who had anything extracted (turns_read counts only their turns with extractions).
    """
    from memory_runtime.extraction import extractor_version, make_extractor

    began = time.perf_counter()
    since_ms = to_ms(now()) or 0
    settings = stores.settings
    extractor = extractor or make_extractor(settings)
    version = extractor_version(settings)
    counts: Counter[str] = Counter({k: 0 for k in COUNT_KEYS})
    runs: dict[str, _UserRun] = {}
    per_user: dict[str, Counter[str]] = {}
    for page, extractions in _extracted(extractor, read_turns(stores, start, end, user_id, page_size)):
        counts["turns_read"] += len(page)
        _ensure_projected(stores, page, user_id)
        users_items: dict[str, list[tuple[TurnRow, Extraction]]] = {}
        for turn, ext in zip(page, extractions, strict=True):
            if ext.entities or ext.facts or ext.relations:
                users_items.setdefault(turn.user_id, []).append((turn, ext))
        for uid, items in users_items.items():
            if uid not in runs:
                runs[uid] = _UserRun.open(stores, uid)
            before = counts.copy()
            _apply_page(runs[uid], items, version, counts)
            per_user.setdefault(uid, Counter()).update(counts - before)
            per_user[uid]["turns_read"] += len(items)
        if progress is not None:
            progress(len(page))
    for run in runs.values():
        total, expired = run.fact_totals(since_ms)
        counts["facts_created"] += total - run.facts_before
        counts["facts_invalidated"] += expired
        mine = per_user[run.user_id]
        mine["facts_created"], mine["facts_invalidated"] = total - run.facts_before, expired
        mine["facts_reinforced"] = mine.pop("fact_writes", 0) - mine["facts_created"]
    counts["facts_reinforced"] = counts.pop("fact_writes", 0) - counts["facts_created"]
    if by_user is not None:
        by_user.update({uid: {k: int(c[k]) for k in COUNT_KEYS} for uid, c in per_user.items()})
    out: dict[str, int | float] = {k: int(counts[k]) for k in COUNT_KEYS}
    out["duration_s"] = round(time.perf_counter() - began, 3)
    return out


@dataclass(frozen=True)
class SemanticReport:
    """What consolidating a window did: consolidate_window's counts (without duration_s), the vector indexes
    rebuilt afterwards, and the extractor version that produced it."""

    counts: dict[str, int | float]
    vector_indexes_rebuilt: int
    extractor_version: str
    by_user: dict[str, dict[str, int]] = field(default_factory=dict)  # the same counts per user


def consolidate_semantic_memory(
    stores: Stores,
    start: datetime,
    end: datetime,
    *,
    progress: Callable[[int], None] | None = None,
    log_message: Callable[[str], None] | None = None,
) -> SemanticReport:
    """Consolidate [start, end) (`consolidate_window`), then repair the Fact and Entity vector indexes.

    Re-mentioned entities and closed facts leave orphan vectors on FalkorDB 4.16 (`batch.reindex`), so the
    indexes they degraded are rebuilt; `log_message` hears about each rebuild.
    """
    from memory_runtime.extraction import extractor_version

    by_user: dict[str, dict[str, int]] = {}
    counts = dict(consolidate_window(stores, start, end, progress=progress, by_user=by_user))
    counts.pop("duration_s", None)
    repaired = repair_vector_indexes(stores, labels=("Fact", "Entity"), progress=log_message)
    return SemanticReport(counts, sum(i.rebuilt for i in repaired), extractor_version(stores.settings), by_user)


def configured_extractor_version() -> str | None:
    """The extractor version the environment's settings select (for the asset's code version).

    memory_runtime.extraction.extractor_version(settings) (rules + spaCy model + LLM model/prompt) with the
    environment's settings, else its EXTRACTOR_VERSION (default settings), else None while extraction is
    unavailable. Importing extraction does not load spaCy.
    """
    try:
        from memory_runtime import extraction
    except Exception:  # noqa: BLE001 — its dependencies are missing
        return None
    try:
        from memory_runtime.config import load_settings

        return str(extraction.extractor_version(load_settings()))
    except Exception:  # noqa: BLE001 — an invalid environment must not break loading the code location
        return str(getattr(extraction, "EXTRACTOR_VERSION", "")) or None
