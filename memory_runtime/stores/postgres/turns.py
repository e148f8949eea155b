"""The turn log: `conversation_logs` (append-only turns) and `conversations` (their owner and time span).

Writes: `claim_conversations` and `insert_turns` run inside the caller's transaction (the write path of
`memory.episodic`: claim the conversations, COPY the batch into a staging table, insert what is new,
compare the content hashes of the rest). Reads: ownership and content hashes (the importer's plan), the hot
turns of a user for recall (`retrieval.episodic`), pages of turns by `seq` for re-projection and of their
vectors for re-embedding.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from memory_runtime.stores.postgres.pool import PostgresStore


@dataclass(frozen=True)
class NewTurnRow:
    """One turn to insert into `conversation_logs`, in the column order of the staging table."""

    id: str
    user_id: str
    conversation_id: str
    turn_index: int
    role: str
    content: str
    content_hash: str
    embedding: Sequence[float]
    metadata: Any
    salience: float
    created_at: datetime


# ---- conversations ------------------------------------------------------------------------------------


def claim_conversations(
    conn: psycopg.Connection[DictRow], user_id: str, spans: Mapping[str, tuple[datetime, datetime]]
) -> dict[str, str]:
    """Create or widen `user_id`'s conversations (id → first and last turn time); returns the owner of each."""
    # A conversation of another user is left as it is: the caller compares the owners returned.
    conv_ids = sorted(spans)
    conn.execute(
        """
        INSERT INTO conversations (id, user_id, started_at, last_turn_at)
        SELECT c, %s, s, l FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS x(c, s, l)
        ON CONFLICT (id) DO UPDATE
           SET started_at = LEAST(conversations.started_at, EXCLUDED.started_at),
               last_turn_at = GREATEST(conversations.last_turn_at, EXCLUDED.last_turn_at)
         WHERE conversations.user_id = EXCLUDED.user_id
        """,
        (user_id, conv_ids, [spans[c][0] for c in conv_ids], [spans[c][1] for c in conv_ids]),
    )
    return conversation_owners(conn, conv_ids)


def conversation_owners(conn: psycopg.Connection[DictRow], conversation_ids: Sequence[str]) -> dict[str, str]:
    """The user_id of each stored conversation among `conversation_ids` (unknown ones are absent)."""
    rows = conn.execute("SELECT id, user_id FROM conversations WHERE id = ANY(%s)", (list(conversation_ids),))
    return {r["id"]: r["user_id"] for r in rows.fetchall()}


# ---- the write path -----------------------------------------------------------------------------------


# The columns of a new turn, in NewTurnRow's field order: their PostgreSQL types and how a field becomes a value.
_TURN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("user_id", "text"),
    ("conversation_id", "text"),
    ("turn_index", "int4"),
    ("role", "text"),
    ("content", "text"),
    ("content_hash", "text"),
    ("embedding", "vector"),
    ("metadata", "jsonb"),
    ("salience", "float4"),
    ("created_at", "timestamptz"),
)
_TO_VALUE: dict[str, Any] = {
    "id": uuid.UUID,
    "embedding": lambda v: np.asarray(v, dtype=np.float32),
    "metadata": Jsonb,
}
_COLUMN_LIST = ", ".join(name for name, _ in _TURN_COLUMNS)


def _value(row: NewTurnRow, column: str) -> Any:
    """The value of `row`'s field `column` as psycopg sends it."""
    value = getattr(row, column)
    convert = _TO_VALUE.get(column)
    return value if convert is None else convert(value)


