"""`agent-memory migrate`: apply the versioned SQL migrations and the graph schema, idempotently.

SQL migrations are `schema/postgres/NNNN_name.sql`, applied in order inside one transaction each and
recorded in `schema_migrations` with a checksum. The embedding dimension is fixed by the first run
(`memory_settings`); a different configured dimension is refused before anything is changed. The first run
also records which embedder wrote the stored vectors (`embedding_model`); a different configured embedder is
not refused, it is warned about (`agent-memory reembed` recomputes the vectors, same dimension only).

Graph data steps follow the graph schema: `backfill_graph` gives nodes written by an older version the
properties and nodes the current statements look them up by (the facts' `claim_key` / `slot_key`, the
entities' `EntityAlias` nodes).
"""

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from memory_runtime.domain import ids
from memory_runtime.domain.errors import EmbeddingDimensionMismatch, SchemaError
from memory_runtime.embeddings.base import Embedder
from memory_runtime.stores import embedder_record as embedding_model
from memory_runtime.stores.graph import GraphStore, SchemaReport
from memory_runtime.stores.graph.queries import semantic as semantic_q
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.postgres import schema as bookkeeping
from memory_runtime.stores.postgres.settings import DIMENSIONS, MODEL, read_settings, record_setting, recorded_setting

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
BACKFILL_BATCH = 5000  # nodes per backfill statement (one transaction each on Neo4j)


@dataclass(frozen=True)
class Migration:
    """One SQL migration file."""

    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        """sha256 of the file as committed (before the dimension is filled in)."""
        return hashlib.sha256(self.template.encode()).hexdigest()

    def render(self, dims: int) -> str:
        """The SQL with the embedding dimension filled in."""
        return self.template.replace("{{EMBEDDING_DIMENSIONS}}", str(int(dims)))


@dataclass
class MigrationReport:
    """What a migrate run changed."""

    applied: list[str] = field(default_factory=list)
    graph: SchemaReport = field(default_factory=SchemaReport)
    backfilled: int = 0
    embedding: embedding_model.EmbeddingState | None = None  # None: migrate was given no embedder
    recorded_model: str | None = None  # the embedder id this run recorded (first run only)

    @property
    def changed(self) -> bool:
        """True if anything was created, backfilled or recorded."""
        return bool(self.applied or self.graph.created or self.backfilled or self.recorded_model)


def schema_dir() -> Path:
    """The `schema/` directory: the repository's, or the copy shipped inside the wheel."""
    repo = Path(__file__).resolve().parents[2] / "schema"
    if repo.is_dir():
        return repo
    return Path(str(resources.files("memory_runtime") / "_schema"))


def postgres_migrations() -> list[Migration]:
    """All SQL migrations in version order."""
    out = []
    for path in sorted((schema_dir() / "postgres").glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise SchemaError(f"migration file {path.name!r} must be named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"duplicate migration versions in {schema_dir() / 'postgres'}")
    return out


def stored_dimensions(pg: PostgresStore) -> int | None:
    """The embedding dimension recorded by the first migrate run, if any."""
    value = (read_settings(pg) or {}).get(DIMENSIONS)
    return None if value is None else int(value)


def check_schema(pg: PostgresStore, dims: int, model_id: str) -> None:
    """At start-up: refuse a store never migrated or built for another dimension; warn (once) if its vectors
    were written by another embedder than `model_id`."""
    recorded = read_settings(pg)
    if recorded is None or DIMENSIONS not in recorded:
        raise SchemaError("the memory schema is missing; run `agent-memory migrate` first")
    if int(recorded[DIMENSIONS]) != dims:
        raise EmbeddingDimensionMismatch(dims, int(recorded[DIMENSIONS]), "PostgreSQL embedding column")
    embedding_model.warn_if_stale(embedding_model.EmbeddingState(recorded.get(MODEL), model_id))


def migrate_postgres(pg: PostgresStore, dims: int) -> list[str]:
    """Apply pending SQL migrations; returns the names applied."""
    applied: list[str] = []
    with pg.connection() as conn:
        bookkeeping.create_schema(conn, pg.schema)
        bookkeeping.lock_migrations(conn)
        bookkeeping.create_bookkeeping_tables(conn)
        recorded = recorded_setting(conn, DIMENSIONS)
        if recorded is not None and int(recorded) != dims:
            raise EmbeddingDimensionMismatch(dims, int(recorded), "PostgreSQL embedding column")
        if recorded is None:
            record_setting(conn, DIMENSIONS, str(dims))
        done = bookkeeping.applied_migrations(conn)
        for mig in postgres_migrations():
            if mig.version in done:
                if done[mig.version]["checksum"] != mig.checksum:
                    raise SchemaError(
                        f"migration {mig.version:04d}_{mig.name} changed after it was applied; "
                        f"add a new migration file instead of editing an applied one"
                    )
                continue
            bookkeeping.apply_migration(conn, mig.version, mig.name, mig.checksum, mig.render(dims))
            applied.append(f"{mig.version:04d}_{mig.name}")
    return applied


def migrate(pg: PostgresStore, graph: GraphStore, dims: int, embedder: Embedder | None = None) -> MigrationReport:
    """Bring Postgres and the graph up to the current schema; a second run changes nothing.

    With `embedder` (every command passes the configured one), also record which embedder wrote the stored
    vectors on the first run, and report (and warn about) a different one; without, that is left alone.
    """
    existing = stored_dimensions(pg)
    if existing is not None and existing != dims:
        raise EmbeddingDimensionMismatch(dims, existing, "PostgreSQL embedding column")
    graph_dims = graph.vector_dimensions()
    for lbl, d in sorted(graph_dims.items()):
        if d != dims:
            raise EmbeddingDimensionMismatch(dims, d, f"{graph.backend} vector index on :{lbl}")
    report = MigrationReport(applied=migrate_postgres(pg, dims))
    report.graph = graph.ensure_schema(dims)
    report.backfilled = backfill_graph(graph)
    if report.backfilled:  # updating facts orphans their vectors on FalkorDB (memory_runtime.batch.reindex)
        graph.rebuild_vector_index("Fact", dims)
    if embedder is not None:
        report.embedding, report.recorded_model = embedding_model.settle(pg, graph, embedder)
    return report


def backfill_graph(graph: GraphStore, batch: int = BACKFILL_BATCH) -> int:
    """Give nodes written by an older version what the current statements look them up by, in batches: the
    facts' lookup keys, the entities' alias nodes. Returns the number of nodes updated."""
    total = 0
    statement = semantic_q.backfill_fact_keys(graph.dialect)
    while True:
        rows = graph.write(statement, {"batch": batch})
        updated = int(rows[0]["updated"]) if rows else 0
        total += updated
        if updated < batch:
            break
    return total + _backfill_entity_aliases(graph, batch)


def _backfill_entity_aliases(graph: GraphStore, batch: int) -> int:
    """Link the alias nodes every entity's `norm_aliases` should have (entities from before alias nodes)."""
    total, after = 0, ""
    while page := graph.read(semantic_q.entity_alias_page(graph.dialect), {"after": after, "batch": batch}):
        after = page[-1]["id"]
        todo = []
        for row in page:
            keys = {ids.alias_id(row["user_id"], norm) for norm in row["norm_aliases"]} - set(row["linked"])
            if keys:
                todo.append({"id": row["id"], "keys": sorted(keys)})
        if todo:
            total += int(graph.write(semantic_q.link_entity_aliases(graph.dialect), {"rows": todo})[0]["updated"])
        if len(page) < batch:
            break
    return total
