"""Fusion of strategy result lists (reciprocal-rank or weighted score), recency, diversity.

Reciprocal-rank fusion (`fuse`) uses only ranks, for lists whose scores differ between backends (fact and
entity full-text: Lucene vs RediSearch). Turn search fuses scores (`combine`): its full-text score is BM25
computed here and its vector score a cosine the dialect normalises, so both mean the same on every backend,
and the size of a score gap carries information ranks throw away.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memory_runtime import tracing

RRF_K = 60


@dataclass
class Candidate:
    """One item found by one or more strategies."""

    id: str
    item: dict[str, Any]
    ranks: dict[str, int] = field(default_factory=dict)
    raw_scores: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    @property
    def found_by(self) -> list[str]:
        """Strategies that retrieved the item, best rank first."""
        return sorted(self.ranks, key=lambda s: self.ranks[s])


def best_first(cands: Iterable[Candidate]) -> list[Candidate]:
    """Candidates by score, best first; equal scores by id, so that the order depends on the store's content
    alone, never on the order an index returns equally scored hits in (a restored store's indexes were built
    in another insertion order)."""
    return sorted(cands, key=lambda c: (-c.score, c.id))


def _gather(lists: dict[str, list[dict[str, Any]]], key: str, score_key: str) -> dict[str, Candidate]:
    """One Candidate per item id, in first-seen order: its rank and raw score in each strategy that found it
    (the first occurrence counts), and the union of the fields the strategies returned for it."""
    by_id: dict[str, Candidate] = {}
    for strategy, items in lists.items():
        for rank, item in enumerate(items):
            cand = by_id.get(item[key])
            if cand is None:  # first seen: its fields are the item's own
                cand = by_id[item[key]] = Candidate(item[key], dict(item))
            elif strategy in cand.ranks:
                continue
            else:
                fields = cand.item
                fields.update({k: v for k, v in item.items() if fields.get(k) is None})
            cand.ranks[strategy] = rank
            if (score := item.get(score_key)) is not None:
                cand.raw_scores[strategy] = float(score)
    return by_id


@tracing.traced("fusion", result=lambda fused: {"memory.candidates": len(fused)})
def fuse(
    lists: dict[str, list[dict[str, Any]]],
    weights: dict[str, float],
    *,
    key: str = "id",
    score_key: str = "score",
) -> list[Candidate]:
    """Weighted reciprocal-rank fusion; the fused score is normalised to [0, 1]."""
    by_id = _gather(lists, key, score_key)
    best = sum(weights.get(s, 1.0) for s in lists) / (RRF_K + 1) or 1.0
    for cand in by_id.values():
        cand.score = sum(weights.get(s, 1.0) / (RRF_K + 1 + r) for s, r in cand.ranks.items()) / best
    return best_first(by_id.values())


def _scaler(lo: float, hi: float) -> Callable[[float | None], float]:
    """Maps [lo, hi] onto [0, 1] (clipped); a degenerate range maps its top to 1."""
    if hi <= lo:
        return lambda x: 1.0 if x is not None and x >= hi else 0.0
    span = hi - lo
    return lambda x: 0.0 if x is None else min(1.0, max(0.0, (float(x) - lo) / span))


@tracing.traced("fusion", result=lambda out: {"memory.candidates": len(out[0])})
def combine(
    lists: dict[str, list[dict[str, Any]]],
    weights: dict[str, float],
    *,
    zero_floor: Iterable[str] = (),
    key: str = "id",
    score_key: str = "score",
) -> tuple[list[Candidate], dict[str, Callable[[float | None], float]]]:
    """Weighted sum of per-strategy scores, each scaled to [0, 1] over its own list; also returns the scalers.

    A strategy in `zero_floor` scales by its best score (BM25: 0 means no match); the others by min-max
    over the list (a cosine's floor depends on the embedder). Used where every strategy's score means the
    same on every backend — BM25 computed in Python, cosine similarity normalised by the dialect — so
    unlike rank fusion it keeps how much better the best hit is than the tenth.
    """
    floors = set(zero_floor)
    scalers: dict[str, Callable[[float | None], float]] = {}
    for strategy, items in lists.items():
        values = [float(i[score_key]) for i in items if i.get(score_key) is not None]
        hi = max(values, default=1.0)
        scalers[strategy] = _scaler(0.0 if strategy in floors else min(values, default=0.0), hi)
    by_id = _gather(lists, key, score_key)
    for cand in by_id.values():
        cand.score = sum(weights.get(s, 1.0) * scalers[s](cand.raw_scores.get(s)) for s in cand.ranks)
    return best_first(by_id.values()), scalers


def recency_boost(when: datetime | None, reference: datetime, half_life_days: float = 30.0) -> float:
    """In [0, 1]: 1 for now, 0.5 after one half-life."""
    if when is None:
        return 0.0
    age_days = max(0.0, (reference - when).total_seconds() / 86400)
    return math.pow(0.5, age_days / half_life_days)


def diversify(cands: Iterable[Candidate], group: Callable[[Candidate], Any], penalty: float = 0.85) -> list[Candidate]:
    """Re-rank so that the n-th item of the same group (conversation) is damped by penalty**n."""
    seen: dict[Any, int] = {}
    out = []
    for cand in best_first(cands):
        n = seen.get(group(cand), 0)
        seen[group(cand)] = n + 1
        cand.score *= penalty**n
        out.append(cand)
    return best_first(out)