def insert_turns(conn: psycopg.Connection[DictRow], rows: Sequence[NewTurnRow]) -> set[str]:
    """COPY `rows` into the staging table and insert those whose (conversation, index) is new; their ids."""
    stage = ", ".join(f"{name} {pg_type}" for name, pg_type in _TURN_COLUMNS)
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS turn_stage ({stage}) ON COMMIT DELETE ROWS")
    with conn.cursor().copy(f"COPY turn_stage ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([pg_type for _, pg_type in _TURN_COLUMNS])
        for r in rows:
            copy.write_row([_value(r, name) for name, _ in _TURN_COLUMNS])
    return {
        str(x["id"])
        for x in conn.execute(
            f"INSERT INTO conversation_logs ({_COLUMN_LIST}) "
            f"SELECT {_COLUMN_LIST} FROM turn_stage "
            f"ON CONFLICT (conversation_id, turn_index) DO NOTHING RETURNING id"
        ).fetchall()
    }


# One conversation's turns: its user and id are parameters, the other columns (and the caller's turn ids and
# token counts) arrays unnested side by side, one parameter per column, named after it.
_OF_ROW = [c for c in _TURN_COLUMNS if c[0] not in ("user_id", "conversation_id")]
_PER_TURN = [*_OF_ROW, ("client_id", "text"), ("token_count", "int4")]
_INSERT_CONVERSATION_TURNS = f"""
WITH claim AS (
    INSERT INTO conversations (id, user_id, started_at, last_turn_at) VALUES (%(conv)s, %(user)s, %(lo)s, %(hi)s)
    ON CONFLICT (id) DO UPDATE
       SET started_at = LEAST(conversations.started_at, EXCLUDED.started_at),
           last_turn_at = GREATEST(conversations.last_turn_at, EXCLUDED.last_turn_at)
     WHERE conversations.user_id = EXCLUDED.user_id
    RETURNING id
), turns AS (
    INSERT INTO conversation_logs (user_id, conversation_id, {", ".join(name for name, _ in _PER_TURN)})
    SELECT %(user)s, %(conv)s, {", ".join(f"x.{name}" for name, _ in _PER_TURN)}
      FROM unnest({", ".join(f"%({name})s::{pg_type}[]" for name, pg_type in _PER_TURN)})
           AS x({", ".join(name for name, _ in _PER_TURN)})
     WHERE EXISTS (SELECT FROM claim)
    RETURNING id
)
SELECT (SELECT count(*) FROM claim) AS claimed, (SELECT count(*) FROM turns) AS inserted
"""


def insert_conversation_turns(
    pg: PostgresStore,
    user_id: str,
    rows: Sequence[NewTurnRow],
    client_ids: Sequence[str | None],
    token_counts: Sequence[int | None],
) -> bool:
    """Claim the one conversation of `rows` and insert them all, in one statement (one round trip, atomic).

    The write path's fast path, for turns new to a conversation of this user (what `store_turn` meets). It
    returns False having written nothing when the conversation is another user's, a turn is stored already at
    one of the (conversation, index) positions or by its id, or a caller id is another turn's: the caller then
    runs the general transaction (`claim_conversations`, `insert_turns`), which tells these cases apart.
    """
    conv = rows[0].conversation_id
    if any(r.conversation_id != conv or r.user_id != user_id for r in rows):
        raise ValueError("insert_conversation_turns takes the turns of one conversation of one user")
    params: dict[str, Any] = {
        "conv": conv,
        "user": user_id,
        "lo": min(r.created_at for r in rows),
        "hi": max(r.created_at for r in rows),
        **{name: [_value(r, name) for r in rows] for name, _ in _OF_ROW},
        "client_id": list(client_ids),
        "token_count": list(token_counts),
    }
    try:
        [result] = pg.fetch(_INSERT_CONVERSATION_TURNS, params)
    except psycopg.errors.UniqueViolation:  # a turn stored before, or a caller id taken: nothing was written
        return False
    return bool(result["claimed"]) and int(result["inserted"]) == len(rows)


def content_hashes(conn: psycopg.Connection[DictRow], turn_ids: Sequence[str]) -> dict[str, str]:
    """The stored content hash of each of `turn_ids` that exists."""
    rows = conn.execute(
        "SELECT id, content_hash FROM conversation_logs WHERE id = ANY(%s::uuid[])", (list(turn_ids),)
    ).fetchall()
    return {str(x["id"]): x["content_hash"] for x in rows}


def turn_position(conn: psycopg.Connection[DictRow], turn_id: str, user_id: str) -> dict[str, Any] | None:
    """`conversation_id` and `turn_index` of one of `user_id`'s turns, or None if the user has no such turn."""
    return conn.execute(
        "SELECT conversation_id, turn_index FROM conversation_logs WHERE id = %s AND user_id = %s",
        (turn_id, user_id),
    ).fetchone()


# ---- the importer's plan ------------------------------------------------------------------------------


def stored_turn_hashes(pg: PostgresStore, conversation_ids: Sequence[str]) -> dict[tuple[str, int], str]:
    """The content hash of every stored turn of the conversations, keyed (conversation_id, turn_index)."""
    rows = pg.fetch(
        "SELECT conversation_id, turn_index, content_hash FROM conversation_logs WHERE conversation_id = ANY(%s)",
        (list(conversation_ids),),
    )
    return {(r["conversation_id"], r["turn_index"]): r["content_hash"] for r in rows}


# ---- re-projection ------------------------------------------------------------------------------------


def hot_turns_after(
    pg: PostgresStore,
    after_seq: int,
    *,
    since: datetime | None,
    until: datetime | None,
    user_id: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` unarchived turns after `after_seq` in `seq` order, created in [since, until) (of one user)."""
    return pg.fetch(
        """
        SELECT seq, id::text AS id, user_id, conversation_id, turn_index, role, content, embedding, salience, created_at
          FROM conversation_logs
         WHERE seq > %(after)s AND archived_at IS NULL
           AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
           AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
           AND (%(user)s::text IS NULL OR user_id = %(user)s)
         ORDER BY seq LIMIT %(batch)s
        """,
        {"after": after_seq, "since": since, "until": until, "user": user_id, "batch": limit},
    )


# ---- recall (retrieval.episodic) ----------------------------------------------------------------------

_RECALL_COLUMNS = sql.SQL(
    "id::text AS id, conversation_id, turn_index AS index, role, content, created_at AS timestamp, salience"
)


def _recall_filter(
    user_id: str, since: datetime | None, until: datetime | None
) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE clause of recall: the user's unarchived turns, created in [since, until] where given."""
    parts = [sql.SQL("user_id = %(user)s"), sql.SQL("archived_at IS NULL")]
    params: dict[str, Any] = {"user": user_id}
    if since is not None:
        parts.append(sql.SQL("created_at >= %(since)s"))
        params["since"] = since
    if until is not None:
        parts.append(sql.SQL("created_at <= %(until)s"))
        params["until"] = until
    return sql.SQL(" AND ").join(parts), params


def nearest_turns(
    pg: PostgresStore, user_id: str, vec: Sequence[float], k: int, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The user's `k` nearest hot turns to `vec` by exact cosine distance; `score` = (2 - distance) / 2."""
    where, params = _recall_filter(user_id, since, until)
    params.update(vec=np.asarray(vec, dtype=np.float32), k=k)
    query = sql.SQL(
        "SELECT {cols}, (2 - (embedding <=> %(vec)s)) / 2 AS score FROM conversation_logs "
        "WHERE {where} AND embedding IS NOT NULL ORDER BY embedding <=> %(vec)s, id LIMIT %(k)s"
    ).format(cols=_RECALL_COLUMNS, where=where)
    return pg.fetch(query, params)


def fulltext_turns(
    pg: PostgresStore, user_id: str, tsquery: str, k: int, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The user's `k` hot turns matching the English `tsquery` best, by `ts_rank_cd` cover density."""
    where, params = _recall_filter(user_id, since, until)
    params.update(q=tsquery, k=k)
    query = sql.SQL(
        "SELECT {cols}, ts_rank_cd(content_tsv, query, 1) AS score "
        "FROM conversation_logs, to_tsquery('english', %(q)s) AS query "
        "WHERE {where} AND content_tsv @@ query ORDER BY score DESC, id LIMIT %(k)s"
    ).format(cols=_RECALL_COLUMNS, where=where)
    return pg.fetch(query, params)


def _turns_at_statement(
    user_id: str,
    keys: Sequence[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    vec: Sequence[float] | None,
    *,
    details: bool = False,
) -> tuple[sql.Composed, dict[str, Any]]:
    where, params = _recall_filter(user_id, since, until)
    params.update(convs=[c for c, _ in keys], idx=[i for _, i in keys])
    extra: sql.Composable = sql.SQL(", client_id, token_count" if details else "")
    if vec is not None:
        params["vec"] = np.asarray(vec, dtype=np.float32)
        extra += sql.SQL(", (2 - (embedding <=> %(vec)s)) / 2 AS similarity")
    query = sql.SQL(
        "SELECT {cols}{extra} FROM conversation_logs WHERE {where} AND (conversation_id, turn_index) IN "
        "(SELECT * FROM unnest(%(convs)s::text[], %(idx)s::int[]))"
    ).format(cols=_RECALL_COLUMNS, extra=extra, where=where)
    return query, params


def turns_at(
    pg: PostgresStore,
    user_id: str,
    keys: Sequence[tuple[str, int]],
    since: datetime | None,
    until: datetime | None,
    vec: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """The user's hot turns at the (conversation_id, index) `keys`; with `vec`, each with its `similarity`."""
    return pg.fetch(*_turns_at_statement(user_id, keys, since, until, vec))


def turns_at_with_details(
    pg: PostgresStore,
    user_id: str,
    keys: Sequence[tuple[str, int]],
    detail_ids: list[str],
    since: datetime | None,
    until: datetime | None,
    vec: Sequence[float] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, "TurnDetails"]]:
    """`turns_at`, and in the same round trip the caller ids and token counts of the turns `detail_ids` and of
    the turns found at `keys` (as `turn_details`)."""
    query, params = _turns_at_statement(user_id, keys, since, until, vec, details=True)
    statements: list[tuple[Any, Any]] = [(query, params)]
    if detail_ids:
        statements.append(_details_statement(user_id, detail_ids))
    results = pg.fetch_many(statements)
    details = _details(results[1]) if detail_ids else {}
    rows = []
    for row in results[0]:
        client_id, token_count = row.pop("client_id"), row.pop("token_count")
        if client_id is not None or token_count is not None:
            details[row["id"]] = TurnDetails(client_id, token_count)
        rows.append(row)
    return rows, details


# ---- stored vectors (stores.vectors) ------------------------------------------------------------------


def turn_vector_page(pg: PostgresStore, user_id: str | None, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` turns after `after_seq` (archived too) with their content and embedding, in `seq` order."""
    return pg.fetch(
        """
        SELECT seq, id::text AS id, content, embedding FROM conversation_logs
         WHERE seq > %(after)s AND (%(user)s::text IS NULL OR user_id = %(user)s)
         ORDER BY seq LIMIT %(limit)s
        """,
        {"after": after_seq, "user": user_id, "limit": limit},
    )


def count_turn_vectors(pg: PostgresStore, user_id: str | None, after_seq: int) -> int:
    """How many turns (archived too) come after `after_seq`."""
    rows = pg.fetch(
        "SELECT count(*) AS n FROM conversation_logs "
        "WHERE seq > %(after)s AND (%(user)s::text IS NULL OR user_id = %(user)s)",
        {"after": after_seq, "user": user_id},
    )
    return int(rows[0]["n"])


def set_turn_vectors(pg: PostgresStore, turn_ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
    """Replace the embedding of each of `turn_ids` with the vector at the same position, in one transaction."""
    texts = ["[" + ",".join(map(repr, vec)) + "]" for vec in vectors]
    with pg.connection() as conn:
        conn.execute(
            """
            UPDATE conversation_logs AS c SET embedding = v.embedding::vector
              FROM unnest(%s::uuid[], %s::text[]) AS v(id, embedding) WHERE c.id = v.id
            """,
            (list(turn_ids), texts),
        )


# ---- caller-chosen turn ids and token counts (conversation_logs.client_id, .token_count; migration 0002)


@dataclass(frozen=True)
class TurnDetails:
    """What the caller gave a stored turn beyond its content: its own id and its token count (None if not)."""

    client_id: str | None
    token_count: int | None


_LOCK_NAMESPACE = 0x7475726E  # "turn": the first key of the per-user advisory lock over caller ids


def lock_client_ids(conn: psycopg.Connection[DictRow], user_id: str) -> None:
    """Hold this user's caller-id lock until the transaction ends (writers naming turns take turns)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, user_id))


def turns_holding_client_ids(conn: psycopg.Connection[DictRow], user_id: str, client_ids: list[str]) -> dict[str, str]:
    """The stored turn id that holds each of these caller ids for this user."""
    rows = conn.execute(
        "SELECT client_id, id::text AS id FROM conversation_logs WHERE user_id = %s AND client_id = ANY(%s::text[])",
        (user_id, client_ids),
    ).fetchall()
    return {r["client_id"]: r["id"] for r in rows}


def stored_client_ids(conn: psycopg.Connection[DictRow], turn_ids: list[str]) -> dict[str, str | None]:
    """The caller id (or None) of each of these stored turns."""
    rows = conn.execute(
        "SELECT id::text AS id, client_id FROM conversation_logs WHERE id = ANY(%s::uuid[])", (turn_ids,)
    ).fetchall()
    return {r["id"]: r["client_id"] for r in rows}


def attach_turn_details(
    conn: psycopg.Connection[DictRow], turn_ids: list[str], client_ids: list[str | None], token_counts: list[int | None]
) -> None:
    """Give stored turns their caller id and token count where they have none yet (raises UniqueViolation
    when a caller id is already another turn's)."""
    conn.execute(
        """
        UPDATE conversation_logs AS l
           SET client_id = coalesce(l.client_id, x.client_id), token_count = coalesce(l.token_count, x.token_count)
          FROM unnest(%s::uuid[], %s::text[], %s::int4[]) AS x(id, client_id, token_count)
         WHERE l.id = x.id
        """,
        (turn_ids, client_ids, token_counts),
    )


_DETAILS = """
        SELECT id::text AS id, client_id, token_count FROM conversation_logs
         WHERE id = ANY(%s::uuid[]) AND user_id = %s AND (client_id IS NOT NULL OR token_count IS NOT NULL)
        """


def _details_statement(user_id: str, turn_ids: list[str]) -> tuple[str, tuple[list[str], str]]:
    return _DETAILS, (turn_ids, user_id)


def _details(rows: list[DictRow]) -> dict[str, TurnDetails]:
    return {r["id"]: TurnDetails(r["client_id"], r["token_count"]) for r in rows}


def turn_details(pg: PostgresStore, user_id: str, turn_ids: list[str]) -> dict[str, TurnDetails]:
    """Caller id and token count of those of this user's turns that have either."""
    if not turn_ids:
        return {}
    return _details(pg.fetch(*_details_statement(user_id, turn_ids)))


def resolve_turn_ids(pg: PostgresStore, user_id: str, turn_ids: list[str]) -> list[str]:
    """The stored ids of turns named by this user's caller ids; an id that is no caller id is kept as given."""
    if not turn_ids:
        return []
    with pg.connection() as conn:
        stored = turns_holding_client_ids(conn, user_id, turn_ids)
    return [stored.get(t, t) for t in turn_ids]


def recent_turns(pg: PostgresStore, user_id: str, conversation_id: str | None, limit: int) -> list[dict[str, Any]]:
    """This user's latest `limit` turns (of one conversation, or of all), newest first."""
    return pg.fetch(
        """
        SELECT id::text AS id, client_id, conversation_id, turn_index, role, content, metadata, token_count,
               created_at
          FROM conversation_logs
         WHERE user_id = %(user)s AND (%(conv)s::text IS NULL OR conversation_id = %(conv)s)
         ORDER BY created_at DESC, turn_index DESC LIMIT %(limit)s
        """,
        {"user": user_id, "conv": conversation_id, "limit": limit},
    )
