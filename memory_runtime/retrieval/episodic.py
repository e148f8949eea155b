"""Turn search: dense and full-text, each with a fallback in the other store.

Vector tiers (see schema/postgres/0001_initial.sql): hot turns are found through the graph's HNSW index,
over-fetched and filtered to the user. When that leaves fewer than k hits — a user with few turns among
many, or a narrow time window — or the graph is down, an exact scan of the user's rows in Postgres
answers instead (cheap exactly when the index is under-filled). Full-text uses the graph's index
(RediSearch TF-IDF / Lucene BM25) and falls back to Postgres `tsvector` ranking.
"""

import logging
from datetime import datetime
from typing import Any

import numpy as np
from psycopg import sql

from memory_runtime.errors import StoreUnavailableError
from memory_runtime.models import from_ms, to_ms
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.dialect import query_terms
from memory_runtime.stores.graph.queries import retrieval as q

log = logging.getLogger(__name__)

_COLUMNS = sql.SQL(
    "id::text AS id, conversation_id, turn_index AS index, role, content, created_at AS timestamp, salience"
)


def _filters(user_id: str, since: datetime | None, until: datetime | None) -> tuple[sql.Composable, dict]:
    parts = [sql.SQL("user_id = %(user)s"), sql.SQL("archived_at IS NULL")]
    params: dict[str, Any] = {"user": user_id}
    if since is not None:
        parts.append(sql.SQL("created_at >= %(since)s"))
        params["since"] = since
    if until is not None:
        parts.append(sql.SQL("created_at <= %(until)s"))
        params["until"] = until
    return sql.SQL(" AND ").join(parts), params


def vector_exact_pg(stores: Stores, user_id: str, vec: list[float], k: int, since, until) -> list[dict[str, Any]]:
    """The user's nearest hot turns by exact cosine similarity in Postgres (scores as the graph's)."""
    where, params = _filters(user_id, since, until)
    params.update(vec=np.asarray(vec, dtype=np.float32), k=k)
    query = sql.SQL(
        "SELECT {cols}, (2 - (embedding <=> %(vec)s)) / 2 AS score FROM conversation_logs "
        "WHERE {where} AND embedding IS NOT NULL ORDER BY embedding <=> %(vec)s LIMIT %(k)s"
    ).format(cols=_COLUMNS, where=where)
    return stores.pg.fetch(query, params)


def fulltext_pg(stores: Stores, user_id: str, text: str, k: int, since, until) -> list[dict[str, Any]]:
    """Turns ranked by Postgres full-text cover density (the fallback full-text strategy)."""
    terms = query_terms(text)
    if not terms:
        return []
    where, params = _filters(user_id, since, until)
    params.update(q=" | ".join(terms), k=k)
    query = sql.SQL(
        "SELECT {cols}, ts_rank_cd(content_tsv, query, 1) AS score "
        "FROM conversation_logs, to_tsquery('english', %(q)s) AS query "
        "WHERE {where} AND content_tsv @@ query ORDER BY score DESC LIMIT %(k)s"
    ).format(cols=_COLUMNS, where=where)
    return stores.pg.fetch(query, params)


def _graph_turns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r["turn"], "timestamp": from_ms(r["turn"]["timestamp"]), "score": r["score"]} for r in rows]


def fulltext_graph(stores: Stores, user_id: str, text: str, k: int, since, until) -> list[dict[str, Any]]:
    """Turns ranked by the graph's full-text index (RediSearch TF-IDF / Lucene BM25), scoped to the user."""
    graph = stores.graph
    query = graph.dialect.fulltext_query(text)
    if not query:
        return []
    rows = graph.read(
        q.turn_fulltext(graph.dialect),
        {"q": query, "user_id": user_id, "k": k, "since": to_ms(since), "until": to_ms(until)},
    )
    return _graph_turns(rows)


def vector_graph(stores: Stores, user_id: str, vec: list[float], k: int, since, until) -> list[dict[str, Any]]:
    """Nearest turns from the graph's vector index (over-fetched, then filtered to the user)."""
    graph = stores.graph
    rows = graph.read(
        q.turn_vector(graph.dialect),
        {"vec": vec, "k": min(max(k * 10, 100), 1000), "limit": k, "user_id": user_id,
         "since": to_ms(since), "until": to_ms(until)},
    )  # fmt: skip
    return _graph_turns(rows)


def vector(stores: Stores, user_id: str, vec: list[float], k: int, since, until) -> list[dict[str, Any]]:
    """Hot-tier ANN in the graph; the exact Postgres scan when the index is under-filled for this user."""
    rows = vector_graph(stores, user_id, vec, k, since, until)
    return rows if len(rows) >= k else vector_exact_pg(stores, user_id, vec, k, since, until)


def with_fallback(primary, fallback, *args: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Run `primary`; if its store is down, run `fallback` and say so."""
    try:
        return primary(*args), None
    except StoreUnavailableError as exc:
        log.warning("%s unavailable, using %s: %s", primary.__name__, fallback.__name__, exc)
        return fallback(*args), f"{exc.store} unavailable: {primary.__name__} fell back to {fallback.__name__}"


def neighbours(stores: Stores, user_id: str, keys: list[tuple[str, int]], since, until) -> list[dict[str, Any]]:
    """Turns at the given (conversation_id, index) positions, within the same filters."""
    if not keys:
        return []
    where, params = _filters(user_id, since, until)
    params.update(convs=[c for c, _ in keys], idx=[i for _, i in keys])
    query = sql.SQL(
        "SELECT {cols} FROM conversation_logs WHERE {where} AND (conversation_id, turn_index) IN "
        "(SELECT * FROM unnest(%(convs)s::text[], %(idx)s::int[]))"
    ).format(cols=_COLUMNS, where=where)
    return stores.pg.fetch(query, params)
