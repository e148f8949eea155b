"""Graph index maintenance: measure how many live nodes each vector index still returns, rebuild the bad ones.

On FalkorDB 4.16 every update of a vector-indexed node (salience decay, access statistics, fact
invalidation, entity upserts) leaves its old vector in the HNSW graph as an orphan, and deleting a node
leaves its vector too; orphans crowd live nodes out of k-nearest results (see
`FalkorGraphStore.rebuild_vector_index`). Health is measured by asking the index for the k nearest
neighbours of a few stored vectors: a sound index returns min(k, vectors stored) live nodes, a polluted one
fewer. `repair_vector_indexes` rebuilds every index below the threshold: `semantic_memory` runs it for facts
and entities after each consolidation (repeat mentions update entities, closed facts are updated),
`archived_memories` for every index after each day's decay and archival, and `agent-memory reindex` by hand.
Creating a node leaves no orphan: the write statements give each new node its vector once (inside
MERGE ... ON CREATE, or, for entities, by one SET after a MERGE that created the node without one).

Neo4j's indexes lose no live node, but fragment instead: every transaction that writes a vector adds a Lucene
segment, merged only once `internal.dbms.index.vector.standard_merge_factor` of one size have piled up (50 by
default; the local server sets 10), and a query searches every segment. Neither the segments nor that setting
can be read through Cypher, so `compact=True` rebuilds every Neo4j vector index of COMPACT_MIN_VECTORS or more
vectors: `agent-memory reindex --compact` and the weekly `reindex_job` run of `weekly_vector_compaction_schedule`.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import maintenance as q
from memory_runtime.stores.graph.schema import SCHEMA

PROBES = 5
PROBE_K = 50
DEFAULT_THRESHOLD = 0.9
COMPACT_MIN_VECTORS = 1000  # smaller indexes stay fast however many segments they have


@dataclass(frozen=True)
class IndexHealth:
    """One vector index: vectors stored, share of live nodes its probes returned (1.0 = sound), and what a
    repair did."""

    label: str
    vectors: int
    health: float
    rebuilt: bool = False
    health_after: float | None = None
    seconds: float = 0.0

    @property
    def current(self) -> float:
        """The health now: after the rebuild if there was one."""
        return self.health if self.health_after is None else self.health_after


def vector_health(stores: Stores, node_label: str, probes: int = PROBES, k: int = PROBE_K) -> tuple[int, float]:
    """(vectors stored, mean share of the expected min(k, stored) live nodes that `probes` queries returned)."""
    graph = stores.graph
    rows = graph.read(q.vector_sample(graph.dialect, node_label=node_label), {"probes": probes})
    if not rows or not rows[0]["total"]:
        return 0, 1.0
    total, vectors = int(rows[0]["total"]), rows[0]["vectors"]
    expected = min(k, total)
    probe = q.vector_probe(graph.dialect, node_label=node_label)
    found = [int(graph.read(probe, {"vec": list(map(float, v)), "k": expected})[0]["found"]) for v in vectors]
    return total, sum(found) / (expected * len(found))


def check_vector_indexes(stores: Stores, labels: Sequence[str] | None = None) -> list[IndexHealth]:
    """The health of every vector index (or of those on `labels`)."""
    return [IndexHealth(v.label, *vector_health(stores, v.label)) for v in SCHEMA.vectors if _wanted(v.label, labels)]


def _wanted(node_label: str, labels: Sequence[str] | None) -> bool:
    return labels is None or node_label in labels


def repair_vector_indexes(
    stores: Stores,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    force: bool = False,
    compact: bool = False,
    labels: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[IndexHealth]:
    """Rebuild every vector index (or those on `labels`) whose health is below `threshold` (all with `force`;
    with `compact`, also those of COMPACT_MIN_VECTORS or more on a backend whose indexes fragment).

    `progress(message)` hears about each index. Returns the health of each, before and after.
    """
    out = []
    dims = stores.settings.embedding_dimensions
    compacting = compact and stores.graph.vector_indexes_fragment
    for index in check_vector_indexes(stores, labels):
        due = force or index.health < threshold or (compacting and index.vectors >= COMPACT_MIN_VECTORS)
        if index.vectors and due:
            if progress:
                progress(f"rebuilding the vector index on :{index.label} ({index.vectors} vectors, "
                         f"health {index.health:.2f}) ...")  # fmt: skip
            began = time.perf_counter()
            rebuilt = stores.graph.rebuild_vector_index(index.label, dims)
            seconds = round(time.perf_counter() - began, 2)
            after = vector_health(stores, index.label)[1]
            index = IndexHealth(index.label, index.vectors, index.health, rebuilt, after, seconds)
        out.append(index)
    return out
