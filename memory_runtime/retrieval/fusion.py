"""Rank fusion: reciprocal-rank fusion of strategy result lists, recency, diversity.

Only ranks cross strategy boundaries — full-text scores differ between Lucene and RediSearch and
vector scores between engines — so a fused score means the same thing on every backend.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def fuse(
    lists: dict[str, list[dict[str, Any]]],
    weights: dict[str, float],
    *,
    key: str = "id",
    score_key: str = "score",
) -> list[Candidate]:
    """Weighted reciprocal-rank fusion; the fused score is normalised to [0, 1]."""
    by_id: dict[str, Candidate] = {}
    for strategy, items in lists.items():
        for rank, item in enumerate(items):
            cand = by_id.setdefault(item[key], Candidate(item[key], dict(item)))
            if strategy in cand.ranks:
                continue
            cand.ranks[strategy] = rank
            if score_key in item and item[score_key] is not None:
                cand.raw_scores[strategy] = float(item[score_key])
            cand.item.update({k: v for k, v in item.items() if cand.item.get(k) is None})
    best = sum(weights.get(s, 1.0) for s in lists) / (RRF_K + 1) or 1.0
    for cand in by_id.values():
        cand.score = sum(weights.get(s, 1.0) / (RRF_K + 1 + r) for s, r in cand.ranks.items()) / best
    return sorted(by_id.values(), key=lambda c: -c.score)


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
    for cand in sorted(cands, key=lambda c: -c.score):
        n = seen.get(group(cand), 0)
        seen[group(cand)] = n + 1
        cand.score *= penalty**n
        out.append(cand)
    return sorted(out, key=lambda c: -c.score)
