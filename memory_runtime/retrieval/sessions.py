"""Session-level evidence for turn ranking: a conversation that covers the whole query lifts its turns.

A question about one episode ("What breed is Clara's new puppy?") is often answered across a few turns of
one session — the statement, the friend's question, the detail — none of which holds every query term.
Retrieving the session first and then the turn is the usual remedy on long-memory benchmarks; here it is
done on the candidates already in hand, without another store query: a conversation's coverage is the
share of the query's idf mass that its candidate turns match between them, and every candidate of that
conversation gains `weight` × coverage. A session matching only the speaker's name covers little; one
whose turns together match the rare terms covers much.
"""

from collections import defaultdict

from memory_runtime.domain.text import cached_content_terms
from memory_runtime.retrieval.fusion import Candidate, best_first


def coverage(cands: list[Candidate], weights: dict[str, float]) -> dict[str, float]:
    """conversation id → share (0..1) of the query's term weight matched by its candidate turns."""
    mass = sum(weights.values())
    if mass <= 0:
        return {}
    matched: dict[str, set[str]] = defaultdict(set)
    for c in cands:
        terms = matched[c.item["conversation_id"]]
        terms.update(t for t in cached_content_terms(c.item.get("content") or "") if t in weights)
    return {conv: sum(weights[t] for t in terms) / mass for conv, terms in matched.items()}


def boost(cands: list[Candidate], weights: dict[str, float], weight: float) -> list[Candidate]:
    """Add `weight` × its conversation's coverage to every candidate's score; re-sorted."""
    if weight <= 0 or not cands or not weights:
        return cands
    share = coverage(cands, weights)
    for c in cands:
        c.score += weight * share.get(c.item["conversation_id"], 0.0)
    return best_first(cands)
