"""Turn search: dense (pgvector, scoped and time-filtered in SQL) and full-text (graph index).

Each strategy has a fallback in the other store, so recall degrades instead of failing when the graph
or Postgres is down: full-text falls back to Postgres `tsvector` ranking, vector search to the graph's
vector index.
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


def vector_pg(stores: Stores, user_id: str, vec: list[float], k: int, since, until) -> list[dict[str, Any]]:
    """Nearest turns by cosine similarity in Postgres (HNSW with iterative scans, exact filters)."""
    where, params = _filters(user_id, since, until)
    params.update(vec=np.asarray(vec, dtype=np.float32), k=k)
    query = sql.SQL(
        "SELECT {cols}, (2 - (embedding <=> %(vec)s)) / 2 AS score FROM conversation_logs "
        "WHERE {where} AND embedding IS NOT NULL ORDER BY embedding <=> %(vec)s LIMIT %(k)s"
    ).format(cols=_COLUMNS, where=where)
    with stores.pg.connection() as conn:
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.execute("SET LOCAL hnsw.ef_search = 100")
        rows = conn.execute(query, params).fetchall()
    rows.sort(key=lambda r: -r["score"])  # relaxed order: re-sort the (exactly scored) page
    return rows


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
    for r in rows:
        r["timestamp"] = from_ms(r["timestamp"])
    return rows


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


def vector_graph(
    stores: Stores, user_id: str, vec: list[float], k: int, since, until
) -> list[dict[str, Any]]:
    """Nearest turns from the graph's vector index (over-fetched, then filtered to the user)."""
    graph = stores.graph
    rows = graph.read(
        q.turn_vector(graph.dialect),
        {"vec": vec, "k": min(max(k * 10, 100), 1000), "limit": k, "user_id": user_id,
         "since": to_ms(since), "until": to_ms(until)},
    )  # fmt: skip
    return _graph_turns(rows)


def with_fallback(primary, fallback, *args: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Run `primary`; if its store is down, run `fallback` and say so."""
    try:
        return primary(*args), None
    except StoreUnavailableError as exc:
        log.warning("%s unavailable, using %s: %s", primary.__name__, fallback.__name__, exc)
        return fallback(
            *args
        ), f"{exc.store} unavailable: {primary.__name__} fell back to {fallback.__name__}"


def neighbours(
    stores: Stores, user_id: str, keys: list[tuple[str, int]], since, until
) -> list[dict[str, Any]]:
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
