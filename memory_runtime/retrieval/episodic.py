"""Turn search: dense and full-text, each with a fallback in the other store.

Vector tiers (see schema/postgres/0001_initial.sql): hot turns are found through the graph's HNSW index,
over-fetched and filtered to the user. When that leaves fewer than k hits — a user with few turns among
many, a narrow time window, vectors orphaned by updates (memory_runtime.batch.reindex) — or the graph is
down, an exact scan of the user's rows in Postgres
answers instead (cheap exactly when the index is under-filled). Full-text takes candidates and per-user term
frequencies from the graph's index and ranks them by BM25 (`lexical`); it falls back to Postgres `tsvector`
ranking when the graph is down.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memory_runtime.domain.errors import StoreUnavailableError
from memory_runtime.domain.models import from_ms, to_ms
from memory_runtime.domain.text import stem
from memory_runtime.retrieval import lexical
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.dialect import query_terms
from memory_runtime.stores.graph.queries import retrieval as q
from memory_runtime.stores.postgres import turns as pg_turns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lexical:
    """Full-text result: ranked turns, BM25 weights (stem → idf) of the query terms, mean turn length."""

    turns: list[dict[str, Any]]
    weights: dict[str, float]
    avg_terms: float


MAX_OVERFETCH = 1000
# A query term matching more turns than this adds weight but no candidates: 250, or 1% of a longer log
# (at 100k turns a fixed 250 left a third of the questions with no candidate term at all).
POSTINGS_MAX_DF = 250
POSTINGS_MAX_SHARE = 0.01
MIN_COMMON_CANDIDATES = 10  # fewer turns hold every frequent query term: widen the query
# Up to this many turns, a user's nearest turns come from an exact scan of their rows in Postgres rather than the
# graph's HNSW index: exact, and there no slower. The approximate index, over-fetching 750 to find a user's 50 among
# 20k turns, missed a fifth of the true 50 nearest (recall@50 0.78 with the hashing embedder), and which fifth
# depends on the order the index was built in, so a store restored from a backup answered otherwise. Measured on
# a shared, loaded 2-core machine, same runs: 1.9k turns, exact 4.6-7.8 ms against 4.2-15 ms through the index;
# 2.6k turns, 14-15 ms against 16-21 ms. Past it the scan grows with the history (~5 us a turn) and the index
# does not.
EXACT_SCAN_MAX_TURNS = 3000


def postings_cap(stats: lexical.CorpusStats) -> int:
    """The document frequency above which a term's postings are not enumerated."""
    return max(POSTINGS_MAX_DF, math.ceil(stats.turns * POSTINGS_MAX_SHARE))


