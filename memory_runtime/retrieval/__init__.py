"""remember(): hybrid, user-scoped, time-aware recall, fused into one MemoryBundle.

One query embedding (cached), then every strategy runs concurrently on the store thread pool:

- episodic: turn full-text (BM25 over the graph index's candidates, per-user term statistics), then turn
  vector search with the query weighted by those statistics (graph HNSW, exact Postgres scan when
  under-filled); the two scores fused, each turn credited with a share of its neighbours' scores (the
  conversational context), plus a recency signal, salience as tie-breaker and a diversity penalty per
  conversation;
- semantic: fact vector + full-text, entity vector + full-text, then graph expansion (depth ≤ 2) from
  the top entities bringing their facts; invalidated facts only appear for an `as_of` when they held;
- procedural: strategies by similarity × success rate; active goals; the user profile.

Access statistics of returned items are buffered in Redis (`access`) and reach the graph with the daily
salience decay: a read never writes to the graph.
"""

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from memory_runtime import tracing
from memory_runtime.domain import ids, validation
from memory_runtime.domain.errors import AgentMemoryError, StoreUnavailableError, ValidationError
from memory_runtime.domain.models import (
    EntityHit,
    FactHit,
    Goal,
    MemoryBundle,
    StrategyMatch,
    TurnHit,
    estimate_tokens,
    now,
    to_ms,
    utc,
)
from memory_runtime.embeddings.base import TermWeightedEmbedder
from memory_runtime.memory import context_cache
from memory_runtime.retrieval import access, episodic, lexical, rerank, semantic, sessions
from memory_runtime.retrieval.fusion import Candidate, best_first, combine, diversify, fuse, recency_boost
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.postgres import turns as pg_turns

log = logging.getLogger(__name__)

_T = TypeVar("_T")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


Mode = str  # "hybrid" | "vector" | "fulltext"
# A query embedding, or the pending job computing it (remember() starts it on the pool: see `_embedding`).
QueryVector = list[float] | Future[list[float]]


def _resolved(vec: QueryVector) -> list[float]:
    return vec.result() if isinstance(vec, Future) else vec


MODES = ("hybrid", "vector", "fulltext")


HASHING_VECTOR_WEIGHT = 0.2
SEMANTIC_VECTOR_WEIGHT = 0.5

# Turn indexes are Postgres int4 (Turn.index <= 2**31 - 1); neighbour lookups must not step past it.
MAX_TURN_INDEX = 2**31 - 1


@dataclass(frozen=True)
class Tuning:
    """Fusion weights and bonuses (one place, so the evaluation harness can sweep them).

    Turn scores: `fulltext_weight` × BM25 / best BM25 + `vector_weight` × min-max scaled cosine, then each
    of the `context_hits` strongest turns and its neighbours in the conversation add `context_adjacent` × the
    best score at index ±1 and `context_skip` × the best at ±2 (in a dialogue the answer to a question
    often sits one turn after the turn that echoes it, or two — the same speaker's follow-up); each turn then
    gains `session_weight` × the share of the query its conversation's candidates cover (`sessions`); then recency,
    salience and the per-conversation `conversation_penalty` (the n-th turn of one conversation is damped
    by penalty**n). benchmarks/retrieval_eval measures each of these.
    """

    # None: 0.2 with the hashing embedder, whose vectors are lexical and mostly repeat what BM25 knows (at 0.5 it
    # pulled near-misses into the top 5: benchmarks/retrieval_eval), 0.5 with a semantic model.
    vector_weight: float | None = None
    fulltext_weight: float = 1.0
    query_idf: bool = True  # weight a hashing query vector by the user's idf (see HashingEmbedder.embed_query)
    context_adjacent: float = 0.3
    context_skip: float = 0.3
    context_hits: int = 20
    session_weight: float = 0.4  # × the share of the query's idf its conversation's candidates match (`sessions`)
    recency_weight: float = 0.05
    salience_weight: float = 0.02
    conversation_penalty: float = 0.95
    rerank_depth: int | None = None  # fused candidates the reranker orders (at least top_k); None: its fitted depth
    candidate_factor: int = 5
    min_candidates: int = 50
    expansion_seeds: int = 3


