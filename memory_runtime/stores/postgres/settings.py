"""What the store records about itself: the `memory_settings` key/value table in PostgreSQL.

Keys: `embedding_dimensions` (fixed by the first migrate), `embedding_model` (the model_id of the embedder
that wrote the stored vectors, see `embedding_model`) and `reembed_progress` (the cursor of an unfinished
re-embedding, see `reembed`). The table is created by `migrations` (its bootstrap DDL).
"""

from collections.abc import Iterable, Mapping

from memory_runtime.stores.postgres import PostgresStore

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
    """Set `values` and delete the keys `delete`, in one transaction; with overwrite=False a key already
    recorded keeps its value (first writer wins)."""
    conflict = "DO UPDATE SET value = EXCLUDED.value" if overwrite else "DO NOTHING"
    with pg.connection() as conn:
        for key, value in values.items():
            conn.execute(
                f"INSERT INTO memory_settings (key, value) VALUES (%s, %s) ON CONFLICT (key) {conflict}", (key, value)
            )
        if delete:
            conn.execute("DELETE FROM memory_settings WHERE key = ANY(%s)", (list(delete),))
