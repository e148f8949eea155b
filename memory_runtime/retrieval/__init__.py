"""remember(): hybrid, user-scoped, time-aware recall, fused into one MemoryBundle.

One query embedding (cached), then every strategy runs concurrently on the store thread pool:

- episodic: turn vector search (graph HNSW, exact Postgres scan when under-filled) + turn full-text
  (graph index), RRF-fused, plus a recency
  signal, salience as tie-breaker, the next/previous turn of the strongest hits, and a diversity
  penalty per conversation;
- semantic: fact vector + full-text, entity vector + full-text, then graph expansion (depth ≤ 2) from
  the top entities bringing their facts; invalidated facts only appear for an `as_of` when they held;
- procedural: strategies by similarity × success rate; active goals; the user profile.

Access statistics of returned items are written afterwards on the pool, off the caller's path.
"""

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from memory_runtime.errors import AgentMemoryError, ValidationError
from memory_runtime.models import MemoryBundle, now, to_ms, utc
from memory_runtime.retrieval import episodic, semantic
from memory_runtime.retrieval.fusion import Candidate, diversify, fuse, recency_boost
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import retrieval as q

log = logging.getLogger(__name__)

Mode = str  # "hybrid" | "vector" | "fulltext"


@dataclass(frozen=True)
class Tuning:
    """Fusion weights and bonuses (one place, so the evaluation harness can sweep them)."""

    vector_weight: float = 1.0
    fulltext_weight: float = 1.0
    recency_weight: float = 0.05
    salience_weight: float = 0.02
    neighbour_hits: int = 3
    neighbour_decay: float = 0.6
    conversation_penalty: float = 0.9
    candidate_factor: int = 5
    expansion_seeds: int = 3


