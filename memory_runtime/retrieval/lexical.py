"""Okapi BM25 over full-text candidates, with the user's own term statistics.

The graph's full-text index finds the candidates, but its scores are not used: RediSearch's TF-IDF
divides by the distance between matched terms (a turn matching two query words can score below one
matching a single word) and has no length normalisation, and Lucene's BM25 differs again. Scoring the
candidates here gives one BM25 ranking on every backend: per-user document frequencies come from the
index (a count per query term), term frequencies and lengths from the turn text, tokenised exactly as
`memory_runtime.domain.text.content_terms`.
"""

import contextlib
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from memory_runtime.domain.text import cached_content_terms, content_terms
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import retrieval as q

log = logging.getLogger(__name__)

K1 = 0.9  # Anserini's passage defaults (k1 0.9, b 0.4): chat turns are short and their length says little
B = 0.4
STATS_FRESH_S = 600  # per-user N and average length drift slowly; a stale value only nudges idf
STATS_KEEP_S = 86_400  # a stale value is answered (while a refresh runs) for up to a day
STATS_REFRESH_LOCK_S = 60
FREQUENCIES_TTL_S = 600
STATS_SAMPLE = 300
DEFAULT_AVG_TERMS = 10.0


@dataclass(frozen=True)
class CorpusStats:
    """Size of a user's searchable turn log, its mean length in content terms and characters per term, and
    how many turns (of all users) the shared index holds."""

    turns: int
    avg_terms: float
    chars_per_term: float = 6.0
    indexed: int = 0


def idf(df: int, n: int) -> float:
    """Lucene's BM25 idf (never negative, so a very common term still counts a little)."""
    n = max(n, df)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def corpus_stats(stores: Stores, user_id: str) -> CorpusStats:
    """The user's turn count and mean turn length, cached in Redis.

    Counting a long history costs milliseconds (about 20 ms at 100k turns), so a query never waits for it
    once the statistics exist: past STATS_FRESH_S the cached value is still answered, and one refresh (a
    Redis lock keeps it to one per user) runs on the store pool. Only a user's first query counts in line.
    """
    return stats_and_frequencies(stores, user_id, [])[0]


def stats_and_frequencies(stores: Stores, user_id: str, stems: list[str]) -> tuple[CorpusStats, dict[str, int]]:
    """`corpus_stats`, and the document frequencies of frequent terms among `stems` remembered from earlier
    queries (`remember_frequencies`; {} when Redis is down), in one Redis round trip."""
    key = stores.redis.key("bm25stats", user_id)
    try:
        pipe = stores.redis.client.pipeline(transaction=False)
        pipe.get(key)
        if stems:
            pipe.hmget(stores.redis.key("bm25df", user_id), stems)
        replies = pipe.execute()
    except redis.RedisError as exc:
        log.debug("BM25 statistics cache unavailable: %s", exc)
        return _count(stores, user_id, key), {}
    frequencies = _frequencies(stems, replies[1]) if stems else {}
    try:
        if replies[0]:
            cached = json.loads(replies[0])
            stats = CorpusStats(
                int(cached["turns"]),
                float(cached["avg_terms"]),
                float(cached["chars_per_term"]),
                int(cached["indexed"]),
            )
            if time.time() - float(cached["at"]) > STATS_FRESH_S:
                _refresh_later(stores, user_id, key)
            return stats, frequencies
    except (redis.RedisError, ValueError, KeyError, TypeError) as exc:
        log.debug("BM25 statistics cache unreadable: %s", exc)
    return _count(stores, user_id, key), frequencies


def forget_statistics(stores: Stores, user_id: str) -> None:
    """Drop the user's cached statistics and remembered term frequencies: the next query counts them from the
    turns as they are then (the cache otherwise answers values up to STATS_KEEP_S old)."""
    stores.redis.client.delete(stores.redis.key("bm25stats", user_id), stores.redis.key("bm25df", user_id))


