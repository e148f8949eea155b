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
    labels: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[IndexHealth]:
    """Rebuild every vector index (or those on `labels`) whose health is below `threshold` (all with `force`).

    `progress(message)` hears about each index. Returns the health of each, before and after.
    """
    out = []
    dims = stores.settings.embedding_dimensions
    for index in check_vector_indexes(stores, labels):
        if index.vectors and (force or index.health < threshold):
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
