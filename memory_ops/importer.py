"""Bulk import of historical conversations with their original timestamps (`agent-memory import`).

Per file, in two passes over it:

1. **Validate everything** (`memory_ops.importers.scan_file`): JSON, fields, roles, timestamps, content
   limits and the owner of each conversation. Any problem is an `ImportFormatError` naming the file and
   line/record, and nothing of that file is written. This pass keeps a content hash per turn, not the turns
   (jsonl is read one line at a time), so memory does not grow with the file's text.
2. **Check against the store** before the first write: a conversation id owned by another user
   (`ConversationOwnershipError`) or an existing turn index holding other content (`TurnConflictError`)
   also rejects the whole file. Turns already stored with the same content are counted as duplicates and
   not sent again (so a re-import neither writes nor re-embeds anything).
3. **Write** (`stream_turns`, the second pass): the new turns in file order, in batches of `batch_size`, as
   `EpisodicMemory.store_turns` writes them (one Postgres transaction with binary COPY each, then the graph
   projection, which worker threads run while the next batch is read, embedded and committed). The
   importer holds one batch being written and up to two being projected. The store's own idempotency on
   (conversation_id, index) + content hash backs the duplicate check against concurrent writers; a file
   changed on disk between the passes stops the import with an error (what was written stays).

A store failure in step 3 (server gone) leaves the batches already committed in place; re-running the
same import finishes the file, skipping what is stored. A graph failure after a commit is reported as a
warning: the turns are durable and `agent-memory reproject` or the `episodic_graph` asset (run by
`--backfill`) projects them.

Decisions:
* Owner: every conversation belongs to `user_id` (`--user`). A jsonl record may carry `user_id`; by
  default it must equal `--user` (or be absent). With `users_from_records=True` (`--users-from-records`)
  each conversation is stored under the user its records name, `--user` being the default for records
  without one.
* Working memory is not touched: historical turns are not "the current conversation".
* Embeddings of imported turns bypass the Redis embedding cache (it is for repeated queries; filling it
  with every historical turn would only cost memory). Re-imports do not re-embed (step 2).
* Files are independent and read one at a time: a bad file is reported in the summary's `errors` and the
  others are imported. Memory: a jsonl file costs about 300 bytes per turn (the first pass's hashes) plus
  two batches; a JSON document format (openai, chatgpt, sessions) is parsed whole, once per pass.
"""

import dataclasses
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from memory_ops.importers import FileScan, ParseOptions, expand_paths, scan_file, stream_turns
from memory_ops.progress import NoProgress, ProgressBar
from memory_runtime.config import Settings
from memory_runtime.domain import ids, validation
from memory_runtime.domain.errors import (
    AgentMemoryError,
    ConversationOwnershipError,
    ImportFormatError,
    ProjectionError,
    TurnConflictError,
    ValidationError,
)
from memory_runtime.domain.models import Turn
from memory_runtime.memory.episodic import EpisodicMemory, WriteResult
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.postgres import turns as pg_turns
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder

DEFAULT_BATCH_SIZE = 1000


