"""The reranking stage after turn fusion: a linear model over features of each fused candidate.

`MEMORY_RERANKER=features` (the default) re-orders the fused turn candidates of `remember()` by a
weighted sum of features a cross-encoder would otherwise have to learn from text — how much of the
query's idf mass the turn (and the turn with its neighbours) matches, whether it names the people the
query names, whether it is itself a question, its length and age — beside the fusion's own evidence (fused
score and rank, BM25, cosine, which strategies found it, the session's coverage). The weights are fitted
on the retrieval evaluation set by `benchmarks/retrieval_eval/fit_reranker.py` (a pairwise logistic loss
on one half of the conversations, checked on the other) and stored in `rerank_weights.json`, one set for
lexical vectors (the hashing embedder) and one for a semantic model (local, openai, sentence-transformers),
because a cosine means something else in each; each set also says how many fused candidates it orders (the
depth with the best held-out recall: a semantic model's deeper candidates hold more of the answers). `none`
keeps the fused order.

No cross-encoder is offered: no package on the registry ships one's weights (flashrank, for one,
downloads its models at run time, which this project never does), and a MiniLM cross-encoder over 50
candidates would cost more than the whole 50 ms budget of `remember()` on two cores.

Scoring 50-100 candidates costs well under a millisecond: the features come from what fusion already
holds (texts, scores, the query's term weights); nothing is fetched.
"""

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from memory_runtime.domain.text import STOPWORDS, cached_content_terms, content_terms
from memory_runtime.retrieval.fusion import Candidate, best_first, recency_boost
from memory_runtime.retrieval.sessions import coverage

RerankerName = Literal["none", "features"]
RERANKERS: tuple[RerankerName, ...] = ("none", "features")
WEIGHTS_FILE = Path(__file__).resolve().parent / "rerank_weights.json"

FEATURES = (
    "fused",  # fused score / best fused score
    "rank",  # 1 / log2(2 + fused rank)
    "bm25",  # BM25 / best BM25 among the candidates
    "cosine",  # the vector strategy's similarity (0 when it did not find the turn)
    "both",  # found by full-text and by vector search
    "context_only",  # brought in only as a neighbour of a strong turn
    "coverage",  # share of the query's idf mass the turn's own terms match
    "window",  # the same for the turn with its neighbours at ±1 among the candidates
    "previous",  # the coverage of the turn before it (an answer follows the turn that echoes the question)
    "next",  # the coverage of the turn after it
    "session",  # the same for all candidates of its conversation (`sessions.coverage`)
    "names",  # share of the query's names (capitalised words) the turn contains
    "speaker",  # the turn's "Name:" speaker prefix is a name of the query
    "question",  # the turn asks something (ends with "?") rather than stating it
    "length",  # log of the turn's content terms, scaled to about [0, 1]
    "recency",  # 1 now, 0.5 after 30 days
)

_NAME = re.compile(r"\b[A-Z][a-zA-Z-]+")  # "Silas's" names Silas
_SPEAKER = re.compile(r"^\s*([A-Z][\w'’-]*(?: [A-Z][\w'’-]*)?):")
_NOT_NAMES = STOPWORDS | {"what", "when", "where", "who", "which", "why", "how", "tell", "can", "could", "has", "have"}


@dataclass(frozen=True)
class Query:
    """What every candidate is compared with: the query text, its term weights (stem → idf), its names."""

    text: str
    weights: dict[str, float]
    names: frozenset[str]

    @classmethod
    def of(cls, text: str, weights: dict[str, float]) -> "Query":
        """The query's features; without full-text weights every content term weighs 1."""
        terms = weights or dict.fromkeys(content_terms(text), 1.0)
        names = {m.group(0) for m in _NAME.finditer(text)}
        return cls(text, terms, frozenset(n for n in names if n.lower() not in _NOT_NAMES))


def _share(terms: Iterable[str], weights: dict[str, float], mass: float) -> float:
    return sum(weights[t] for t in set(terms) if t in weights) / mass if mass > 0 else 0.0


def features(query: Query, cands: list[Candidate], reference: datetime) -> np.ndarray:
    """One row of FEATURES per candidate, in the candidates' (fused) order."""
    if not cands:
        return np.zeros((0, len(FEATURES)))
    mass = sum(query.weights.values())
    terms = [set(cached_content_terms(c.item.get("content") or "")) for c in cands]  # met by BM25 already
    at = {(c.item["conversation_id"], c.item["index"]): i for i, c in enumerate(cands)}
    sessions = coverage(cands, query.weights)
    best_fused = max(c.score for c in cands) or 1.0
    best_bm25 = max((c.raw_scores.get("fulltext", 0.0) for c in cands), default=0.0) or 1.0
    rows = []
    for rank, (c, own) in enumerate(zip(cands, terms, strict=True)):
        content = str(c.item.get("content") or "")
        conv, index = c.item["conversation_id"], c.item["index"]
        before, after = (terms[j] if (j := at.get((conv, index + d))) is not None else set() for d in (-1, 1))
        cosine = c.raw_scores.get("vector", c.item.get("similarity"))
        speaker = _SPEAKER.match(content)
        named = sum(1 for n in query.names if n in content)
        rows.append(
            (
                c.score / best_fused,
                1.0 / math.log2(2 + rank),
                c.raw_scores.get("fulltext", 0.0) / best_bm25,
                float(cosine) if cosine is not None else 0.0,
                float("fulltext" in c.ranks and "vector" in c.ranks),
                float(set(c.ranks) == {"context"}),
                _share(own, query.weights, mass),
                _share(own | before | after, query.weights, mass),
                _share(before, query.weights, mass),
                _share(after, query.weights, mass),
                sessions.get(conv, 0.0),
                named / len(query.names) if query.names else 0.0,
                float(speaker is not None and speaker.group(1) in query.names),
                float(content.rstrip().endswith("?")),
                min(1.0, math.log1p(len(own)) / math.log(40)),
                recency_boost(c.item.get("timestamp"), reference),
            )
        )
    return np.asarray(rows, dtype=np.float64)


@lru_cache(maxsize=1)
def fitted_sets() -> dict[str, tuple[int, dict[str, float]]]:
    """The fitted sets ("lexical", "semantic"): each its rerank depth and its weight per feature name."""
    sets = json.loads(WEIGHTS_FILE.read_text())["sets"]
    return {name: (int(s["depth"]), dict(s["weights"])) for name, s in sets.items()}


class FeatureReranker:
    """Orders the best `depth` fused candidates by a weighted sum of their FEATURES."""

    def __init__(self, weights: dict[str, float], depth: int = 50) -> None:
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown reranking features: {', '.join(sorted(unknown))}")
        self.weights = np.array([weights.get(f, 0.0) for f in FEATURES])
        self.depth = depth

    @classmethod
    def fitted(cls, semantic: bool) -> "FeatureReranker":
        """The reranker with the depth and weights fitted for a semantic or a lexical (hashing) embedder."""
        depth, weights = fitted_sets()["semantic" if semantic else "lexical"]
        return cls(weights, depth)

    def rerank(self, query: Query, cands: list[Candidate], reference: datetime) -> list[Candidate]:
        """The candidates by descending model score; each candidate's score becomes the logistic of it."""
        matrix = features(query, cands, reference)
        for c, logit in zip(cands, matrix @ self.weights, strict=True):
            c.score = 1.0 / (1.0 + math.exp(-float(logit)))
        return best_first(cands)
