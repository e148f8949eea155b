"""`agent-memory reembed`: recompute every stored vector with the configured embedder, then record it.

After the embedder changes (another provider or model, or a new version of the hashing embedder) the stored
vectors and the query vectors come from different spaces (see `embedding_model`). `reembed` walks every
kind of stored vector (`stored_vectors`): turns in PostgreSQL and their graph Turn nodes, then the graph's
entities, facts, strategies and goals, in keyset-paginated pages of `batch_size`, each page embedded in one
`embed()` call and written in one statement per store.

* Resumable: after each page the cursor (kind, last key, the labels whose graph nodes were rewritten) is
  saved in `memory_settings.reembed_progress` for the target model and scope. A later run for the same
  model and scope resumes there; a run for another model or scope starts over.
* Idempotent: a vector that already equals the new one is left alone, so a page redone after an interruption
  and a run over an already re-embedded user write nothing.
* Then the vector indexes of the rewritten labels are rebuilt (FalkorDB 4.16 keeps a replaced vector as an
  orphan, see `maintenance`), and only then, for a run over every user, the new model id is recorded and the
  cursor cleared, in one transaction. A run scoped to one user leaves the recorded id alone: the other users'
  vectors are still the old model's.
* Same dimension only: another dimension is refused (`EmbeddingDimensionMismatch`); that needs a new database
  or a dimension-changing migration.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from memory_runtime.batch.reindex import repair_vector_indexes
from memory_runtime.domain.errors import (
    AgentMemoryError,
    EmbeddingDimensionMismatch,
    ReembedInterrupted,
    SchemaError,
    ValidationError,
)
from memory_runtime.embeddings.base import Embedder, check_dimensions
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.embedder_record import recorded_model
from memory_runtime.stores.migrations import stored_dimensions
from memory_runtime.stores.postgres.settings import MODEL, REEMBED_PROGRESS, read_settings, write_settings
from memory_runtime.stores.vectors import Key, Rewrite, VectorKind, vector_kinds

DEFAULT_BATCH_SIZE = 256
MAX_BATCH_SIZE = 10_000

Progress = Callable[[str, int], None]  # (kind, vectors just done)


@dataclass
class Cursor:
    """Where an unfinished re-embedding to `model` over `user` (None: every user) stands."""

    model: str
    user: str | None
    kind: str
    after: Key | None = None  # the last key done in `kind` (None: none yet)
    touched: list[str] = field(default_factory=list)  # labels whose graph nodes were rewritten

    @classmethod
    def load(cls, stores: Stores, model: str, user: str | None) -> "Cursor | None":
        """The saved cursor if it is for this model and scope."""
        raw = (read_settings(stores.pg) or {}).get(REEMBED_PROGRESS)
        cursor = cls(**json.loads(raw)) if raw else None
        return cursor if cursor and (cursor.model, cursor.user) == (model, user) else None

    def save(self, stores: Stores) -> None:
        """Record the cursor (replacing any other)."""
        write_settings(stores.pg, {REEMBED_PROGRESS: json.dumps(asdict(self))})


def _remaining(kinds: list[VectorKind], cursor: Cursor | None) -> Iterator[tuple[VectorKind, Key]]:
    """Each kind still to do, with the key to start after."""
    names = [k.name for k in kinds]
    first = names.index(cursor.kind) if cursor else 0
    for kind in kinds[first:]:
        after = cursor.after if cursor is not None and cursor.kind == kind.name else None
        yield kind, (after if after is not None else kind.start)


@dataclass(frozen=True)
class ReembedPlan:
    """What a run would do: the recorded and target model, where it resumes, vectors left per kind."""

    recorded: str | None
    target: str
    user_id: str | None
    resume: Cursor | None
    pending: dict[str, int]

    @property
    def nothing_to_do(self) -> bool:
        """True when the stored vectors are already the target model's."""
        return self.resume is None and self.recorded == self.target

    @property
    def total(self) -> int:
        """Vectors left to recompute."""
        return sum(self.pending.values())

    def render(self) -> str:
        """The plan as lines for a person."""
        scope = f"user {self.user_id!r}" if self.user_id else "every user"
        head = f"stored vectors: {self.recorded or 'unrecorded'}; configured embedder: {self.target}; {scope}"
        if self.nothing_to_do:
            return f"{head}\nthe stored vectors are already {self.target}'s; nothing to do"
        if self.resume:
            head += f"\nresuming the unfinished run at {self.resume.kind} (after {self.resume.after!r})"
        rows = [f"  {kind:<9} {n:>10,} vector(s) to recompute" for kind, n in self.pending.items()]
        return "\n".join([head, *rows])


@dataclass
class KindReport:
    """One kind of vector in a run: scanned, rewritten, already current, skipped (changed meanwhile)."""

    kind: str
    scanned: int = 0
    rewritten: int = 0
    unchanged: int = 0
    skipped: int = 0

    def add(self, scanned: int, done: Rewrite) -> None:
        """Count one page."""
        self.scanned += scanned
        self.rewritten += done.rewritten
        self.unchanged += done.unchanged
        self.skipped += done.skipped


