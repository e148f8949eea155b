"""Archival of what fell out of retention (the `archived_memories` asset).

Turns said more than `retention_days` before the moment are archived: archived_at is set in Postgres (the
rows stay there and enter the cold-tier HNSW index), and their graph Turn nodes lose their embedding
(leaving the vector index) and get archived = true. Entities whose salience fell below `min_salience` and
that no fact is ABOUT and no turn MENTIONS are deleted. Then every vector index whose k-nearest probes
return too few live nodes is rebuilt (FalkorDB 4.16 leaves the old vector of an updated or deleted node
behind; see `batch.reindex`). Re-running selects only what is not archived yet.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from memory_runtime.batch.reindex import IndexHealth, repair_vector_indexes
from memory_runtime.domain.models import now, to_ms
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph import GraphStore
from memory_runtime.stores.graph.queries import lifecycle as q
from memory_runtime.stores.postgres import turn_log

BATCH = 5000


@dataclass(frozen=True)
class ArchiveReport:
    """The cutoff, what each step archived or deleted, and the vector index health before/after repair."""

    cutoff: datetime
    postgres_turns_archived: int
    graph_turns_archived: int
    orphan_entities_deleted: int
    indexes: list[IndexHealth]

    @property
    def vector_indexes_rebuilt(self) -> int:
        """Vector indexes rebuilt by the repair."""
        return sum(i.rebuilt for i in self.indexes)

    @property
    def min_vector_index_health(self) -> float:
        """The lowest index health after the repair (1.0 without indexes)."""
        return min((i.current for i in self.indexes), default=1.0)


def _drain(graph: GraphStore, statement: str, column: str, params: dict[str, Any], batch: int) -> int:
    """Run a batched write until a batch comes back short; returns the total of `column`."""
    total = 0
    while True:
        done = int(graph.write(statement, {**params, "batch": batch})[0][column])
        total += done
        if done < batch:
            return total


def archive(
    stores: Stores,
    as_of: datetime,
    retention_days: int,
    min_salience: float,
    *,
    batch: int = BATCH,
    progress: Callable[[str], None] | None = None,
) -> ArchiveReport:
    """Archive turns older than `retention_days` before `as_of`, delete low-salience orphan entities, and
    rebuild degraded vector indexes (`progress(message)` hears about each rebuild)."""
    graph = stores.graph
    cutoff = as_of - timedelta(days=retention_days)
    pg_archived = 0
    while True:
        done = turn_log.archive_turns_before(stores.pg, cutoff, batch)
        pg_archived += done
        if done < batch:
            break
    graph_archived = _drain(
        graph, q.archive_turn_batch(graph.dialect), "archived", {"cutoff": to_ms(cutoff), "now": to_ms(now())}, batch
    )
    entities_deleted = _drain(
        graph, q.delete_orphan_entity_batch(graph.dialect), "deleted", {"min_salience": float(min_salience)}, batch
    )
    _drain(graph, q.delete_orphan_alias_batch(graph.dialect), "deleted", {}, batch)  # the aliases of those entities
    # Decay and archival updated (and deleted) vector-indexed nodes, which on FalkorDB leaves orphan vectors
    # crowding live ones out of nearest-neighbour results: rebuild the indexes that lost too many.
    indexes = repair_vector_indexes(stores, progress=progress)
    return ArchiveReport(cutoff, pg_archived, graph_archived, entities_deleted, indexes)
