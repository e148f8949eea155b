"""The LangGraph store's items (`store_namespaces`, `store_items`, `store_item_vectors`; migration 0004).

A namespace is a `text[]`; a scope names the user a read is confined to (None: every user of the store, which
the caller decides). A namespace row exists exactly while the namespace holds items, and its `opened_seq`
orders namespaces the way LangGraph's InMemoryStore iterates them (by when they began to hold items).
"""

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from memory_runtime.domain.errors import ValidationError
from memory_runtime.stores.postgres.pool import PostgresStore

_COLUMNS = sql.SQL(
    "i.user_id, i.namespace, i.key, i.value, i.fact_id, i.created_at, i.updated_at, n.opened_seq, i.created_seq"
)


@dataclass(frozen=True)
class NamespaceMatch:
    """A namespace condition: `labels` at the start (prefix) or the end (suffix); None in labels is a wildcard."""

    labels: tuple[str | None, ...]
    at_end: bool = False


@dataclass(frozen=True)
class ItemWrite:
    """One put: where it goes, the value and its vectors by path (empty: not indexed)."""

    user_id: str
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    vectors: dict[str, Sequence[float]]


def _match(column: sql.Composable, match: NamespaceMatch, params: dict[str, Any], tag: str) -> sql.Composable:
    """The condition that `column` (a text[]) satisfies `match`, adding its parameters under `tag`."""
    width = len(match.labels)
    parts: list[sql.Composable] = [sql.SQL("cardinality({}) >= {}").format(column, sql.Literal(width))]
    for i, label in enumerate(match.labels):
        if label is None:
            continue
        params[f"{tag}_{i}"] = label
        if match.at_end:
            position: sql.Composable = sql.SQL("cardinality({}) - {}").format(column, sql.Literal(width - 1 - i))
        else:
            position = sql.Literal(i + 1)
        parts.append(sql.SQL("{}[{}] = {}").format(column, position, sql.Placeholder(f"{tag}_{i}")))
    return sql.SQL(" AND ").join(parts)


def _where(
    user_id: str | None, matches: Sequence[NamespaceMatch], params: dict[str, Any], alias: str
) -> sql.Composable:
    """The rows of `user_id` (None: of every user) whose namespace satisfies every match."""
    column = sql.Identifier(alias, "namespace")
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    if user_id is not None:
        params["user"] = user_id
        parts.append(sql.SQL("{} = %(user)s").format(sql.Identifier(alias, "user_id")))
    for n, match in enumerate(matches):
        parts.append(_match(column, match, params, f"m{n}"))
    return sql.SQL(" AND ").join(parts)


def get_item(conn: psycopg.Connection[DictRow], user_id: str, namespace: tuple[str, ...], key: str) -> DictRow | None:
    """The item at (namespace, key) of `user_id`, or None."""
    row: DictRow | None = conn.execute(
        sql.SQL(
            "SELECT {} FROM store_items i JOIN store_namespaces n USING (user_id, namespace) "
            "WHERE i.user_id = %s AND i.namespace = %s AND i.key = %s"
        ).format(_COLUMNS),
        (user_id, list(namespace), key),
    ).fetchone()
    return row


_BOUNDS = {"$gt": sql.SQL(">"), "$gte": sql.SQL(">="), "$lt": sql.SQL("<"), "$lte": sql.SQL("<=")}


def search_items(
    conn: psycopg.Connection[DictRow],
    user_id: str | None,
    prefix: NamespaceMatch,
    equal_strings: dict[str, str],
    query_vector: Sequence[float] | None,
    bounds: Sequence[tuple[str, str, float]] = (),
) -> Generator[DictRow, None, None]:
    """Items under `prefix` whose top-level fields equal the given strings, in namespace then put order, read
    from the server as they are consumed (close the iterator to stop early).

    `bounds` (field, `$gt`|`$gte`|`$lt`|`$lte`, number) drop the rows whose field is a number out of bounds;
    a field of another type is kept. With `query_vector`, each row also has `score`, the best cosine similarity
    of the item's vectors, and rows come best first (ties in store order), then those without a vector (score
    None) in store order. The filter itself is the caller's to apply.
    """
    params: dict[str, Any] = {}
    where = _where(user_id, [prefix], params, "i")
    for n, (field, text) in enumerate(sorted(equal_strings.items())):
        params[f"f{n}"], params[f"v{n}"] = field, Jsonb(text)
        where = sql.SQL("{} AND i.value -> {} = {}").format(where, sql.Placeholder(f"f{n}"), sql.Placeholder(f"v{n}"))
    for n, (field, op, number) in enumerate(bounds):
        params[f"b{n}"], params[f"n{n}"] = field, number
        where = sql.SQL(
            "{} AND (jsonb_typeof(i.value -> {f}) <> 'number' OR (i.value ->> {f})::float8 {op} {n})"
        ).format(where, f=sql.Placeholder(f"b{n}"), op=_BOUNDS[op], n=sql.Placeholder(f"n{n}"))
    score, order = sql.SQL("NULL::float8"), sql.SQL("")
    if query_vector is not None:
        params["q"] = np.asarray(query_vector, dtype=np.float32)
        score = sql.SQL(
            "(SELECT max(1 - (v.embedding <=> %(q)s)) FROM store_item_vectors v "
            "WHERE v.user_id = i.user_id AND v.namespace = i.namespace AND v.key = i.key)"
        )
        order = sql.SQL("score DESC NULLS LAST, ")
    query = sql.SQL(
        "SELECT {cols}, {score} AS score FROM store_items i JOIN store_namespaces n USING (user_id, namespace) "
        "WHERE {where} ORDER BY {order}n.opened_seq, i.created_seq"
    ).format(cols=_COLUMNS, score=score, where=where, order=order)
    with conn.cursor(name="store_search") as cur:  # server-side: a page reads only the rows it needs
        cur.execute(query, params)
        yield from cur


