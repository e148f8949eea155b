"""`agent-memory restore`: rebuild an empty store from a backup directory (see `backup`).

Order: read and check the manifest (format, version, schema version, embedding dimension) and every file's
checksum before anything is written; migrate the target; refuse a target that holds memories unless forced;
load PostgreSQL in one transaction (all tables or none, row counts checked against the manifest before it
commits); load the graph nodes, then their relationships; project the snapshot's turns the graph export did not
have (`reproject`); restore the Redis keys; have the graph server compact what was loaded (FalkorDB rewrites its
append-only file, so that its next start loads a snapshot instead of replaying the load). PostgreSQL is
all-or-nothing; should the graph or Redis step fail, the error says so and `restore --force` redoes the whole
restore.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory_runtime.batch import backup_format as fmt
from memory_runtime.domain.errors import (
    BackupCorruptError,
    BackupError,
    BackupVersionError,
    EmbeddingDimensionMismatch,
    RestoreTargetNotEmpty,
)
from memory_runtime.domain.vocabulary import NODE_LABELS
from memory_runtime.memory.episodic import reproject
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import backup as q
from memory_runtime.stores.migrations import migrate, postgres_migrations
from memory_runtime.stores.postgres import backup as pg_backup
from memory_runtime.stores.redis import backup as redis_backup

BATCH = 1000  # graph rows per write statement
# Tables whose rows the target may hold without counting as memories (migrate writes them).
BOOKKEEPING = frozenset({"memory_settings"})


@dataclass
class RestoreReport:
    """What a restore loaded."""

    manifest: fmt.Manifest
    rows: dict[str, int] = field(default_factory=dict)
    nodes: int = 0
    relationships: int = 0
    reprojected: int = 0
    redis_keys: int = 0
    compacted: bool = False  # the graph server's on-disk form rewritten after the load (FalkorDB: its AOF)
    seconds: float = 0.0

    def render(self) -> str:
        """A short human summary."""
        return (
            f"restored {sum(self.rows.values()):,} rows in {len(self.rows)} tables, {self.nodes:,} graph nodes, "
            f"{self.relationships:,} relationships, {self.redis_keys:,} Redis keys; projected "
            f"{self.reprojected:,} turn(s) the graph export did not have ({self.seconds:.1f} s)"
        )


def check_backup(stores: Stores, directory: Path, progress: fmt.Progress | None = None) -> fmt.Manifest:
    """The backup's manifest, after checking that this store can take it and that every file is intact."""
    manifest = fmt.read_manifest(directory)
    known = max((m.version for m in postgres_migrations()), default=0)
    if manifest.schema_version > known:
        raise BackupVersionError(
            f"{directory} was written at schema version {manifest.schema_version}; this agent-memory knows up to "
            f"version {known}: upgrade agent-memory to restore it"
        )
    dims = stores.settings.embedding_dimensions
    if manifest.embedder.dimensions != dims:
        raise EmbeddingDimensionMismatch(dims, manifest.embedder.dimensions, f"backup {directory}")
    fmt.verify_files(directory, manifest, progress or fmt.Quiet())
    return manifest


def target_contents(stores: Stores) -> dict[str, int]:
    """What the target holds: rows per memory table, graph nodes and saved Redis keys (all zero = empty)."""
    with stores.pg.connection() as conn:
        out = {
            t.name: pg_backup.row_count(conn, t.name)
            for t in pg_backup.tables(conn, stores.pg.schema)
            if t.name not in BOOKKEEPING
        }
    out["graph nodes"] = int(stores.graph.read(q.count_nodes(stores.graph.dialect))[0]["nodes"])
    out["Redis keys"] = redis_backup.key_count(stores.redis)
    return {k: v for k, v in out.items() if v}


def restore_backup(
    stores: Stores, directory: Path, *, force: bool = False, progress: fmt.Progress | None = None
) -> RestoreReport:
    """Restore the backup in `directory` into the (empty, or with `force` emptied) store."""
    progress = progress or fmt.Quiet()
    started = time.monotonic()
    directory = Path(directory)
    manifest = check_backup(stores, directory, progress)
    migrate(stores.pg, stores.graph, stores.settings.embedding_dimensions)
    held = target_contents(stores)
    if held and not force:
        raise RestoreTargetNotEmpty(held)
    if held:
        _empty_graph(stores)
        redis_backup.delete_keys(stores.redis)
    report = RestoreReport(manifest)
    report.rows = _load_postgres(stores, directory, manifest, progress)
    try:
        report.nodes, report.relationships = _load_graph(stores, directory, manifest, progress)
        turns = manifest.postgres.tables.get("conversation_logs")
        progress.step("reproject", turns.rows if turns else 0, "turns")
        report.reprojected = reproject(stores, progress=progress.advance).projected
        report.redis_keys = _load_redis(stores, directory, manifest, progress)
        progress.step("compact", 1, "graph store")
        report.compacted = stores.graph.compact()
        progress.advance(1)
    except BackupCorruptError:
        raise
    except Exception as exc:
        raise BackupError(
            f"PostgreSQL was restored, but loading the graph or Redis failed ({type(exc).__name__}: {exc}); "
            f"fix the cause and run `agent-memory restore --force {directory}` to redo the restore"
        ) from exc
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _empty_graph(stores: Stores) -> None:
    graph = stores.graph
    statement = q.delete_batch(graph.dialect)
    while int(graph.write(statement, {"batch": 10_000})[0]["deleted"]):
        pass


