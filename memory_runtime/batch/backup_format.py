"""The on-disk format of a backup: a directory of gzipped files and `manifest.json`, written last.

```
manifest.json                      format + version, schema version, embedder, counts, sha256 of every file
postgres/<table>.copy.gz           binary COPY of each memory table (one REPEATABLE READ snapshot)
graph/nodes.jsonl.gz               one node per line: labels, properties, vector
graph/relationships.jsonl.gz       one relationship per line: both ends (label, id), type, properties
redis/keys.jsonl.gz                one key per line: name after the prefix, TTL, DUMP payload (base64)
```

`read_manifest` and `verify_files` refuse a foreign, newer or damaged backup with a typed error before a restore
writes anything.
"""

import base64
import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import pydantic

from memory_runtime.domain.errors import BackupCorruptError, BackupVersionError

FORMAT = "agent-memory-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NODES = "graph/nodes.jsonl.gz"
RELATIONSHIPS = "graph/relationships.jsonl.gz"
REDIS_KEYS = "redis/keys.jsonl.gz"
COMPRESS_LEVEL = 1  # gzip level 1: about as small as level 6 on this data, several times faster
CHUNK = 1 << 20


def table_file(table: str) -> str:
    """The file of one table's COPY data."""
    return f"postgres/{table}.copy.gz"


class FileEntry(pydantic.BaseModel):
    """Size and checksum of one file of the backup."""

    sha256: str
    bytes: int


class TableEntry(pydantic.BaseModel):
    """One table: its row count in the snapshot and the columns, in COPY order."""

    rows: int
    columns: list[str]


class PostgresPart(pydantic.BaseModel):
    """The system of record: tables, sequences and the COPY format."""

    copy_format: str
    tables: dict[str, TableEntry]  # in load order (referenced tables first)
    sequences: dict[str, int | None]


class GraphPart(pydantic.BaseModel):
    """The graph export: nodes per label, relationships, and what the snapshot filter left out."""

    backend: str
    nodes: dict[str, int]
    relationships: int
    left_out: dict[str, int]  # Turn / Conversation nodes not in the snapshot; Entity / Fact only from later turns


class RedisPart(pydantic.BaseModel):
    """The saved Redis keys."""

    prefix: str
    families: list[str]
    keys: int


class Embedder(pydantic.BaseModel):
    """The embedder that wrote the stored vectors, as recorded by the store."""

    model_id: str | None
    dimensions: int


class Manifest(pydantic.BaseModel):
    """What a backup holds and how to check it."""

    format: str
    format_version: int
    created_at: datetime
    source: dict[str, str]
    schema_version: int
    migrations: list[str]
    embedder: Embedder
    postgres: PostgresPart
    graph: GraphPart
    redis: RedisPart
    files: dict[str, FileEntry]
    seconds: float

    def counts(self) -> dict[str, int]:
        """Rows per table, nodes per label, relationships and Redis keys, as one flat mapping."""
        out = {f"postgres.{t}": e.rows for t, e in self.postgres.tables.items()}
        out |= {f"graph.{label}": n for label, n in self.graph.nodes.items()}
        out["graph.relationships"] = self.graph.relationships
        out["redis.keys"] = self.redis.keys
        return out


class Progress(Protocol):
    """Where long steps report: a step with its total, then advances in the same unit."""

    def step(self, name: str, total: int, unit: str) -> None: ...

    def advance(self, n: int) -> None: ...


class Quiet:
    """Progress that reports nothing."""

    def step(self, name: str, total: int, unit: str) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


class _Hashing(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.size += len(view)
        self.raw.write(view)
        return len(view)


class Writer:
    """Writes the files of a backup directory and records their checksums."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: dict[str, FileEntry] = {}

    @contextmanager
    def open(self, name: str) -> Iterator[gzip.GzipFile]:
        """A gzip stream to the file `name`; its checksum is recorded when the stream closes."""
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as raw:
            hashing = _Hashing(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=hashing, compresslevel=COMPRESS_LEVEL, mtime=0) as gz:
                yield gz
            raw.flush()
            os.fsync(raw.fileno())
        self.files[name] = FileEntry(sha256=hashing.digest.hexdigest(), bytes=hashing.size)

    def write_lines(self, name: str, records: Iterable[dict[str, Any]]) -> int:
        """Write `records` as JSON lines to the gzip file `name`; returns how many."""
        n = 0
        with self.open(name) as out:
            for record in records:
                out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
                n += 1
        return n

    def write_manifest(self, manifest: Manifest) -> None:
        """Write manifest.json (the last file: a backup without one is incomplete)."""
        path = self.directory / MANIFEST
        with path.open("w", encoding="utf-8") as out:
            out.write(manifest.model_dump_json(indent=2))
            out.flush()
            os.fsync(out.fileno())


def read_chunks(directory: Path, name: str) -> Iterator[bytes]:
    """The decompressed content of the backup file `name`, in chunks."""
    try:
        with gzip.open(directory / name, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise BackupCorruptError(f"{directory / name} cannot be read: {exc}") from exc


def read_lines(directory: Path, name: str) -> Iterator[dict[str, Any]]:
    """The JSON records of the backup file `name`."""
    try:
        with gzip.open(directory / name, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BackupCorruptError(f"{directory / name}: line {number} is not JSON: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise BackupCorruptError(f"{directory / name} cannot be read: {exc}") from exc


def encode_bytes(payload: bytes) -> str:
    """Binary payload as text for a JSON line."""
    return base64.b64encode(payload).decode("ascii")


def decode_bytes(text: str) -> bytes:
    """The inverse of encode_bytes."""
    return base64.b64decode(text.encode("ascii"), validate=True)


def read_manifest(directory: Path) -> Manifest:
    """The manifest of the backup in `directory`; a typed error for a missing, foreign, newer or damaged one."""
    path = directory / MANIFEST
    if not path.is_file():
        where = "does not exist" if not directory.exists() else f"has no {MANIFEST} (an unfinished or foreign backup)"
        raise BackupCorruptError(f"{directory} {where}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupCorruptError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupVersionError(f"{directory} is not an agent-memory backup ({MANIFEST} has no format {FORMAT!r})")
    if raw.get("format_version") != FORMAT_VERSION:
        raise BackupVersionError(
            f"{directory} is in backup format version {raw.get('format_version')!r}; this agent-memory reads "
            f"version {FORMAT_VERSION}: restore it with the agent-memory release that wrote it"
        )
    try:
        return Manifest.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise BackupCorruptError(f"{path} is damaged: {exc.error_count()} invalid field(s): {exc}") from exc


def verify_files(directory: Path, manifest: Manifest, progress: Progress) -> None:
    """Check that every file the manifest lists exists with its recorded size and sha256 (and nothing is missing)."""
    progress.step("verifying", sum(f.bytes for f in manifest.files.values()), "bytes")
    for name, entry in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            raise BackupCorruptError(f"{path} is missing (listed in {MANIFEST})")
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                progress.advance(len(chunk))
        if size != entry.bytes or digest.hexdigest() != entry.sha256:
            raise BackupCorruptError(
                f"{path} does not match its checksum in {MANIFEST} ({size:,} bytes, sha256 {digest.hexdigest()[:12]}…; "
                f"recorded {entry.bytes:,} bytes, {entry.sha256[:12]}…): the backup is damaged"
            )