@dataclass
class ReembedReport:
    """What a run did."""

    recorded_before: str | None
    target: str
    user_id: str | None
    resumed: bool = False
    kinds: list[KindReport] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    recorded: bool = False
    seconds: float = 0.0  # embedding and writing the vectors
    rebuild_seconds: float = 0.0

    @property
    def scanned(self) -> int:
        """Vectors recomputed in this run."""
        return sum(k.scanned for k in self.kinds)

    def render(self) -> str:
        """A table per kind and a one-line summary."""
        lines = [f"{'kind':<9} {'scanned':>10} {'rewritten':>10} {'unchanged':>10} {'skipped':>8}"]
        lines += [
            f"{k.kind:<9} {k.scanned:>10,} {k.rewritten:>10,} {k.unchanged:>10,} {k.skipped:>8,}" for k in self.kinds
        ]
        rate = self.scanned / self.seconds if self.seconds > 0 else 0.0
        summary = f"re-embedded {self.scanned:,} vector(s) with {self.target} in {self.seconds:.1f} s ({rate:,.0f}/s)"
        if self.rebuilt:
            indexes = ", ".join(":" + label for label in self.rebuilt)
            summary += f"; rebuilt the vector indexes on {indexes} in {self.rebuild_seconds:.1f} s"
        if self.recorded:
            summary += f"; the recorded embedder is now {self.target} (was {self.recorded_before or 'unrecorded'})"
        elif self.user_id:
            summary += (
                f"; the recorded embedder stays {self.recorded_before or 'unrecorded'}: only user "
                f"{self.user_id!r} was re-embedded, run without --user to finish"
            )
        return "\n".join([*lines, summary])


def _target(stores: Stores, embedder: Embedder | None) -> Embedder:
    """The embedder to use (the configured one, uncached), checked against the stored dimension."""
    embedder = embedder or stores.embedder.inner
    dims = stored_dimensions(stores.pg)
    if dims is None:
        raise SchemaError("the memory schema is missing; run `agent-memory migrate` first")
    if embedder.dimensions != dims:
        raise EmbeddingDimensionMismatch(embedder.dimensions, dims, "PostgreSQL embedding column")
    return embedder


def plan(stores: Stores, embedder: Embedder | None = None, *, user_id: str | None = None) -> ReembedPlan:
    """What `reembed` would do now (counts only: nothing is embedded or written)."""
    target = _target(stores, embedder).model_id
    cursor = Cursor.load(stores, target, user_id)
    kinds = vector_kinds(stores.pg, stores.graph)
    pending = {k.name: 0 for k in kinds}
    pending.update({kind.name: kind.count(user_id, after) for kind, after in _remaining(kinds, cursor)})
    return ReembedPlan(recorded_model(stores.pg), target, user_id, cursor, pending)


def reembed(
    stores: Stores,
    embedder: Embedder | None = None,
    *,
    user_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ReembedReport:
    """Recompute every stored vector (of `user_id`; None: every user) with `embedder` (default: the
    configured one); see the module docstring. `progress(kind, n)` hears about each page."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    embedder = _target(stores, embedder)
    began = time.perf_counter()
    recorded = recorded_model(stores.pg)
    cursor = Cursor.load(stores, embedder.model_id, user_id)
    report = ReembedReport(recorded, embedder.model_id, user_id, resumed=cursor is not None)
    if cursor is None and recorded == embedder.model_id:
        return report
    kinds = vector_kinds(stores.pg, stores.graph)
    cursor = cursor or Cursor(embedder.model_id, user_id, kinds[0].name)
    for kind, after in _remaining(kinds, cursor):
        counts = KindReport(kind.name)
        report.kinds.append(counts)
        while items := kind.page(user_id, after, batch_size):
            try:
                fresh = embedder.embed([item.text for item in items])
                vectors = [check_dimensions(v, embedder.dimensions, f"{embedder.model_id} embedding") for v in fresh]
                done = kind.rewrite(items, vectors)
            except AgentMemoryError as exc:
                raise ReembedInterrupted(f"at the {kind.name} vectors", report.scanned, recorded, str(exc)) from exc
            counts.add(len(items), done)
            after = items[-1].key
            touched = cursor.touched + ([kind.name] if done.graph_nodes and kind.name not in cursor.touched else [])
            cursor = Cursor(embedder.model_id, user_id, kind.name, after, touched)
            cursor.save(stores)
            if progress:
                progress(kind.name, len(items))
    report.seconds = round(time.perf_counter() - began, 3)
    if cursor.touched:
        try:
            health = repair_vector_indexes(stores, force=True, labels=cursor.touched)
        except AgentMemoryError as exc:
            raise ReembedInterrupted("while rebuilding the vector indexes", report.scanned, recorded, str(exc)) from exc
        report.rebuilt = [index.label for index in health if index.rebuilt]
        report.rebuild_seconds = round(sum(index.seconds for index in health), 3)
    report.recorded = user_id is None
    write_settings(stores.pg, {MODEL: embedder.model_id} if report.recorded else {}, delete=[REEMBED_PROGRESS])
    return report
