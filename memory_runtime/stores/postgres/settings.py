"""What the store records about itself: the `memory_settings` key/value table in PostgreSQL.

Keys: `embedding_dimensions` (fixed by the first migrate), `embedding_model` (the model_id of the embedder
that wrote the stored vectors, see `embedding_model`) and `reembed_progress` (the cursor of an unfinished
re-embedding, see `reembed`). The table is created by `migrations` (its bootstrap DDL).
"""

from collections.abc import Iterable, Mapping

import psycopg
from psycopg.rows import DictRow

from memory_runtime.stores.postgres.pool import PostgresStore

DIMENSIONS = "embedding_dimensions"
MODEL = "embedding_model"
REEMBED_PROGRESS = "reembed_progress"


def read_settings(pg: PostgresStore) -> dict[str, str] | None:
    """Every recorded setting, or None when the store was never migrated (no table)."""
    if not pg.fetch("SELECT to_regclass(%s) IS NOT NULL AS ok", (f"{pg.schema}.memory_settings",))[0]["ok"]:
        return None
    return {r["key"]: r["value"] for r in pg.fetch("SELECT key, value FROM memory_settings")}


def write_settings(
    pg: PostgresStore, values: Mapping[str, str], *, overwrite: bool = True, delete: Iterable[str] = ()
) -> None:
    """Set `values` and delete the keys `delete` in one transaction; overwrite=False keeps recorded values."""
    conflict = "DO UPDATE SET value = EXCLUDED.value" if overwrite else "DO NOTHING"
    with pg.connection() as conn:
        for key, value in values.items():
            conn.execute(
                f"INSERT INTO memory_settings (key, value) VALUES (%s, %s) ON CONFLICT (key) {conflict}", (key, value)
            )
        if delete:
            conn.execute("DELETE FROM memory_settings WHERE key = ANY(%s)", (list(delete),))


def recorded_setting(conn: psycopg.Connection[DictRow], key: str) -> str | None:
    """The value recorded for `key`, read in the caller's transaction (None if there is none)."""
    row = conn.execute("SELECT value FROM memory_settings WHERE key = %s", (key,)).fetchone()
    return None if row is None else row["value"]


def record_setting(conn: psycopg.Connection[DictRow], key: str, value: str) -> None:
    """Record `value` for a `key` not recorded yet, in the caller's transaction."""
    conn.execute("INSERT INTO memory_settings (key, value) VALUES (%s, %s)", (key, value))