def list_namespaces(
    conn: psycopg.Connection[DictRow],
    user_id: str | None,
    matches: Sequence[NamespaceMatch],
    max_depth: int | None,
    limit: int,
    offset: int,
) -> list[tuple[str, ...]]:
    """Distinct namespaces holding items that satisfy every match, cut to `max_depth`, in label order."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    where = _where(user_id, matches, params, "n")
    cut = sql.SQL("n.namespace")
    if max_depth is not None:
        params["depth"] = max_depth
        cut = sql.SQL("n.namespace[1:%(depth)s]")
    query = sql.SQL(
        'SELECT DISTINCT {cut} COLLATE "C" AS ns FROM store_namespaces n WHERE {where} '
        "ORDER BY 1 LIMIT %(limit)s OFFSET %(offset)s"
    ).format(cut=cut, where=where)
    return [tuple(row["ns"]) for row in conn.execute(query, params).fetchall()]


def put_items(conn: psycopg.Connection[DictRow], writes: Sequence[ItemWrite], at: datetime) -> None:
    """Insert or overwrite items in order (created_at and the put order kept on overwrite), with their vectors."""
    for w in writes:
        ns = list(w.namespace)
        conn.execute(
            "INSERT INTO store_namespaces (user_id, namespace, opened_seq) VALUES (%s, %s, nextval('store_seq')) "
            "ON CONFLICT (user_id, namespace) DO NOTHING",
            (w.user_id, ns),
        )
        try:
            conn.execute(
                "INSERT INTO store_items (user_id, namespace, key, value, created_seq, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, nextval('store_seq'), %s, %s) "
                "ON CONFLICT (user_id, namespace, key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_at = EXCLUDED.updated_at",
                (w.user_id, ns, w.key, Jsonb(w.value), at, at),
            )
        except psycopg.DataError as exc:  # e.g. a number jsonb cannot represent
            raise ValidationError(f"store item {w.key!r} rejected by PostgreSQL: {exc}") from None
        conn.execute(
            "DELETE FROM store_item_vectors WHERE user_id = %s AND namespace = %s AND key = %s", (w.user_id, ns, w.key)
        )
        if w.vectors:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO store_item_vectors (user_id, namespace, key, path, embedding) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [
                        (w.user_id, ns, w.key, path, np.asarray(vec, dtype=np.float32))
                        for path, vec in w.vectors.items()
                    ],
                )


def delete_items(conn: psycopg.Connection[DictRow], items: Sequence[tuple[str, tuple[str, ...], str]]) -> None:
    """Delete items (user, namespace, key); a namespace left empty is closed (its row deleted)."""
    for user_id, namespace, key in items:
        ns = list(namespace)
        deleted = conn.execute(
            "DELETE FROM store_items WHERE user_id = %s AND namespace = %s AND key = %s RETURNING key",
            (user_id, ns, key),
        ).fetchone()
        if deleted is not None:
            conn.execute(
                "DELETE FROM store_namespaces n WHERE user_id = %s AND namespace = %s AND NOT EXISTS "
                "(SELECT 1 FROM store_items i WHERE i.user_id = n.user_id AND i.namespace = n.namespace)",
                (user_id, ns),
            )


def set_fact_ids(
    conn: psycopg.Connection[DictRow], links: Sequence[tuple[str, tuple[str, ...], str, str | None]]
) -> None:
    """Record the fact each item (user, namespace, key) is known as in semantic memory (None: none)."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE store_items SET fact_id = %s WHERE user_id = %s AND namespace = %s AND key = %s",
            [(fact_id, user_id, list(ns), key) for user_id, ns, key, fact_id in links],
        )


def facts_in_use(conn: psycopg.Connection[DictRow], user_id: str, fact_ids: Sequence[str]) -> set[str]:
    """Those of `fact_ids` that some item of `user_id` is still known as."""
    if not fact_ids:
        return set()
    rows = conn.execute(
        "SELECT DISTINCT fact_id FROM store_items WHERE user_id = %s AND fact_id = ANY(%s)", (user_id, list(fact_ids))
    ).fetchall()
    return {row["fact_id"] for row in rows}


def count_items(pg: PostgresStore, user_id: str) -> int:
    """How many store items `user_id` has."""
    return int(pg.fetch("SELECT count(*) AS n FROM store_items WHERE user_id = %s", (user_id,))[0]["n"])
