"""Backup and restore of the memory tables: a read-only REPEATABLE READ snapshot and binary COPY in and out.

Every table of the memory schema is dumped except `schema_migrations` (a restore runs the migrations itself and
the backup's manifest records their version). Columns are copied by name, without generated ones (`content_tsv`
is recomputed on load), in an order where every referenced table comes before the tables referring to it.
"""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

EXCLUDED_TABLES = frozenset({"schema_migrations"})
COPY_FORMAT = "binary"  # PostgreSQL's binary COPY: exact floats and vectors, about a third of the text size


@dataclass(frozen=True)
class Table:
    """A table of the memory schema and the columns a backup copies (generated columns left out)."""

    name: str
    columns: tuple[str, ...]


def begin_snapshot(conn: psycopg.Connection[DictRow]) -> None:
    """Make the caller's (new) transaction a read-only REPEATABLE READ snapshot: every later read sees one moment."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def snapshot_started_ms(conn: psycopg.Connection[DictRow]) -> int:
    """When the caller's transaction began (epoch ms, server clock): its snapshot holds nothing committed later."""
    row = conn.execute("SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms").fetchone()
    return int(row["ms"]) if row else 0


def tables(conn: psycopg.Connection[DictRow], schema: str) -> list[Table]:
    """The schema's base tables with their copied columns, referenced tables first."""
    rows = conn.execute(
        """
        SELECT c.relname AS table_name,
               array_agg(a.attname::text ORDER BY a.attnum) AS columns,
               (SELECT coalesce(array_agg(DISTINCT r.relname::text), '{}')
                  FROM pg_constraint f JOIN pg_class r ON r.oid = f.confrelid
                 WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid) AS parents
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
         WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         GROUP BY c.oid, c.relname
         ORDER BY c.relname
        """,
        (schema,),
    ).fetchall()
    found = {r["table_name"]: r for r in rows if r["table_name"] not in EXCLUDED_TABLES}
    ordered: list[Table] = []
    placed: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name not in found or name in path:
            return
        for parent in found[name]["parents"]:
            place(parent, (*path, name))
        placed.add(name)
        ordered.append(Table(name, tuple(found[name]["columns"])))

    for name in sorted(found):
        place(name, ())
    return ordered


def _copy_statement(table: Table, direction: str) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    return sql.SQL("COPY {} ({}) {} (FORMAT BINARY)").format(sql.Identifier(table.name), columns, sql.SQL(direction))


def copy_out(conn: psycopg.Connection[DictRow], table: Table) -> Iterator[bytes]:
    """The table's rows as binary COPY data, in chunks (inside the caller's snapshot)."""
    with conn.cursor().copy(_copy_statement(table, "TO STDOUT")) as copy:
        for chunk in copy:
            yield bytes(chunk)


def copy_in(conn: psycopg.Connection[DictRow], table: Table, chunks: Iterable[bytes]) -> None:
    """Load binary COPY data into the table, in the caller's transaction."""
    with conn.cursor().copy(_copy_statement(table, "FROM STDIN")) as copy:
        for chunk in chunks:
            copy.write(chunk)


def row_count(conn: psycopg.Connection[DictRow], table: str) -> int:
    """Rows of `table` as the caller's transaction sees them."""
    row = conn.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row["n"]) if row else 0


def sequences(conn: psycopg.Connection[DictRow], schema: str) -> dict[str, int | None]:
    """The last value of each column-owned sequence (bigserial), keyed `table.column`; None if never used."""
    rows = conn.execute(
        """
        SELECT t.relname AS table_name, a.attname AS column_name, s.relname AS sequence_name
          FROM pg_depend d
          JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
          JOIN pg_class t ON t.oid = d.refobjid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE n.nspname = %s AND d.deptype IN ('a', 'i')
         ORDER BY 1, 2
        """,
        (schema,),
    ).fetchall()
    out: dict[str, int | None] = {}
    for r in rows:
        state = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(r["sequence_name"])
            )
        ).fetchone()
        out[f"{r['table_name']}.{r['column_name']}"] = (
            int(state["last_value"]) if state and state["is_called"] else None
        )
    return out


def set_sequence(conn: psycopg.Connection[DictRow], table: str, column: str, last_value: int | None) -> None:
    """Set the sequence owned by `table.column` to `last_value` (None: as never used), in the caller's transaction."""
    conn.execute(
        "SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)",
        (table, column, last_value if last_value is not None else 1, last_value is not None),
    )


def truncate(conn: psycopg.Connection[DictRow], names: Iterable[str]) -> None:
    """Empty the tables (sequences restart), in the caller's transaction."""
    listed = [sql.Identifier(n) for n in names]
    if listed:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(listed)))


def schema_version(conn: psycopg.Connection[DictRow]) -> tuple[int, list[str]]:
    """The newest applied migration's version and the names of all applied migrations (0, [] if none)."""
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    return (rows[-1]["version"] if rows else 0), [f"{r['version']:04d}_{r['name']}" for r in rows]


def present_turns(conn: psycopg.Connection[DictRow], ids: list[str]) -> set[str]:
    """The turn ids among `ids` that the caller's transaction sees (an id that is no UUID is never a turn's)."""
    candidates = [i for i in ids if _is_uuid(i)]
    if not candidates:
        return set()
    rows = conn.execute(
        "SELECT id::text AS id FROM conversation_logs WHERE id = ANY(%s::uuid[])", (candidates,)
    ).fetchall()
    return {r["id"] for r in rows}


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False


def turn_ids_after(conn: psycopg.Connection[DictRow], seq: int, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` (seq, id) of the snapshot's turns after `seq`, in ingest order."""
    rows = conn.execute(
        "SELECT seq, id::text AS id FROM conversation_logs WHERE seq > %s ORDER BY seq LIMIT %s", (seq, limit)
    ).fetchall()
    return [(int(r["seq"]), r["id"]) for r in rows]


def present_conversations(conn: psycopg.Connection[DictRow], ids: list[str]) -> set[str]:
    """The conversation ids among `ids` that the caller's snapshot holds."""
    rows = conn.execute("SELECT id FROM conversations WHERE id = ANY(%s)", (ids,)).fetchall()
    return {r["id"] for r in rows}