def _load_postgres(stores: Stores, directory: Path, manifest: fmt.Manifest, progress: fmt.Progress) -> dict[str, int]:
    """Every table in one transaction: emptied, loaded, counted against the manifest, sequences set."""
    if manifest.postgres.copy_format != pg_backup.COPY_FORMAT:
        raise BackupVersionError(f"{directory}: unknown COPY format {manifest.postgres.copy_format!r}")
    progress.step("postgres", sum(t.rows for t in manifest.postgres.tables.values()), "rows")
    loaded: dict[str, int] = {}
    with stores.pg.connection() as conn:
        target = {t.name: t for t in pg_backup.tables(conn, stores.pg.schema)}
        missing = [
            f"{name}.{col}" if name in target else name
            for name, entry in manifest.postgres.tables.items()
            for col in (entry.columns if name in target else [""])
            if name not in target or col not in target[name].columns
        ]
        if missing:
            raise BackupVersionError(f"{directory} has tables or columns this store lacks: {', '.join(missing[:10])}")
        pg_backup.truncate(conn, list(target))
        for name, entry in manifest.postgres.tables.items():
            table = pg_backup.Table(name, tuple(entry.columns))
            pg_backup.copy_in(conn, table, fmt.read_chunks(directory, fmt.table_file(name)))
            loaded[name] = pg_backup.row_count(conn, name)
            if loaded[name] != entry.rows:
                raise BackupCorruptError(
                    f"{directory}: {name} loaded {loaded[name]:,} rows but the manifest records {entry.rows:,}"
                )
            progress.advance(entry.rows)
        for key, value in manifest.postgres.sequences.items():
            table_name, _, column = key.partition(".")
            pg_backup.set_sequence(conn, table_name, column, value)
    return loaded


def _load_graph(stores: Stores, directory: Path, manifest: fmt.Manifest, progress: fmt.Progress) -> tuple[int, int]:
    graph = stores.graph
    progress.step("graph", sum(manifest.graph.nodes.values()) + manifest.graph.relationships, "nodes+relationships")
    nodes = _write_grouped(
        fmt.read_lines(directory, fmt.NODES),
        _node_group,
        lambda key, rows: graph.write(q.create_nodes(graph.dialect, key[0], key[1], key[2]), {"rows": rows}),
        progress,
    )
    expected = sum(manifest.graph.nodes.values())
    if nodes != expected:
        raise BackupCorruptError(f"{directory}: the graph export holds {nodes:,} nodes, the manifest {expected:,}")
    relationships = _write_grouped(
        fmt.read_lines(directory, fmt.RELATIONSHIPS),
        lambda r: (
            (r["src_label"], r["type"], r["dst_label"]),
            {"src": r["src"], "dst": r["dst"], "props": r["props"]},
        ),
        lambda key, rows: graph.write(q.create_relationships(graph.dialect, *key), {"rows": rows}),
        progress,
    )
    return nodes, relationships


def _node_group(record: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    labels = record["labels"]
    primary = next((lbl for lbl in NODE_LABELS if lbl in labels), None)
    if primary is None:
        raise BackupCorruptError(f"a graph node has no known label: {labels}")
    extra = next((lbl for lbl in labels if lbl != primary), "")
    vector = record.get("vector") is not None and primary in q.VECTOR_PROPS
    row: dict[str, Any] = {"props": record["props"]}
    if vector:
        row["vector"] = record["vector"]
    return (primary, extra, vector), row


def _write_grouped(
    records: Iterator[dict[str, Any]],
    group: Callable[[dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]],
    write: Callable[[tuple[Any, ...], list[dict[str, Any]]], list[dict[str, Any]]],
    progress: fmt.Progress,
) -> int:
    """Write records in batches of one statement shape each; returns how many the statements created."""
    pending: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    created = 0

    def flush(key: tuple[Any, ...]) -> None:
        nonlocal created
        rows = pending.pop(key)
        result = write(key, rows)
        created += int(result[0]["created"]) if result else 0
        progress.advance(len(rows))

    for record in records:
        key, row = group(record)
        pending[key].append(row)
        if len(pending[key]) >= BATCH:
            flush(key)
    for key in list(pending):
        flush(key)
    return created


def _load_redis(stores: Stores, directory: Path, manifest: fmt.Manifest, progress: fmt.Progress) -> int:
    progress.step("redis", manifest.redis.keys, "keys")

    def keys() -> Iterator[redis_backup.SavedKey]:
        for r in fmt.read_lines(directory, fmt.REDIS_KEYS):
            progress.advance(1)
            yield redis_backup.SavedKey(r["name"], int(r["ttl_ms"]), fmt.decode_bytes(r["payload"]))

    return redis_backup.restore_keys(stores.redis, keys(), source_prefix=manifest.redis.prefix)
