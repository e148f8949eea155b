"""Memory-quality measurements in Postgres (`memory_runtime.batch.checks`): embedding dimensions."""

from typing import Any

from memory_runtime.stores.postgres import PostgresStore


def turn_embedding_column_dimensions(pg: PostgresStore) -> int | None:
    """The declared dimension of conversation_logs.embedding (its atttypmod; -1 = unconstrained), None if absent."""
    rows = pg.fetch(
        """
        SELECT a.atttypmod AS dims FROM pg_attribute a
         WHERE a.attrelid = 'conversation_logs'::regclass AND a.attname = 'embedding'
        """
    )
    return int(rows[0]["dims"]) if rows else None


def recent_turn_dimension_mismatches(pg: PostgresStore, dims: int, sample: int) -> dict[str, Any]:
    """Of the `sample` most recent turns with an embedding: `n` checked and `bad` whose dimension is not `dims`."""
    return pg.fetch(
        """
        SELECT count(*) FILTER (WHERE vector_dims(embedding) <> %s) AS bad, count(*) AS n
          FROM (SELECT embedding FROM conversation_logs WHERE embedding IS NOT NULL
                 ORDER BY seq DESC LIMIT %s) s
        """,
        (dims, sample),
    )[0]