class Retriever:
    """Recall for one user."""

    def __init__(self, stores: Stores, user_id: str, tuning: Tuning | None = None) -> None:
        self.stores = stores
        self.user_id = user_id
        self.tuning = tuning or Tuning()

    # ---- inputs ----------------------------------------------------------------------------------
    def _clean_query(self, query: str) -> str:
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("remember() needs a non-empty query string")
        query = query.strip()
        limit = self.stores.settings.max_query_chars
        return query[:limit]  # a pasted document is truncated, not rejected

    def _window(self, hours: float | None, as_of: datetime | None) -> tuple[datetime | None, datetime | None]:
        until = utc(as_of)
        if hours is None:
            return None, until
        if hours <= 0:
            raise ValidationError("time_window_hours must be positive")
        return (until or now()) - timedelta(hours=hours), until

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
    ) -> list[dict[str, Any]]:
        """Turns for `query` by one strategy or the fused hybrid (what the evaluation compares)."""
        text = self._clean_query(query)
        since, until = self._window(time_window_hours, as_of)
        vec = vector or self.stores.embedder.embed([text])[0]
        jobs = self._turn_jobs(text, vec, top_k, since, until, mode)
        return self._fuse_turns(jobs, top_k, since, until, mode, [])

    def _turn_jobs(self, text, vec, top_k, since, until, mode: Mode) -> dict[str, Future]:
        """Submit the turn strategies of `mode` (leaf queries only: nothing on the pool waits on it)."""
        k = top_k * self.tuning.candidate_factor
        pool, args = self.stores.executor, (self.stores, self.user_id)
        jobs: dict[str, Future] = {}
        if mode in ("hybrid", "vector"):
            jobs["vector"] = pool.submit(
                episodic.with_fallback, episodic.vector, episodic.vector_exact_pg, *args, vec, k, since, until
            )
        if mode in ("hybrid", "fulltext"):
            jobs["fulltext"] = pool.submit(
                episodic.with_fallback,
                episodic.fulltext_graph,
                episodic.fulltext_pg,
                *args,
                text,
                k,
                since,
                until,
            )
        return jobs

    def _fuse_turns(
        self, jobs: dict[str, Future], top_k: int, since, until, mode: Mode, warnings: list[str]
    ) -> list[dict[str, Any]]:
        t = self.tuning
        lists: dict[str, list[dict[str, Any]]] = {}
        for name, job in jobs.items():
            rows, warning = job.result()
            lists[name] = rows
            if warning:
                warnings.append(warning)
        cands = fuse(lists, {"vector": t.vector_weight, "fulltext": t.fulltext_weight})
        reference = until or now()
        for c in cands:
            c.score += t.recency_weight * recency_boost(c.item.get("timestamp"), reference)
            c.score += t.salience_weight * float(c.item.get("salience") or 0.5)
        if mode == "hybrid" and cands:
            cands = self._with_neighbours(cands, since, until)
        cands = diversify(cands, lambda c: c.item["conversation_id"], t.conversation_penalty)[:top_k]
        return [self._turn_item(c) for c in cands]

    def _with_neighbours(self, cands: list[Candidate], since, until) -> list[Candidate]:
        t = self.tuning
        have = {(c.item["conversation_id"], c.item["index"]) for c in cands}
        wanted: dict[tuple[str, int], Candidate] = {}
        for c in cands[: t.neighbour_hits]:
            for delta in (1, -1):
                key = (c.item["conversation_id"], c.item["index"] + delta)
                if key not in have and key[1] >= 0:
                    wanted.setdefault(key, c)
        rows = episodic.neighbours(self.stores, self.user_id, list(wanted), since, until)
        for row in rows:
            parent = wanted[(row["conversation_id"], row["index"])]
            decay = t.neighbour_decay if row["index"] > parent.item["index"] else t.neighbour_decay / 2
            cands.append(Candidate(row["id"], dict(row), {"neighbour": 0}, {}, parent.score * decay))
        return sorted(cands, key=lambda c: -c.score)

    @staticmethod
    def _turn_item(c: Candidate) -> dict[str, Any]:
        item = c.item
        return {
            "id": item["id"],
            "conversation_id": item["conversation_id"],
            "index": item["index"],
            "role": item["role"],
            "content": item["content"],
            "timestamp": item.get("timestamp"),
            "salience": item.get("salience"),
            "score": round(c.score, 6),
            "found_by": c.found_by,
            "source_turn_ids": [item["id"]],
        }

    # ---- facts and entities ----------------------------------------------------------------------
    def _semantic_jobs(self, text, vec, top_k: int, as_of_ms: int | None) -> dict[str, Future]:
        """Submit the fact and entity searches."""
        k = top_k * 2
        pool, args = self.stores.executor, (self.stores, self.user_id)
        return {
            "fact_vector": pool.submit(semantic.fact_vector, *args, vec, k, as_of_ms),
            "fact_fulltext": pool.submit(semantic.fact_fulltext, *args, text, k, as_of_ms),
            "entity_vector": pool.submit(semantic.entity_vector, *args, vec, k),
            "entity_fulltext": pool.submit(semantic.entity_fulltext, *args, text, k),
        }

    def _fuse_semantic(self, jobs: dict[str, Future], top_k: int, as_of_ms: int | None) -> tuple[list, list]:
        t = self.tuning
        k = top_k * 2
        res = {name: job.result() for name, job in jobs.items()}
        entities = fuse({"vector": res["entity_vector"], "fulltext": res["entity_fulltext"]}, {})
        seeds = [e.id for e in entities[: t.expansion_seeds]]
        expanded = semantic.expand(self.stores, self.user_id, seeds, depth=2, limit=k)
        graph_facts = semantic.facts_about(self.stores, self.user_id, seeds + [e["id"] for e in expanded], k, as_of_ms)
        facts = fuse(
            {"vector": res["fact_vector"], "fulltext": res["fact_fulltext"], "graph": graph_facts},
            {"vector": 1.0, "fulltext": 1.0, "graph": 0.5},
        )
        for c in facts:  # confidence and salience break ties between equally ranked facts
            c.score += 0.02 * float(c.item.get("confidence") or 0) + 0.01 * float(c.item.get("salience") or 0)
        facts.sort(key=lambda c: -c.score)
        ents = fuse(
            {"vector": res["entity_vector"], "fulltext": res["entity_fulltext"], "graph": expanded},
            {"vector": 1.0, "fulltext": 1.0, "graph": 0.5},
        )
        fact_items = [{**c.item, "score": round(c.score, 6), "found_by": c.found_by} for c in facts[:top_k]]
        entity_items = [
            {key: c.item.get(key) for key in ("id", "name", "type", "description", "aliases")}
            | {"score": round(c.score, 6), "found_by": c.found_by}
            for c in ents[:top_k]
        ]
        return fact_items, entity_items

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
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 200:
            raise ValidationError("top_k must be an integer between 1 and 200")
        started = time.perf_counter()
        text = self._clean_query(query)
        since, until = self._window(time_window_hours, as_of)
        vec = self.stores.embedder.embed([text])[0]
        as_of_ms = to_ms(utc(as_of)) if as_of else None
        pool = self.stores.executor
        turn_jobs = self._turn_jobs(text, vec, top_k, since, until, "hybrid") if include_episodic else {}
        semantic_jobs = self._semantic_jobs(text, vec, top_k, as_of_ms) if include_semantic else {}
        side_jobs: dict[str, Future] = {
            "goals": pool.submit(self._goals),
            "profile": pool.submit(self._profile),
        }
        if include_procedural:
            side_jobs["procedural"] = pool.submit(self._procedural, text, top_k)
        bundle = MemoryBundle(query=text)
        warnings: list[str] = []
        timings: dict[str, float] = {}
        if turn_jobs:
            bundle.relevant_turns = self._fuse_turns(turn_jobs, top_k, since, until, "hybrid", warnings)
            timings["episodic"] = round((time.perf_counter() - started) * 1000, 2)
        if semantic_jobs:
            bundle.facts, bundle.entities = self._fuse_semantic(semantic_jobs, top_k, as_of_ms)
            timings["semantic"] = round((time.perf_counter() - started) * 1000, 2)
        for name, job in side_jobs.items():
            try:
                result = job.result()
            except AgentMemoryError as exc:  # goals, profile and strategies are context, not the answer
                warnings.append(f"{name} skipped: {exc}")
                continue
            if name == "procedural":
                bundle.strategies = result
            elif name == "goals":
                bundle.active_goals = result
            else:
                bundle.user_context = result
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        bundle.timings_ms = timings
        for w in warnings:
            log.warning("remember(): %s", w)
        self._touch_later(bundle)
        return bundle

    def _procedural(self, text: str, top_k: int) -> list[dict[str, Any]]:
        from memory_runtime.procedural import ProceduralMemory

        return ProceduralMemory(self.stores, self.user_id).what_worked_for(text, top_k=min(top_k, 5))

    def _goals(self) -> list[dict[str, Any]]:
        from memory_runtime.goals import GoalMemory

        return GoalMemory(self.stores, self.user_id).get_active_goals()

    def _profile(self) -> dict[str, Any]:
        from memory_runtime.users import UserModel

        return UserModel(self.stores, self.user_id).get_user_context()

    def _touch_later(self, bundle: MemoryBundle) -> None:
        """Update access statistics off the caller's path (errors are logged, never raised)."""
        batches = {
            "Turn": [t["id"] for t in bundle.relevant_turns],
            "Fact": [f["id"] for f in bundle.facts],
            "Entity": [e["id"] for e in bundle.entities],
        }
        if not any(batches.values()):
            return
        graph, user_id, stamp = self.stores.graph, self.user_id, to_ms(now())

        def touch() -> None:
            for node_label, ids in batches.items():
                if not ids:
                    continue
                try:
                    graph.write(
                        q.touch(graph.dialect, node_label=node_label),
                        {"ids": ids, "user_id": user_id, "now": stamp},
                    )
                except Exception as exc:  # noqa: BLE001 — bookkeeping must never fail a read
                    log.debug("access statistics not recorded: %s", exc)

        try:
            self.stores.executor.submit(touch)
        except RuntimeError:  # executor shut down (store closing)
            pass
