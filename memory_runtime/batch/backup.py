"""`agent-memory backup` and the daily backup job: a consistent, versioned snapshot of every store.

**Consistency.** PostgreSQL, the system of record, is read in one read-only REPEATABLE READ transaction: every
table is copied as of one moment while agents keep writing. That transaction stays open while the graph is
exported, and the graph's episodic nodes are filtered through it: a Turn or Conversation node whose row is not
in the snapshot (written after it began) is left out, with the relationships that end at it. So the backup's
turns are exactly the snapshot's, each complete, and a turn of the snapshot whose projection had not reached the
graph yet is projected on restore (`reproject`). Derived memory (entities, facts, goals, strategies ...) lives
only in the graph and is exported as it is during the export. Redis keeps working memory, the reflection job
stream and pending access statistics (the caches rebuild themselves).

**Files.** `backup_format` describes the directory. A backup is written into `<dir>.partial` and renamed to
`<dir>` once its manifest is on disk, so a directory with a manifest is always a complete backup.
"""

import json
import platform
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow

from memory_runtime.batch import backup_format as fmt
from memory_runtime.domain.errors import BackupError
from memory_runtime.domain.vocabulary import NODE_LABELS
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import backup as q
from memory_runtime.stores.postgres import backup as pg_backup
from memory_runtime.stores.postgres.settings import DIMENSIONS, MODEL, recorded_setting
from memory_runtime.stores.redis import backup as redis_backup

PAGE = 1000  # graph nodes per export page
PREFIX = "backup-"  # the scheduled backups' directory names: backup-YYYYMMDDTHHMMSSZ
PARTIAL = ".partial"
STALE_PARTIAL = timedelta(days=1)  # an unfinished backup directory older than this is removed on retention


@dataclass
class GraphExport:
    """What the graph export wrote and left out."""

    nodes: dict[str, int]
    relationships: int
    left_out: dict[str, int]


def write_backup(stores: Stores, directory: Path, progress: fmt.Progress | None = None) -> fmt.Manifest:
    """Back up every store into the new directory `directory`; returns its manifest."""
    progress = progress or fmt.Quiet()
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} exists and is not empty; back up into a new directory")
    partial = directory.with_name(directory.name + PARTIAL)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started, created = time.monotonic(), datetime.now(UTC)
    writer = fmt.Writer(partial)
    try:
        with stores.pg.connection() as conn:
            pg_backup.begin_snapshot(conn)
            version, migrations = pg_backup.schema_version(conn)
            if not version:
                raise BackupError("the store was never migrated: there is nothing to back up")
            embedder = fmt.Embedder(
                model_id=recorded_setting(conn, MODEL),
                dimensions=int(recorded_setting(conn, DIMENSIONS) or stores.settings.embedding_dimensions),
            )
            postgres = _copy_tables(conn, stores.pg.schema, writer, progress)
            graph = _export_graph(stores, conn, writer, progress)
        redis_keys = _dump_redis(stores, writer, progress)
        manifest = fmt.Manifest(
            format=fmt.FORMAT,
            format_version=fmt.FORMAT_VERSION,
            created_at=created,
            source=_source(stores),
            schema_version=version,
            migrations=migrations,
            embedder=embedder,
            postgres=postgres,
            graph=fmt.GraphPart(
                backend=stores.graph.backend,
                nodes=graph.nodes,
                relationships=graph.relationships,
                left_out=graph.left_out,
            ),
            redis=fmt.RedisPart(prefix=stores.redis.prefix, families=list(redis_backup.FAMILIES), keys=redis_keys),
            files=writer.files,
            seconds=round(time.monotonic() - started, 3),
        )
        writer.write_manifest(manifest)
        if directory.exists():
            directory.rmdir()  # empty (checked above)
        partial.rename(directory)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _source(stores: Stores) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("agent-memory")
    except PackageNotFoundError:
        release = "unknown"
    return {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "agent_memory": release,
        "postgres": stores.pg.server_version(),
        "postgres_schema": stores.pg.schema,
        "graph": stores.graph.server_version(),
        "redis": stores.redis.server_version(),
    }


def _copy_tables(
    conn: psycopg.Connection[DictRow], schema: str, writer: fmt.Writer, progress: fmt.Progress
) -> fmt.PostgresPart:
    tables = pg_backup.tables(conn, schema)
    counts = {t.name: pg_backup.row_count(conn, t.name) for t in tables}
    progress.step("postgres", sum(counts.values()), "rows")
    for table in tables:
        with writer.open(fmt.table_file(table.name)) as out:
            for chunk in pg_backup.copy_out(conn, table):
                out.write(chunk)
        progress.advance(counts[table.name])
    return fmt.PostgresPart(
        copy_format=pg_backup.COPY_FORMAT,
        tables={t.name: fmt.TableEntry(rows=counts[t.name], columns=list(t.columns)) for t in tables},
        sequences=pg_backup.sequences(conn, schema),
    )


# Labels whose nodes mirror a PostgreSQL row: kept only if the snapshot holds that row.
_IN_SNAPSHOT = {"Turn": pg_backup.present_turns, "Conversation": pg_backup.present_conversations}


def _primary_label(labels: list[str]) -> str:
    return next(lbl for lbl in NODE_LABELS if lbl in labels)