def vector_exact_pg(
    stores: Stores, user_id: str, vec: list[float], k: int, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The user's nearest hot turns by exact cosine similarity in Postgres (scores as the graph's)."""
    return pg_turns.nearest_turns(stores.pg, user_id, vec, k, since, until)


def fulltext_pg(
    stores: Stores, user_id: str, text: str, k: int, since: datetime | None, until: datetime | None
) -> Lexical:
    """Turns ranked by Postgres full-text cover density (the fallback when the graph is down)."""
    terms = query_terms(text)
    if not terms or k <= 0:
        return Lexical([], {}, lexical.DEFAULT_AVG_TERMS)
    return Lexical(
        pg_turns.fulltext_turns(stores.pg, user_id, " | ".join(terms), k, since, until), {}, lexical.DEFAULT_AVG_TERMS
    )


def _graph_turns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r["turn"], "timestamp": from_ms(r["turn"]["timestamp"]), "score": r["score"]} for r in rows]


@dataclass(frozen=True)
class Postings:
    """What the graph's index says about the query terms for one user: their weights, and the candidate
    turns BM25 over the rarer terms estimates best, with their text (one statement: `q.turn_postings`)."""

    terms: dict[str, str]  # index query term → stem
    weights: dict[str, float]  # stem → idf, for every query term (one no turn contains is maximally rare)
    present: dict[str, float]  # the weights of the stems some turn contains
    candidates: dict[str, tuple[dict[str, Any], set[str]]]  # turn id → (turn, stems the index matched in it)
    stats: lexical.CorpusStats
    window: dict[str, Any]


def postings_graph(
    stores: Stores, user_id: str, text: str, since: datetime | None, until: datetime | None, *, k: int = 0
) -> Postings:
    """Per-user document frequencies of the query terms (hence their BM25 weights) and, for `k` > 0, the
    turns containing the rarer ones that BM25 estimates best, k + 25% of them — one graph query (frequent
    terms' counts come from Redis). The estimate ignores repeated terms; `rank_graph` rescores the
    candidates exactly, and the margin lets that repair the order at the cut."""
    graph = stores.graph
    by_stem: dict[str, str] = {}
    for token in query_terms(text):
        by_stem.setdefault(stem(token), token)
    terms = {graph.dialect.fulltext_query(token): s for s, token in by_stem.items()}
    terms.pop("", None)
    window = {"user_id": user_id, "since": to_ms(since), "until": to_ms(until)}
    # Frequent terms yield no candidates, so a remembered frequency spares enumerating their postings
    # (not within a time window, where the frequency is the window's).
    remembered = list(terms.values()) if since is until is None else []
    stats, known = lexical.stats_and_frequencies(stores, user_id, remembered)
    if not terms:
        return Postings({}, {}, {}, {}, stats, window)
    cap = postings_cap(stats)
    known = {s: df for s, df in known.items() if df > cap}
    ask = [term for term, s in terms.items() if s not in known]
    n = max([stats.turns, *known.values()])
    params = _postings_params(ask, cap if k > 0 else 0, n, k + k // 4, stats, window)
    rows = graph.read(q.turn_postings(graph.dialect), params) if ask else []
    asked = {term: df for term, df in rows[0]["dfs"]} if rows else {}
    if since is until is None:
        frequent = {terms[term]: df for term, df in asked.items() if df > cap}
        if frequent:  # a cache write: off the query's path
            _later(stores, lexical.remember_frequencies, stores, user_id, frequent)
    frequencies = {**known, **{terms[term]: df for term, df in asked.items()}}
    n = max([n, *frequencies.values()])
    weights = {s: lexical.idf(0, n) for s in terms.values()}
    weights.update({s: lexical.idf(df, n) for s, df in frequencies.items()})
    candidates = {
        r["turn"]["id"]: (r["turn"], {terms[term] for term in r["matched"]}) for r in rows if r["turn"] is not None
    }
    return Postings(terms, weights, {s: weights[s] for s in frequencies}, candidates, stats, window)


def _postings_params(
    ask: list[str], max_df: int, n: int, fetch: int, stats: lexical.CorpusStats, window: dict[str, Any]
) -> dict[str, Any]:
    """The parameters of `q.turn_postings` (BM25's constants and the user's statistics for the estimate)."""
    return {
        "terms": ask, "max_df": max_df, "n": n, "fetch": max(fetch, 1),  # at least the row holding `dfs`
        "k1": lexical.K1, "b": lexical.B,
        "chars_per_term": stats.chars_per_term, "avg_terms": stats.avg_terms, **window,
    }  # fmt: skip


def rank_graph(stores: Stores, post: Postings, k: int) -> Lexical:
    """The `k` best candidate turns by BM25, rescored exactly on their text."""
    present, stats = post.present, post.stats
    if k <= 0 or not post.terms:  # only the term weights were asked for
        return Lexical([], post.weights, stats.avg_terms)
    found = post.candidates
    if not found and present:
        found = {i: (t, set()) for i, t in _common_term_candidates(stores, post, k).items()}
    scored = sorted(
        ((lexical.score(present, t["content"], stats.avg_terms, matched), t) for t, matched in found.values()),
        key=lambda x: (-x[0], x[1]["id"]),
    )
    turns = [{**t, "timestamp": from_ms(t["timestamp"]), "score": s} for s, t in scored[:k] if s > 0]
    return Lexical(turns, present, stats.avg_terms)


def _common_term_candidates(stores: Stores, post: Postings, k: int) -> dict[str, dict[str, Any]]:
    """Candidates when every query term is frequent (none was enumerated): the turns holding all of them,
    then both of the two rarest, then the rarest, and only then any of them, until MIN_COMMON_CANDIDATES
    are found. The any-term query scores and sorts every matching turn (at 100k turns, up to 25 ms); the
    narrower ones cost a few milliseconds at most, and hold the turns BM25 ranks first."""
    graph, present = stores.graph, post.present
    common = sorted((term for term, s in post.terms.items() if s in present), key=lambda t: present[post.terms[t]])
    attempts = [graph.dialect.fulltext_query_all(" ".join(common))]
    if len(common) > 2:
        attempts.append(graph.dialect.fulltext_query_all(" ".join(common[-2:])))  # highest idf = rarest
    if len(common) > 1:
        attempts.append(graph.dialect.fulltext_query(common[-1]))
    attempts.append(graph.dialect.fulltext_query(" ".join(common)))
    found: dict[str, dict[str, Any]] = {}
    for query in attempts:
        rows = graph.read(q.turn_fulltext(graph.dialect), {"q": query, "k": k, **post.window})
        found.update((r["turn"]["id"], r["turn"]) for r in rows)
        if len(found) >= min(k, MIN_COMMON_CANDIDATES):
            break
    return found


def overfetch(k: int, stats: lexical.CorpusStats) -> int:
    """How many nearest turns to ask the shared index for, so that about `k` are the user's.

    The index spans all users, so a user holding a share s of it needs about k / s hits; HNSW's own recall
    also falls when asked for few (its search breadth is the count asked), hence at least 4k. Capped at
    MAX_OVERFETCH: past that, the exact per-user scan in Postgres is the cheaper answer.
    """
    share = stats.turns / stats.indexed if stats.indexed > 0 else 1.0
    return min(MAX_OVERFETCH, max(4 * k, math.ceil(1.5 * k / max(share, 1e-6))))


def vector_graph(
    stores: Stores,
    user_id: str,
    vec: list[float],
    k: int,
    since: datetime | None,
    until: datetime | None,
    stats: lexical.CorpusStats | None = None,
) -> list[dict[str, Any]]:
    """Nearest turns from the graph's vector index (over-fetched by the user's share of it, then filtered;
    `stats`: the user's corpus statistics when the caller has them already)."""
    graph = stores.graph
    stats = stats or lexical.corpus_stats(stores, user_id)
    rows = graph.read(
        q.turn_vector(graph.dialect),
        {"vec": vec, "k": overfetch(k, stats), "limit": k, "user_id": user_id, "since": to_ms(since),
         "until": to_ms(until)},
    )  # fmt: skip
    return _graph_turns(rows)


def vector(
    stores: Stores,
    user_id: str,
    vec: list[float],
    k: int,
    since: datetime | None,
    until: datetime | None,
    stats: lexical.CorpusStats | None = None,
) -> list[dict[str, Any]]:
    """The exact Postgres scan for a history of up to EXACT_SCAN_MAX_TURNS turns; beyond, the hot-tier ANN in
    the graph (and the exact scan when the index is under-filled for this user)."""
    stats = stats or lexical.corpus_stats(stores, user_id)
    if stats.turns <= EXACT_SCAN_MAX_TURNS:
        return vector_exact_pg(stores, user_id, vec, k, since, until)
    rows = vector_graph(stores, user_id, vec, k, since, until, stats)
    return rows if len(rows) >= k else vector_exact_pg(stores, user_id, vec, k, since, until)


def _later(stores: Stores, job: Callable[..., object], *args: Any) -> None:
    """Run a cache write on the store pool (now, if the pool is shut down)."""
    try:
        stores.executor.submit(job, *args)
    except RuntimeError:
        job(*args)


def with_fallback(
    primary: Callable[..., list[dict[str, Any]]],
    fallback: Callable[..., list[dict[str, Any]]],
    *args: Any,
    **primary_only: Any,
) -> tuple[list[dict[str, Any]], str | None]:
    """Run `primary` (with `primary_only` keywords as well); if its store is down, run `fallback` and say so."""
    try:
        return primary(*args, **primary_only), None
    except StoreUnavailableError as exc:
        log.warning("%s unavailable, using %s: %s", primary.__name__, fallback.__name__, exc)
        return fallback(*args), f"{exc.store} unavailable: {primary.__name__} fell back to {fallback.__name__}"


def neighbours(
    stores: Stores,
    user_id: str,
    keys: list[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    vec: list[float] | None = None,
    detail_ids: list[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, pg_turns.TurnDetails]]:
    """Turns at the given (conversation_id, index) positions, within the same filters; with `vec`, each
    also carries its `similarity` to it (on the vector strategy's scale). In the same round trip, the caller
    ids and token counts of the turns `detail_ids` (those that have either)."""
    if not keys and not detail_ids:
        return [], {}
    return pg_turns.turns_at_with_details(stores.pg, user_id, keys, detail_ids or [], since, until, vec)