_STATS_FIELDS = ("turns", "avg_terms", "chars_per_term", "indexed")  # the cached fields, in CorpusStats order


def _refresh_later(stores: Stores, user_id: str, key: str) -> None:
    if not stores.redis.client.set(key + ":refresh", 1, nx=True, ex=STATS_REFRESH_LOCK_S):
        return  # another query is refreshing them
    try:
        stores.executor.submit(_refresh, stores, user_id, key)
    except RuntimeError:  # the stores are closing
        pass


def _refresh(stores: Stores, user_id: str, key: str) -> None:
    try:
        _count(stores, user_id, key)
    except Exception as exc:  # a background refresh must not fail anyone; the next stale read retries
        log.warning("BM25 statistics refresh for a user failed: %s", exc)
    finally:
        with contextlib.suppress(redis.RedisError):
            stores.redis.client.delete(key + ":refresh")


def _count(stores: Stores, user_id: str, key: str) -> CorpusStats:
    """Count the user's turns, sample their lengths, and cache the result."""
    graph = stores.graph
    rows = graph.read(q.turn_count(graph.dialect), {"user_id": user_id, "sample": STATS_SAMPLE})
    total = int(rows[0]["total"]) if rows else 0
    indexed = int(rows[0]["indexed"]) if rows else 0
    sample = rows[0]["sample"] if rows else []
    terms = sum(len(content_terms(c or "")) for c in sample)
    chars = sum(len(c or "") for c in sample)
    avg = terms / len(sample) if sample else DEFAULT_AVG_TERMS
    stats = CorpusStats(total, max(avg, 1.0), chars / terms if terms else 6.0, max(indexed, total))
    value = {name: getattr(stats, name) for name in _STATS_FIELDS} | {"at": time.time()}
    try:
        stores.redis.client.set(key, json.dumps(value), ex=STATS_KEEP_S)
    except redis.RedisError as exc:
        log.debug("BM25 statistics not cached: %s", exc)
    return stats


def _frequencies(stems: list[str], values: list[Any]) -> dict[str, int]:
    return {s: int(v) for s, v in zip(stems, values, strict=True) if v is not None}


def remember_frequencies(stores: Stores, user_id: str, frequencies: dict[str, int]) -> None:
    """Cache the document frequencies of frequent terms for a few minutes: enumerating their postings is
    the costly part of a query over a long history, and their idf barely moves as turns arrive."""
    if not frequencies:
        return
    key = stores.redis.key("bm25df", user_id)
    try:
        pipe = stores.redis.client.pipeline(transaction=False)
        # redis-py types `mapping` with invariant EncodableT keys, which no dict[str, ...] matches
        pipe.hset(key, mapping=frequencies)  # type: ignore[arg-type]
        pipe.expire(key, FREQUENCIES_TTL_S, nx=True)
        pipe.execute()
    except redis.RedisError as exc:
        log.debug("BM25 frequencies not cached: %s", exc)


def estimate(query: dict[str, float], matched: Iterable[str], length: float, avg_terms: float) -> float:
    """BM25 from what the index tells without the text: the matched terms (tf 1, as in most chat turns) and
    a length estimate. Picks which candidates are worth fetching for the exact `score`."""
    norm = K1 * (1.0 - B + B * length / avg_terms)
    return sum(query.get(t, 0.0) for t in matched) * (K1 + 1.0) / (1.0 + norm)


def score(query: dict[str, float], text: str, avg_terms: float, matched: Iterable[str] = ()) -> float:
    """BM25 of one turn for `query` (stem → idf). `matched` stems count at least once: the index matched
    them (its stemmer may fold words ours keeps apart)."""
    terms = cached_content_terms(text)
    tf = Counter(t for t in terms if t in query)
    for stem in matched:
        tf[stem] = max(tf[stem], 1)
    if not tf:
        return 0.0
    norm = K1 * (1.0 - B + B * len(terms) / avg_terms)
    return sum(query[t] * f * (K1 + 1.0) / (f + norm) for t, f in tf.items())