def _export_graph(
    stores: Stores, conn: psycopg.Connection[DictRow], writer: fmt.Writer, progress: fmt.Progress
) -> GraphExport:
    graph = stores.graph
    total = int(graph.read(q.count_nodes(graph.dialect))[0]["nodes"])
    progress.step("graph", total, "nodes")
    export = GraphExport({lbl: 0 for lbl in NODE_LABELS}, 0, {lbl: 0 for lbl in _IN_SNAPSHOT})
    relationships: list[dict[str, Any]] = []
    with writer.open(fmt.NODES) as nodes_out, writer.open(fmt.RELATIONSHIPS) as rels_out:
        for lbl in NODE_LABELS:
            for page in _node_pages(stores, lbl):
                kept = _in_snapshot(conn, lbl, page)
                export.left_out.setdefault(lbl, 0)
                if lbl in _IN_SNAPSHOT:
                    export.left_out[lbl] += len(page) - len(kept)
                vector_prop = q.VECTOR_PROPS.get(lbl)
                for row in kept:
                    props = dict(row["props"])
                    vector = props.pop(vector_prop, None) if vector_prop else None
                    record = {"labels": row["labels"], "props": props, "vector": vector}
                    nodes_out.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
                export.nodes[lbl] += len(kept)
                relationships = _outgoing(stores, conn, lbl, [r["id"] for r in kept])
                for rel in relationships:
                    rels_out.write(json.dumps(rel, separators=(",", ":")).encode() + b"\n")
                export.relationships += len(relationships)
                progress.advance(len(page))
    export.left_out = {k: v for k, v in export.left_out.items() if k in _IN_SNAPSHOT}
    return export


def _node_pages(stores: Stores, lbl: str) -> Iterator[list[dict[str, Any]]]:
    graph = stores.graph
    statement = q.node_page(graph.dialect, lbl)
    after = ""
    while rows := graph.read(statement, {"after": after, "batch": PAGE}):
        yield rows
        after = rows[-1]["id"]
        if len(rows) < PAGE:
            return


def _in_snapshot(conn: psycopg.Connection[DictRow], lbl: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    check = _IN_SNAPSHOT.get(lbl)
    if check is None or not rows:
        return rows
    present = check(conn, [r["id"] for r in rows])
    return [r for r in rows if r["id"] in present]


def _outgoing(stores: Stores, conn: psycopg.Connection[DictRow], lbl: str, ids: list[str]) -> list[dict[str, Any]]:
    """The relationships leaving `ids`, without those that end at a node the snapshot filter leaves out."""
    if not ids:
        return []
    graph = stores.graph
    rows = graph.read(q.outgoing(graph.dialect, lbl), {"ids": ids})
    rels = [
        {
            "src_label": lbl,
            "src": r["src"],
            "type": r["type"],
            "dst_label": _primary_label(r["dst_labels"]),
            "dst": r["dst"],
            "props": r["props"],
        }
        for r in rows
    ]
    for end_label, check in _IN_SNAPSHOT.items():
        ends = sorted({r["dst"] for r in rels if r["dst_label"] == end_label})
        if ends:
            present = check(conn, ends)
            rels = [r for r in rels if r["dst_label"] != end_label or r["dst"] in present]
    return rels


def _dump_redis(stores: Stores, writer: fmt.Writer, progress: fmt.Progress) -> int:
    progress.step("redis", redis_backup.key_count(stores.redis), "keys")

    def records() -> Iterator[dict[str, Any]]:
        for key in redis_backup.dump_keys(stores.redis):
            progress.advance(1)
            yield {"name": key.name, "ttl_ms": key.ttl_ms, "payload": fmt.encode_bytes(key.payload)}

    return writer.write_lines(fmt.REDIS_KEYS, records())


# ---- the daily backup: a new directory under a root, then retention ------------------------------------


def backups_in(root: Path) -> list[Path]:
    """The complete backups under `root` (directories with a manifest), oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / fmt.MANIFEST).is_file()]
    return sorted(found, key=lambda p: p.name)


def prune(root: Path, keep: int, now: datetime | None = None) -> list[Path]:
    """Delete all but the `keep` newest complete backups, and unfinished ones older than a day; returns the removed."""
    if keep < 1:
        raise BackupError(f"keep must be at least 1 (got {keep}): retention never deletes the newest backup")
    now = now or datetime.now(UTC)
    removed = backups_in(root)[:-keep]
    for path in root.glob(f"{PREFIX}*{PARTIAL}") if root.is_dir() else []:
        if now - datetime.fromtimestamp(path.stat().st_mtime, UTC) > STALE_PARTIAL:
            removed.append(path)
    for path in removed:
        shutil.rmtree(path)
    return removed


def scheduled_backup(
    stores: Stores, root: Path, keep: int, now: datetime | None = None, progress: fmt.Progress | None = None
) -> tuple[Path, fmt.Manifest, list[Path]]:
    """Write a backup to `root/backup-<UTC time>`, then keep the `keep` newest; returns its path, manifest, removed."""
    if keep < 1:
        raise BackupError(f"keep must be at least 1 (got {keep})")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    directory = Path(root) / f"{PREFIX}{moment:%Y%m%dT%H%M%SZ}"
    manifest = write_backup(stores, directory, progress)
    return directory, manifest, prune(Path(root), keep, moment)
