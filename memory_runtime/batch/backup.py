"""`agent-memory backup` and the daily backup job: a consistent, versioned snapshot of every store.

**Consistency.** PostgreSQL, the system of record, is read in one read-only REPEATABLE READ transaction: every
table is copied as of one moment while agents keep writing. That transaction stays open while the graph is
exported, and the graph's episodic nodes are read through it: the Turn nodes are fetched by the snapshot's turn
ids in ingest order (a page of the log, then one id-index lookup in the graph, so the export is linear in the
turns), and a Conversation node whose row is not in the snapshot is left out; so is every relationship that ends
at a node left out. So the backup's turns are exactly the snapshot's, each complete, and a turn of the snapshot
whose projection had not reached the graph yet is projected on restore (`reproject`). The other labels are read
in pages in the order their nodes were written (`created_at`, then id), and a restore writes every label in the
export's order, so the engines' indexes receive the nodes in about the order the source's did.

Derived memory (entities, facts, goals, strategies ...) lives only in the graph and is exported as it is during
the export, with one filter that keeps the backup's references inside the snapshot: an Entity or Fact records
its source turns (`source_turn_ids`), and those that are in the live log but not in the snapshot were written
after it began (consolidation can run during a backup). An Entity or Fact whose every source turn is such a later
turn exists only because of them: it is left out (counted in the manifest's `left_out`), and so is every
relationship that ends at it. One that also has earlier sources is kept, without the later ones in its
`source_turn_ids`. Ids that are no turn at all (callers may name their own) are kept as they are. What the filter
cannot undo is an in-place change a left-out node made to a kept one while the export ran (a fact that
superseded an older one closed the older one's validity): those changes are in the backup as they were read.
Redis keeps working memory, the reflection job stream and pending access statistics (the caches rebuild
themselves).

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
            graph = _export_graph(_Snapshot(stores, conn, pg_backup.snapshot_started_ms(conn)), writer, progress)
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
# Labels whose nodes record the turns they were derived from (`source_turn_ids`): see the module docstring.
_DERIVED = ("Entity", "Fact")


def _primary_label(labels: list[str]) -> str:
    return next(lbl for lbl in NODE_LABELS if lbl in labels)


@dataclass
class _Snapshot:
    """Decides what of the live graph belongs to the PostgreSQL snapshot `conn` (begun at `started_ms`)."""

    stores: Stores
    conn: psycopg.Connection[DictRow]
    started_ms: int

    def nodes(self, lbl: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The nodes of a page the backup keeps: mirrored rows the snapshot holds, derived nodes not made by later
        turns alone (those kept lose their later source turns)."""
        if not rows:
            return rows
        check = _IN_SNAPSHOT.get(lbl)
        if check is not None:
            present = check(self.conn, [r["id"] for r in rows])
            return [r for r in rows if r["id"] in present]
        if lbl not in _DERIVED:
            return rows
        later = self.later_turns([t for r in rows for t in r["props"].get("source_turn_ids") or []])
        kept = []
        for row in rows:
            props = row["props"]
            sources = props.get("source_turn_ids") or []
            if self.made_by_later(sources, props.get("created_at"), later):
                continue
            if later.intersection(sources):
                row = {**row, "props": {**props, "source_turn_ids": [t for t in sources if t not in later]}}
            kept.append(row)
        return kept

    def relationships(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`backup.outgoing` rows as export records, without those ending at a node the backup leaves out."""
        rels = [
            {
                "src_label": r["src_label"],
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
                present = check(self.conn, ends)
                rels = [r for r in rels if r["dst_label"] != end_label or r["dst"] in present]
        ends_of = {r["dst"]: r for r in rows if r["dst_sources"]}
        later = self.later_turns([t for r in ends_of.values() for t in r["dst_sources"]])
        if later:
            left_out = {
                dst for dst, r in ends_of.items() if self.made_by_later(r["dst_sources"], r["dst_created_at"], later)
            }
            rels = [r for r in rels if r["dst_label"] not in _DERIVED or r["dst"] not in left_out]
        return rels

    def later_turns(self, ids: list[str]) -> set[str]:
        """Those of `ids` that are turns written after the snapshot began: in the live log, not in the snapshot."""
        unique = sorted(set(ids))
        if not unique:
            return set()
        outside = sorted(set(unique) - pg_backup.present_turns(self.conn, unique))
        if not outside:
            return set()
        with self.stores.pg.connection() as live:  # a second connection sees what committed after the snapshot
            return pg_backup.present_turns(live, outside)

    def made_by_later(self, sources: list[str], created_at: Any, later: set[str]) -> bool:
        """Whether a derived node exists only because of later turns: created after the snapshot began (by the
        writer's clock) from sources that are all later turns. A node from before that a later turn reinforced
        is kept."""
        recent = not isinstance(created_at, int | float) or created_at >= self.started_ms
        return recent and bool(sources) and all(t in later for t in sources)


def _export_graph(snapshot: _Snapshot, writer: fmt.Writer, progress: fmt.Progress) -> GraphExport:
    graph = snapshot.stores.graph
    total = int(graph.read(q.count_nodes(graph.dialect))[0]["nodes"])
    progress.step("graph", total, "nodes")
    export = GraphExport({lbl: 0 for lbl in NODE_LABELS}, 0, {lbl: 0 for lbl in (*_IN_SNAPSHOT, *_DERIVED)})
    with writer.open(fmt.NODES) as nodes_out, writer.open(fmt.RELATIONSHIPS) as rels_out:
        for lbl in NODE_LABELS:
            pages = _turn_pages(snapshot) if lbl == "Turn" else _node_pages(snapshot.stores, lbl)
            for page in pages:
                kept = page if lbl == "Turn" else snapshot.nodes(lbl, page)
                if lbl in export.left_out:
                    export.left_out[lbl] += len(page) - len(kept)
                vector_prop = q.VECTOR_PROPS.get(lbl)
                for row in kept:
                    props = dict(row["props"])
                    vector = props.pop(vector_prop, None) if vector_prop else None
                    record = {"labels": row["labels"], "props": props, "vector": vector}
                    nodes_out.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
                export.nodes[lbl] += len(kept)
                ids = [r["id"] for r in kept]
                outgoing = graph.read(q.outgoing(graph.dialect, lbl), {"ids": ids}) if ids else []
                relationships = snapshot.relationships([{**r, "src_label": lbl} for r in outgoing])
                for rel in relationships:
                    rels_out.write(json.dumps(rel, separators=(",", ":")).encode() + b"\n")
                export.relationships += len(relationships)
                progress.advance(len(page))
        # Turn nodes in the graph beyond the snapshot's (written after it began): left out
        turns_now = int(graph.read(q.count_label(graph.dialect, "Turn"))[0]["nodes"])
        export.left_out["Turn"] = max(0, turns_now - export.nodes["Turn"])
    return export


def _node_pages(stores: Stores, lbl: str) -> Iterator[list[dict[str, Any]]]:
    """The label's nodes in pages, in the order they were written (created_at, then id)."""
    graph = stores.graph
    statement = q.node_page(graph.dialect, lbl)
    after_t, after = 0, ""
    while rows := graph.read(statement, {"after_t": after_t, "after": after, "batch": PAGE}):
        yield rows
        after_t, after = rows[-1]["t"], rows[-1]["id"]
        if len(rows) < PAGE:
            return


def _turn_pages(snapshot: _Snapshot) -> Iterator[list[dict[str, Any]]]:
    """The Turn nodes of the snapshot's turns, in pages in ingest order (the log's seq): each page is one index
    lookup, so the export stays linear in the number of turns. A snapshot turn the graph lacks is skipped (the
    restore projects it)."""
    graph = snapshot.stores.graph
    statement = q.nodes_by_id(graph.dialect, "Turn")
    seq = 0
    while page := pg_backup.turn_ids_after(snapshot.conn, seq, PAGE):
        seq = page[-1][0]
        ids = [turn for _, turn in page]
        found = {r["id"]: r for r in graph.read(statement, {"ids": ids})}
        yield [found[t] for t in ids if t in found]


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