def _check_top_k(top_k: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 200:
        raise ValidationError("top_k must be an integer between 1 and 200")


def entity_hit(item: dict[str, Any], score: float, found_by: list[str]) -> EntityHit:
    """An entity search row as a result item."""
    fields: dict[str, Any] = {key: item.get(key) for key in ("id", "name", "type", "description")}
    return EntityHit(**fields, aliases=list(item.get("aliases") or []), score=round(score, 6), found_by=found_by)


def _section(name: str, load: Callable[[], _T], warnings: list[str]) -> _T | None:
    """A context section (goals, profile, strategies), or None with a warning when its store failed."""
    try:
        return load()
    except AgentMemoryError as exc:  # goals, profile and strategies are context, not the answer
        warnings.append(f"{name} skipped: {exc}")
        return None


class Retriever:
    """Recall for one user."""

    def __init__(
        self,
        stores: Stores,
        user_id: str,
        tuning: Tuning | None = None,
        reranker: rerank.RerankerName | rerank.FeatureReranker | None = None,
    ) -> None:
        self.stores = stores
        self.user_id = user_id
        self.tuning = tuning or Tuning()
        self._term_weighted_of: tuple[object, TermWeightedEmbedder | None] | None = None
        self._reranker = reranker  # None: MEMORY_RERANKER

    def _feature_reranker(self) -> rerank.FeatureReranker | None:
        """The reranking stage after fusion, or None for the fused order."""
        choice = self._reranker or self.stores.settings.reranker
        if isinstance(choice, rerank.FeatureReranker):
            return choice
        return None if choice == "none" else rerank.FeatureReranker.fitted(semantic=not self._hashing())

    # ---- inputs ----------------------------------------------------------------------------------
    def _clean_query(self, query: str) -> str:
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("remember() needs a non-empty query string")
        query = validation.text(query, "remember() query").strip()
        limit = self.stores.settings.max_query_chars
        return query[:limit]  # a pasted document is truncated, not rejected

    def _window(self, hours: float | None, as_of: datetime | None) -> tuple[datetime | None, datetime | None]:
        until = utc(as_of)
        if hours is None:
            return None, until
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not math.isfinite(hours) or hours <= 0:
            raise ValidationError(f"time_window_hours must be a positive, finite number of hours, got {hours!r}")
        try:
            return (until or now()) - timedelta(hours=hours), until
        except OverflowError:
            raise ValidationError(
                f"time_window_hours={hours!r} reaches before year 1; pass None for no time window"
            ) from None

    # ---- turns -----------------------------------------------------------------------------------
    def search_turns(
        self,
        query: str,
        top_k: int = 10,
        *,
        mode: Mode = "hybrid",
        time_window_hours: float | None = None,
        as_of: datetime | None = None,
        vector: list[float] | None = None,
    ) -> list[TurnHit]:
        """Turns for `query` by one strategy or the fused hybrid (what the evaluation compares)."""
        if mode not in MODES:
            raise ValidationError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        text = self._clean_query(query)
        since, until = self._window(time_window_hours, as_of)
        return self._turns(text, top_k, since, until, mode, [], {}, vector)

    def _vector_weight(self) -> float:
        if self.tuning.vector_weight is not None:
            return self.tuning.vector_weight
        return HASHING_VECTOR_WEIGHT if self._hashing() else SEMANTIC_VECTOR_WEIGHT

    def _term_weighted(self) -> TermWeightedEmbedder | None:
        """The embedder behind the cache if it embeds term-weighted queries (the hashing embedder), else None."""
        inner = getattr(self.stores.embedder, "inner", None)
        known = self._term_weighted_of
        if known is None or known[0] is not inner:  # a Protocol isinstance check costs ~10 us: once per embedder
            known = self._term_weighted_of = (inner, inner if isinstance(inner, TermWeightedEmbedder) else None)
        return known[1]

    def _hashing(self) -> bool:
        return self._term_weighted() is not None

    def _weighted_query(self) -> bool:
        return self.tuning.query_idf and self._hashing()

    def _query_vector(self, text: str, weights: dict[str, float] | None) -> list[float]:
        """The query embedding; for the hashing embedder weighted by the user's idf of each term."""
        inner = self._term_weighted() if self.tuning.query_idf else None
        if not weights or inner is None:
            return self.stores.embedder.embed([text])[0]
        top = max(weights.values())
        return inner.embed_query(text, lambda term: weights.get(term, top))

    @tracing.traced("remember.episodic.vector", result=lambda rows: {"memory.rows": len(rows)})
    def _vector_turns(
        self,
        vec: QueryVector,
        k: int,
        since: datetime | None,
        until: datetime | None,
        warnings: list[str],
        timings: dict[str, float],
        stats: lexical.CorpusStats | None = None,
    ) -> list[dict[str, Any]]:
        vec = _resolved(vec)
        began = time.perf_counter()
        search = (episodic.vector, episodic.vector_exact_pg)
        rows, warning = episodic.with_fallback(*search, self.stores, self.user_id, vec, k, since, until, stats=stats)
        warnings.extend([warning] if warning else [])
        timings["vector"] = _ms(began)
        return rows

    def _lexical(
        self,
        text: str,
        k: int,
        since: datetime | None,
        until: datetime | None,
        warnings: list[str],
        start_vector: Callable[[dict[str, float], lexical.CorpusStats | None], None],
    ) -> episodic.Lexical:
        """BM25 full-text; `start_vector(weights, stats)` is called as soon as the term weights are known, so
        the weighted vector search runs while the candidate turns are fetched and scored."""
        args = (self.stores, self.user_id)
        try:
            post = episodic.postings_graph(*args, text, since, until, k=k)
            start_vector(post.weights, post.stats)
            return episodic.rank_graph(self.stores, post, k)
        except StoreUnavailableError as exc:
            log.warning("graph unavailable, ranking turns by Postgres full-text: %s", exc)
            warnings.append(f"{exc.store} unavailable: full-text fell back to Postgres")
            start_vector({}, None)
            return episodic.fulltext_pg(*args, text, k, since, until)

    @tracing.traced("remember.episodic", result=lambda hits: {"memory.turns": len(hits)})
    def _turns(
        self,
        text: str,
        top_k: int,
        since: datetime | None,
        until: datetime | None,
        mode: Mode,
        warnings: list[str],
        timings: dict[str, float],
        vector: QueryVector | None = None,
    ) -> list[TurnHit]:
        """Full-text (BM25) and vector search, score fusion, conversational context, recency, diversity.

        The weighted query vector needs the term weights the full-text postings give, so the vector search
        starts on the pool once they are in, and runs while the full-text candidates are fetched and scored.
        A `vector` still being computed (a model's embedding, see `_embedding`) is awaited by the vector search
        job, so full-text search runs meanwhile.
        """
        t = self.tuning
        k = max(top_k * t.candidate_factor, t.min_candidates)
        lists: dict[str, list[dict[str, Any]]] = {}
        lex: episodic.Lexical | None = None
        weighted = mode != "fulltext" and vector is None and self._weighted_query()
        # once started: the query vector ("vec") and the pending search ("rows")
        search: dict[str, Any] = {}

        def start_vector(weights: dict[str, float] | None, stats: lexical.CorpusStats | None = None) -> None:
            if mode != "fulltext" and not search:
                search["vec"] = vec = vector or self._query_vector(text, weights if weighted else None)
                search["rows"] = self.stores.executor.submit(
                    self._vector_turns, vec, k, since, until, warnings, timings, stats
                )

        started = time.perf_counter()
        if mode != "vector" or weighted:
            lex = self._lexical(text, 0 if mode == "vector" else k, since, until, warnings, start_vector)
            if mode != "vector":
                lists["fulltext"] = lex.turns
            timings["fulltext"] = _ms(started)
        start_vector(None)  # not started yet: an unweighted query (or a non-hashing embedder)
        vec = _resolved(search["vec"]) if search else None  # the neighbours are scored against it too
        if search:
            lists["vector"] = search["rows"].result()
        began = time.perf_counter()
        cands, scalers = combine(
            lists, {"vector": self._vector_weight(), "fulltext": t.fulltext_weight}, zero_floor=("fulltext",)
        )
        timings["fusion"] = _ms(began)
        details: dict[str, pg_turns.TurnDetails] | None = None  # caller ids, fetched with the context
        if mode == "hybrid" and cands:
            began = time.perf_counter()
            try:
                cands, details = self._with_context(cands, scalers, lex, vec, since, until)
            except AgentMemoryError as exc:  # context refines the ranking; without it the hits still stand
                warnings.append(f"conversational context skipped: {exc}")
            timings["context"] = _ms(began)
            began = time.perf_counter()
            cands = sessions.boost(cands, lex.weights if lex else {}, t.session_weight)
            timings["sessions"] = _ms(began)
        began = time.perf_counter()
        reference = until or now()
        for c in cands:
            c.score += t.recency_weight * recency_boost(c.item.get("timestamp"), reference)
            c.score += t.salience_weight * float(c.item.get("salience") or 0.5)
        cands = diversify(cands, lambda c: c.item["conversation_id"], t.conversation_penalty)
        if mode == "hybrid":
            cands = self._rerank(text, cands, lex, reference, top_k, timings)
        items = self._turn_items(cands[:top_k], warnings, details)
        timings["turn_items"] = round(_ms(began) - timings.get("rerank", 0.0), 2)  # the rerank stage has its own row
        return items

    @tracing.traced("remember.rerank")
    def _rerank(
        self,
        text: str,
        cands: list[Candidate],
        lex: episodic.Lexical | None,
        reference: datetime,
        top_k: int,
        timings: dict[str, float],
    ) -> list[Candidate]:
        """The best `rerank_depth` (≥ top_k) fused candidates in the reranker's order (`rerank`)."""
        reranker = self._feature_reranker()
        if reranker is None or not cands:
            return cands
        began = time.perf_counter()
        query = rerank.Query.of(text, lex.weights if lex else {})
        depth = reranker.depth if self.tuning.rerank_depth is None else self.tuning.rerank_depth
        ranked = reranker.rerank(query, cands[: max(depth, top_k)], reference)
        timings["rerank"] = _ms(began)
        return ranked

    @tracing.traced("remember.episodic.context")
    def _with_context(
        self,
        cands: list[Candidate],
        scalers: dict[str, Callable[[float | None], float]],
        lex: episodic.Lexical | None,
        vec: list[float] | None,
        since: datetime | None,
        until: datetime | None,
    ) -> tuple[list[Candidate], dict[str, pg_turns.TurnDetails] | None]:
        """Add to each turn a share of its conversational neighbours' scores (fetching the neighbours of the
        strongest turns, scored like any candidate) — the answer often sits next to the turn the query echoes.

        Also returns the caller ids and token counts of every turn that can still be ranked (the candidates and
        the neighbours found), fetched in the same round trip, for `_turn_items`.
        """
        t = self.tuning
        if t.context_adjacent <= 0 and t.context_skip <= 0:
            return cands, None
        at = {(c.item["conversation_id"], c.item["index"]): c for c in cands}
        wanted = sorted(
            {
                (c.item["conversation_id"], c.item["index"] + d)
                for c in cands[: t.context_hits]
                for d in (-2, -1, 1, 2)
                if 0 <= c.item["index"] + d <= MAX_TURN_INDEX
            }
            - at.keys()
        )
        no_score: Callable[[float | None], float] = lambda _x: 0.0  # noqa: E731 — a strategy that did not run adds nothing
        ft, vs = scalers.get("fulltext", no_score), scalers.get("vector", no_score)
        rows, details = episodic.neighbours(self.stores, self.user_id, wanted, since, until, vec, [c.id for c in cands])
        vector_weight = self._vector_weight()
        for row in rows:
            own = 0.0
            if lex is not None and lex.weights:
                own += t.fulltext_weight * ft(lexical.score(lex.weights, row["content"], lex.avg_terms))
            own += vector_weight * vs(row.get("similarity"))
            at[(row["conversation_id"], row["index"])] = Candidate(row["id"], dict(row), {}, {}, own)
        own_scores = {key: c.score for key, c in at.items()}
        for (conv, index), c in at.items():
            adjacent = max(own_scores.get((conv, index + d), 0.0) for d in (-1, 1))
            skip = max(own_scores.get((conv, index + d), 0.0) for d in (-2, 2))
            bonus = t.context_adjacent * adjacent + t.context_skip * skip
            c.score += bonus
            if not c.ranks and bonus > 0:
                c.ranks["context"] = 0
        return best_first(c for c in at.values() if c.ranks), details

    def _turn_items(
        self, cands: list[Candidate], warnings: list[str], details: dict[str, pg_turns.TurnDetails] | None = None
    ) -> list[TurnHit]:
        """The ranked turns as items, under the caller's own turn ids and token counts where it gave them
        (`details`: already fetched for every one of `cands`)."""
        if details is None:
            try:
                details = pg_turns.turn_details(self.stores.pg, self.user_id, [c.item["id"] for c in cands])
            except StoreUnavailableError as exc:  # the hits still stand, under their stored ids
                warnings.append(f"caller turn ids skipped: {exc}")
                details = {}
        out = []
        for c in cands:
            item = c.item
            given = details.get(item["id"])
            out.append(
                TurnHit(
                    id=(given and given.client_id) or item["id"],
                    conversation_id=item["conversation_id"],
                    index=item["index"],
                    role=item["role"],
                    content=item["content"],
                    timestamp=item.get("timestamp"),
                    salience=item.get("salience"),
                    token_count=estimate_tokens(item["content"])
                    if given is None or given.token_count is None
                    else given.token_count,
                    score=round(c.score, 6),
                    found_by=c.found_by,
                    source_turn_ids=[item["id"]],
                )
            )
        return out

    # ---- facts and entities ----------------------------------------------------------------------
    @tracing.traced("remember.semantic")
    def _semantic(
        self, text: str, vec: QueryVector, top_k: int, as_of_ms: int | None, timings: dict[str, float] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Facts and entities by vector and full-text (one statement), then the graph around the best entities:
        entities within two hops and the facts about all of them. Runs on the pool beside the turn search."""
        timings = {} if timings is None else timings
        k = top_k * 2
        vec = _resolved(vec)
        began = time.perf_counter()
        res = semantic.search(
            self.stores, self.user_id, text, vec, k, as_of_ms, exact=semantic.exact_for(self.stores, self.user_id)
        )
        timings["semantic_search"] = _ms(began)
        began = time.perf_counter()
        entities = fuse({"vector": res["entity_vector"], "fulltext": res["entity_fulltext"]}, {})
        seeds = [e.id for e in entities[: self.tuning.expansion_seeds]]
        res["expanded"], res["graph_facts"] = semantic.expand_with_facts(
            self.stores, self.user_id, seeds, depth=2, limit=k, as_of_ms=as_of_ms
        )
        timings["graph_expansion"] = _ms(began)
        return res

    def _fuse_semantic(
        self, job: Future[dict[str, list[dict[str, Any]]]], top_k: int
    ) -> tuple[list[FactHit], list[EntityHit]]:
        res = job.result()
        facts = fuse(
            {"vector": res["fact_vector"], "fulltext": res["fact_fulltext"], "graph": res["graph_facts"]},
            {"vector": 1.0, "fulltext": 1.0, "graph": 0.5},
        )
        for c in facts:  # confidence and salience break ties between equally ranked facts
            c.score += 0.02 * float(c.item.get("confidence") or 0) + 0.01 * float(c.item.get("salience") or 0)
        facts = best_first(facts)
        ents = fuse(
            {"vector": res["entity_vector"], "fulltext": res["entity_fulltext"], "graph": res["expanded"]},
            {"vector": 1.0, "fulltext": 1.0, "graph": 0.5},
        )
        fact_items = [FactHit(**{**c.item, "score": round(c.score, 6), "found_by": c.found_by}) for c in facts[:top_k]]
        entity_items = [entity_hit(c.item, c.score, c.found_by) for c in ents[:top_k]]
        return fact_items, entity_items

    def vector_search_facts(self, query: str, top_k: int = 10) -> list[FactHit]:
        """This user's current facts nearest to `query` by embedding alone, best first (score: similarity)."""
        rows = self._vector_semantic(query, top_k)["fact_vector"]
        return [FactHit(**{**f, "score": round(float(f["score"]), 6), "found_by": ["vector"]}) for f in rows]

    def vector_search_entities(self, query: str, top_k: int = 10) -> list[EntityHit]:
        """This user's entities nearest to `query` by embedding alone, best first (score: similarity)."""
        rows = self._vector_semantic(query, top_k)["entity_vector"]
        return [entity_hit(e, float(e["score"]), ["vector"]) for e in rows]

    def _vector_semantic(self, query: str, top_k: int) -> dict[str, list[dict[str, Any]]]:
        _check_top_k(top_k)
        text = self._clean_query(query)
        vec = self.stores.embedder.embed([text])[0]
        exact = semantic.exact_for(self.stores, self.user_id)
        return semantic.search(self.stores, self.user_id, text, vec, top_k, None, fulltext=False, exact=exact)

    # ---- the bundle ------------------------------------------------------------------------------
    def remember(
        self,
        query: str,
        top_k: int = 10,
        *,
        include_episodic: bool = True,
        include_semantic: bool = True,
        include_procedural: bool = True,
        time_window_hours: float | None = None,
        as_of: datetime | None = None,
    ) -> MemoryBundle:
        """Everything relevant to `query` for this user, ranked per section."""
        _check_top_k(top_k)
        started = time.perf_counter()
        text = self._clean_query(query)
        since, until = self._window(time_window_hours, as_of)
        as_of_ms = to_ms(utc(as_of)) if as_of else None
        pool = self.stores.executor
        warnings: list[str] = []
        timings: dict[str, float] = {}
        vec = self._embedding(text, timings)  # the one query embedding every strategy shares
        semantic_job = pool.submit(self._semantic, text, vec, top_k, as_of_ms, timings) if include_semantic else None
        context_job = pool.submit(self._context, text, vec, top_k, include_procedural, timings)
        bundle = MemoryBundle(query=text)
        if include_episodic:
            began = time.perf_counter()
            # the hashing embedder's turn search weighs its own query vector by the user's idf
            turn_vec = None if self._weighted_query() else vec
            bundle.relevant_turns = self._turns(text, top_k, since, until, "hybrid", warnings, timings, turn_vec)
            timings["episodic"] = _ms(began)
        if semantic_job is not None:
            try:
                bundle.facts, bundle.entities = self._fuse_semantic(semantic_job, top_k)
            except StoreUnavailableError as exc:  # facts and entities live in the graph alone; the turns stand
                warnings.append(f"facts and entities skipped: {exc}")
            timings["semantic_done"] = _ms(started)
        goals, profile, strategies, context_warnings = context_job.result()
        warnings.extend(context_warnings)
        if goals is not None:
            bundle.active_goals = goals
        if profile is not None:
            bundle.user_context = profile
        if strategies is not None:
            bundle.strategies = strategies
        timings["total"] = _ms(started)
        bundle.timings_ms = timings
        tracing.annotate(
            **{"memory.turns": len(bundle.relevant_turns), "memory.facts": len(bundle.facts)},
            **{"memory.entities": len(bundle.entities), "memory.warnings": len(warnings)},
        )
        for w in warnings:
            log.warning("remember(): %s", w)
        self._touch_later(bundle)
        return bundle

    def _embedding(self, text: str, timings: dict[str, float]) -> Future[list[float]]:
        """The query's embedding: computed at once by an embedder cheaper than a cache read (hashing), else
        started on the pool, so that the full-text strategies, which need no vector, run meanwhile (ONNX
        Runtime and the embedding cache's Redis read release the GIL)."""

        def embed() -> list[float]:
            began = time.perf_counter()
            vec = self.stores.embedder.embed([text])[0]
            timings["embed"] = _ms(began)
            return vec

        if getattr(self.stores.embedder, "worth_caching", True):
            return self.stores.executor.submit(embed)
        done: Future[list[float]] = Future()
        done.set_result(embed())
        return done

    def _context(
        self, text: str, vec: QueryVector, top_k: int, procedural: bool, timings: dict[str, float]
    ) -> tuple[list[Goal] | None, dict[str, Any] | None, list[StrategyMatch] | None, list[str]]:
        """Active goals, the profile and (with `procedural`) the strategies that worked for `text`, and the
        warnings of the sections skipped — one pool job: each section comes from the per-process cache under the
        user's context version (one Redis GET), so three jobs cost more in thread hand-offs than they overlap."""
        warnings: list[str] = []
        version = context_cache.version(self.stores, self.user_id)
        goals = _section("goals", lambda: self._goals(version, timings), warnings)
        profile = _section("profile", lambda: self._profile(version, timings), warnings)
        strategies = None
        if procedural:
            strategies = _section("procedural", lambda: self._procedural(text, vec, top_k, version, timings), warnings)
        return goals, profile, strategies, warnings

    @tracing.traced("remember.procedural", result=lambda found: {"memory.strategies": len(found)})
    def _procedural(
        self,
        text: str,
        vec: QueryVector,
        top_k: int,
        version: context_cache.Version,
        timings: dict[str, float],
    ) -> list[StrategyMatch]:
        from memory_runtime.memory.procedural import ProceduralMemory

        began = time.perf_counter()
        memory = ProceduralMemory(self.stores, self.user_id)
        found: list[StrategyMatch] = []
        if context_cache.get(self.stores, self.user_id, version, "has_strategies", memory.has_strategies):
            found = memory.what_worked_for(text, top_k=min(top_k, 5), query_vector=_resolved(vec))
        timings["procedural"] = _ms(began)
        return found

    @tracing.traced("remember.goals", result=lambda found: {"memory.goals": len(found)})
    def _goals(self, version: context_cache.Version, timings: dict[str, float]) -> list[Goal]:
        from memory_runtime.memory.goals import GoalMemory

        began = time.perf_counter()
        goals = GoalMemory(self.stores, self.user_id).get_active_goals
        found = context_cache.get(self.stores, self.user_id, version, "goals", goals)
        timings["goals"] = _ms(began)
        return found

    @tracing.traced("remember.profile")
    def _profile(self, version: context_cache.Version, timings: dict[str, float]) -> dict[str, Any]:
        from memory_runtime.memory.users import UserModel

        began = time.perf_counter()
        profile = UserModel(self.stores, self.user_id).get_user_context
        found = context_cache.get(self.stores, self.user_id, version, "profile", profile)
        timings["profile"] = _ms(began)
        return dict(found)  # the bundle's section is a plain dict

    def _touch_later(self, bundle: MemoryBundle) -> None:
        """Note the access to every returned item (written behind, see `access`); never fails the read."""
        access.record_later(
            self.stores,
            self.user_id,
            {
                # the stored id rides in source_turn_ids (`_turn_items`): no uuid5 per turn
                "Turn": [
                    t.source_turn_ids[0] if t.source_turn_ids else ids.turn_id(t.conversation_id, t.index)
                    for t in bundle.relevant_turns
                ],
                "Fact": [f["id"] for f in bundle.facts],
                "Entity": [e["id"] for e in bundle.entities],
            },
        )