# ---- summary ----------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did: counts, the days its turns cover, errors per file and warnings."""

    dry_run: bool = False
    files: int = 0
    files_failed: int = 0
    conversations: int = 0
    turns: int = 0
    inserted: int = 0
    duplicates: int = 0
    users: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    days: set[str] = field(default_factory=set)
    formats: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every file was imported."""
        return not self.errors

    def date_range(self) -> tuple[date, date] | None:
        """First and last UTC day with a turn, or None when nothing was read."""
        if self.first is None or self.last is None:
            return None
        return self.first.date(), self.last.date()

    def add_file(self, scan: FileScan) -> None:
        """Count a file's conversations, turns and days (after it was written, or validated in a dry run)."""
        self.files += 1
        self.formats[scan.format] = self.formats.get(scan.format, 0) + 1
        self.conversations += len(scan.conversations)
        self.turns += scan.turn_count
        for stamp in (scan.first, scan.last):
            if stamp is not None:
                self.first = stamp if self.first is None else min(self.first, stamp)
                self.last = stamp if self.last is None else max(self.last, stamp)
        self.days |= scan.days

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for `--json`)."""
        span = self.date_range()
        return {
            "dry_run": self.dry_run,
            "files": self.files,
            "files_failed": self.files_failed,
            "formats": self.formats,
            "users": sorted(self.users),
            "conversations": self.conversations,
            "turns": self.turns,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "first_day": span[0].isoformat() if span else None,
            "last_day": span[1].isoformat() if span else None,
            "days_with_turns": len(self.days),
            "errors": self.errors,
            "warnings": self.warnings,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def render(self) -> str:
        """The human-readable summary printed by `agent-memory import`."""
        span = self.date_range()
        days = (
            f"{span[0]}..{span[1]} ({len(self.days)} day(s) with turns, {(span[1] - span[0]).days + 1} in range)"
            if span
            else "-"
        )
        formats = ", ".join(f"{n} {name}" for name, n in sorted(self.formats.items())) or "-"
        rate = self.turns / self.elapsed_s if self.elapsed_s > 0 else 0.0
        lines = [
            "import summary" + (" (dry run: nothing written)" if self.dry_run else ""),
            f"  files              {self.files} imported ({formats}), {self.files_failed} failed",
            f"  users              {', '.join(sorted(self.users)) or '-'}",
            f"  conversations      {self.conversations:,}",
            f"  turns read         {self.turns:,}",
        ]
        if self.dry_run:
            lines.append("  turns imported     - (dry run; duplicates are not checked)")
        else:
            lines.append(f"  turns imported     {self.inserted:,}")
            lines.append(f"  duplicates skipped {self.duplicates:,}")
        lines += [
            f"  days covered       {days}",
            f"  errors             {len(self.errors)}",
            f"  time               {self.elapsed_s:.1f} s ({rate:,.0f} turns/s)",
        ]
        lines += [f"  error: {e}" for e in self.errors]
        shown = self.warnings[:10]
        lines += [f"  warning: {w}" for w in shown]
        if len(self.warnings) > len(shown):
            lines.append(f"  ... and {len(self.warnings) - len(shown)} more warning(s)")
        return "\n".join(lines)


# ---- importer ---------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """A validated file after the check against the store: who owns each conversation, and the turn indexes
    already stored with the same content (skipped when the file is written)."""

    scan: FileScan
    owners: dict[str, str]  # conversation id -> user id
    stored: dict[str, set[int]] = field(default_factory=dict)  # conversation id -> indexes stored already
    duplicates: int = 0

    @property
    def new_turns(self) -> int:
        return self.scan.turn_count - self.duplicates


# Conversations asked about per query when a file is checked against the store (bounds that check's memory).
_CHECK_CHUNK = 1000


class Importer:
    """Imports conversation files for a user; see the module docstring for the guarantees."""

    def __init__(
        self,
        stores: Stores | None,
        user_id: str | None,
        *,
        fmt: str = "auto",
        users_from_records: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
        settings: Settings | None = None,
        progress: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        if stores is None and not dry_run:
            raise ValidationError("an import that writes needs stores (only a dry run works without them)")
        if batch_size < 1:
            raise ValidationError("batch_size must be at least 1")
        if user_id is not None:
            user_id = validation.identifier(user_id, "--user")
        elif not users_from_records:
            raise ValidationError("no user: pass --user USER (or --users-from-records for jsonl with user_id)")
        self.stores = stores
        self.settings = settings or (stores.settings if stores else None)
        self.user_id = user_id
        self.fmt = fmt
        self.users_from_records = users_from_records
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.progress = progress
        self.stream = stream
        limit = self.settings.max_content_chars if self.settings else ParseOptions().max_content_chars
        self.options = ParseOptions(max_content_chars=limit)
        # Imports do not fill the Redis embedding cache (see the module docstring).
        self._write_stores = (
            dataclasses.replace(stores, embedder=CachedEmbedder(stores.embedder.inner, None, 0)) if stores else None
        )

    # ---- pass 1: validate ------------------------------------------------------------------------------
    def parse(self, path: str | Path) -> tuple[FileScan, dict[str, str]]:
        """Validate one file (without keeping its turns); returns its scan with the owner of each conversation."""
        scan = scan_file(path, self.fmt, self.options)
        owners: dict[str, str] = {}
        for conv in scan.conversations.values():
            owner = conv.user_id if (self.users_from_records and conv.user_id) else self.user_id
            if conv.user_id is not None and not self.users_from_records and conv.user_id != self.user_id:
                raise ImportFormatError(
                    scan.path,
                    f"conversation {conv.conversation_id!r} belongs to user_id {conv.user_id!r}, not --user "
                    f"{self.user_id!r}; pass --users-from-records to import each conversation under the user "
                    "its records name",
                    record=conv.source.rpartition("#")[2],
                )
            if owner is None:
                raise ImportFormatError(
                    scan.path,
                    f"conversation {conv.conversation_id!r} has no user_id and no --user was given",
                    record=conv.source.rpartition("#")[2],
                )
            try:
                owners[conv.conversation_id] = validation.identifier(owner, "user_id")
            except ValidationError as exc:
                raise ImportFormatError(scan.path, str(exc), record=conv.source.rpartition("#")[2]) from None
        return scan, owners

    # ---- check against the store ---------------------------------------------------------------------
    def _plan(self, scan: FileScan, owners: dict[str, str]) -> _Plan:
        assert self.stores is not None
        plan = _Plan(scan, owners)
        conv_ids = sorted(owners)
        for start in range(0, len(conv_ids), _CHECK_CHUNK):
            self._check_chunk(plan, conv_ids[start : start + _CHECK_CHUNK])
        return plan

    def _check_chunk(self, plan: _Plan, conv_ids: list[str]) -> None:
        assert self.stores is not None
        path = plan.scan.path
        with self.stores.pg.connection() as conn:
            stored_owners = pg_turns.conversation_owners(conn, conv_ids)
        foreign = [repr(c) for c, owner in stored_owners.items() if owner != plan.owners[c]]
        if foreign:
            raise ConversationOwnershipError(
                f"{path}: conversation(s) {', '.join(foreign)} already belong to another user; nothing "
                "of this file was written. Use conversation ids of your own (or import as that user)."
            )
        if not stored_owners:
            return
        stored = pg_turns.stored_turn_hashes(self.stores.pg, sorted(stored_owners))
        for (conv_id, index), existing in sorted(stored.items()):
            digest = plan.scan.conversations[conv_id].hashes.get(index)
            if digest is None:
                continue
            if existing != digest:
                err = TurnConflictError(conv_id, index)
                err.args = (f"{path}: {err} Nothing of this file was written.",)
                raise err
            plan.stored.setdefault(conv_id, set()).add(index)
            plan.duplicates += 1

    def _batches(self, plan: _Plan) -> Iterator[list[Turn]]:
        """The file's new turns (the second pass), in batches of batch_size, in file order."""
        batch: list[Turn] = []
        for turn in stream_turns(plan.scan, self.options):
            conv = plan.scan.conversations.get(turn.conversation_id)
            if conv is None or conv.hashes.get(turn.index) != ids.content_hash(turn.content):
                raise ImportFormatError(
                    plan.scan.path,
                    f"the file changed while it was imported (turn {turn.index} of {turn.conversation_id!r}); "
                    "import it again",
                )
            if turn.index in plan.stored.get(turn.conversation_id, ()):
                continue
            batch.append(turn)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    # ---- pass 2: write --------------------------------------------------------------------------------
    def _write(self, plan: _Plan, summary: ImportSummary, bar: ProgressBar, units: float) -> None:
        """Store the plan's new turns in batches; `units` of the progress bar stand for the whole file.

        Each batch is committed to Postgres here and projected into the graph by worker threads while the next
        batch is read, embedded and committed. With one worker (Neo4j) projections run one at a time in batch
        order, so a conversation split over two batches is linked (concurrent transactions would each miss the
        other's turns). A graph that runs one write at a time (FalkorDB) gets two workers: one batch is sent while
        the other runs, which keeps the server busy, and whichever of two neighbouring batches runs second links
        them (each turn links to its stored predecessor and successor). Up to `workers` batches wait for their
        projection.
        """
        assert self._write_stores is not None
        per_turn = units / max(1, plan.scan.turn_count)
        bar.advance(per_turn * plan.duplicates, plan.duplicates)
        written = 0
        memories: dict[str, EpisodicMemory] = {}
        workers = 2 if self._write_stores.graph.serializes_writes else 1
        with ThreadPoolExecutor(workers, thread_name_prefix="agent-memory-import-projection") as projector:
            pending: deque[tuple[Future[WriteResult], int]] = deque()
            try:
                for batch in self._batches(plan):
                    for user, turns in _by_owner(batch, plan.owners).items():
                        episodic = memories.get(user)
                        if episodic is None:
                            episodic = memories[user] = EpisodicMemory(self._write_stores, user, None)
                        try:
                            committed = episodic.commit(turns)
                        except AgentMemoryError as exc:
                            raise _PartialWrite(written, plan.new_turns, exc) from exc
                        written += len(turns)
                        if len(pending) == workers:
                            self._projected(plan, summary, *pending.popleft())
                        pending.append((projector.submit(committed.project), len(turns)))
                        bar.advance(per_turn * len(turns), len(turns))
            except ImportFormatError as exc:  # the file changed on disk since the first pass
                raise _PartialWrite(written, plan.new_turns, exc) from exc
            finally:
                while pending:
                    self._projected(plan, summary, *pending.popleft())

    def _projected(self, plan: _Plan, summary: ImportSummary, projection: "Future[WriteResult]", size: int) -> None:
        """Count a committed batch once its projection is done; a graph failure is a warning (the turns are
        durable: the graph catches up later)."""
        try:
            result = projection.result()
        except ProjectionError as exc:
            summary.inserted += size
            summary.warnings.append(
                f"{plan.scan.path}: {exc} Run `agent-memory reproject` or a backfill to project them."
            )
            return
        summary.inserted += result.inserted
        summary.duplicates += result.duplicates
        summary.warnings.extend(result.warnings)

    def _check_schema(self) -> None:
        from memory_runtime.stores.migrations import check_schema

        assert self.stores is not None
        check_schema(self.stores.pg, self.stores.settings.embedding_dimensions, self.stores.embedder.model_id)

    # ---- public ---------------------------------------------------------------------------------------
    def run(self, paths: Sequence[str | Path], *, fail_fast: bool = False) -> ImportSummary:
        """Import every file (directories: their .json/.jsonl/.ndjson files); returns the summary.

        A file that fails is listed in `summary.errors` (nothing of it written) and the others go on;
        with `fail_fast` its error is raised instead.
        """
        started = time.monotonic()
        summary = ImportSummary(dry_run=self.dry_run)
        files = expand_paths(paths)
        if not files:
            raise ValidationError(f"no files to import in {', '.join(map(str, paths))}")
        if not self.dry_run:
            self._check_schema()
        sizes = [_size(path) for path in files]
        make_bar = ProgressBar if self.progress and not self.dry_run else NoProgress
        bar = make_bar(sum(sizes), "importing", stream=self.stream)
        try:
            for number, (path, size) in enumerate(zip(files, sizes, strict=True), start=1):
                bar.note = f"file {number}/{len(files)}: {path.name}" if len(files) > 1 else ""
                self._import_file(path, size, summary, bar, fail_fast)
        finally:
            bar.close()
        self._warn_before_partitions(summary)
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _import_file(self, path: Path, size: int, summary: ImportSummary, bar: ProgressBar, fail_fast: bool) -> None:
        """Validate, check and write one file."""
        try:
            scan, owners = self.parse(path)
            plan = None if self.dry_run else self._plan(scan, owners)
        except (ImportFormatError, ConversationOwnershipError, TurnConflictError) as exc:
            if fail_fast:
                raise
            summary.files_failed += 1
            summary.errors.append(str(exc))
            bar.advance(size)
            return
        summary.warnings.extend(scan.warnings)
        if plan is not None:
            summary.duplicates += plan.duplicates
            try:
                self._write(plan, summary, bar, size)
            except _PartialWrite as exc:
                if fail_fast:
                    raise exc.cause from None
                summary.files_failed += 1
                summary.errors.append(
                    f"{scan.path}: stopped after {exc.written} of {exc.total} new turn(s) were written: "
                    f"{exc.cause}. Re-run the same import to finish (stored turns are skipped)."
                )
                return
        summary.add_file(scan)
        summary.users.update(owners.values())

    def _warn_before_partitions(self, summary: ImportSummary) -> None:
        start = self.settings.partitions_start_date if self.settings else None
        if start and summary.first is not None and summary.first.strftime("%Y-%m-%d") < start:
            summary.warnings.append(
                f"turns before {start} (MEMORY_PARTITIONS_START_DATE) are stored but fall before the first "
                "Dagster partition, so a backfill cannot consolidate them; set MEMORY_PARTITIONS_START_DATE "
                "earlier to include them"
            )


def _by_owner(batch: list[Turn], owners: dict[str, str]) -> dict[str, list[Turn]]:
    """A batch's turns per owning user (one user for an import with --user)."""
    out: dict[str, list[Turn]] = defaultdict(list)
    for turn in batch:
        out[owners[turn.conversation_id]].append(turn)
    return out


def _size(path: Path) -> int:
    try:
        return max(1, path.stat().st_size)
    except OSError:  # reported by the parser
        return 1


class _PartialWrite(Exception):
    def __init__(self, written: int, total: int, cause: AgentMemoryError) -> None:
        super().__init__(str(cause))
        self.written = written
        self.total = total
        self.cause = cause


def import_paths(
    stores: Stores | None,
    paths: Sequence[str | Path],
    user_id: str | None,
    **options: Any,
) -> ImportSummary:
    """Import files for `user_id` (see Importer for the options); returns the summary."""
    fail_fast = bool(options.pop("fail_fast", False))
    return Importer(stores, user_id, **options).run(paths, fail_fast=fail_fast)
