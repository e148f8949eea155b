"""Which embedder wrote the stored vectors: recorded by `migrate`, checked at start-up, moved by `reembed`.

`memory_settings.embedding_model` holds the `model_id` of the embedder that wrote the stored vectors (e.g.
`hashing-v2:384`, `openai:text-embedding-3-small:1536`). When the configured embedder has another id, query
vectors and stored vectors come from different spaces and vector recall silently degrades, so opening the
memory logs one warning naming both ids and `agent-memory reembed`, which recomputes every stored vector and
then records the new id.

A store migrated before the id was recorded is settled by its first migrate: with no vector stored, or
with stored vectors the configured embedder reproduces (a sample of the first few of each kind), the
configured id is recorded; otherwise `unknown`, which warns until `agent-memory reembed` has run.
"""

import logging
from dataclasses import dataclass

from memory_runtime.embeddings.base import Embedder
from memory_runtime.stores.graph import GraphStore
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.postgres.settings import MODEL, read_settings, write_settings
from memory_runtime.stores.vectors import same_vector, vector_kinds

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
SAMPLE = 8  # stored vectors compared per kind when telling who wrote them
FIX = "agent-memory reembed"

_warned: set[tuple[str, str]] = set()  # (recorded, configured) pairs already warned about in this process


@dataclass(frozen=True)
class EmbeddingState:
    """The recorded embedder id (None: never recorded) and the configured one."""

    recorded: str | None
    configured: str

    @property
    def stale(self) -> bool:
        """True if the stored vectors were (or may have been) written by another embedder."""
        return self.recorded is not None and self.recorded != self.configured

    @property
    def unrecorded(self) -> bool:
        """True for a store migrated before embedders were recorded and not migrated since."""
        return self.recorded is None

    @property
    def fix(self) -> str:
        """The command that settles it ('' when nothing needs settling)."""
        return "agent-memory migrate" if self.unrecorded else FIX if self.stale else ""

    def message(self) -> str:
        """What is wrong and how to fix it (empty when nothing is)."""
        if self.unrecorded:
            return (
                f"the embedder of the stored vectors is not recorded yet (a store migrated by an older version): "
                f"run `agent-memory migrate`, which checks them against the configured {self.configured}"
            )
        if not self.stale:
            return ""
        if self.recorded == UNKNOWN:
            return (
                f"the stored vectors predate embedder tracking and the configured embedder {self.configured} does "
                f"not reproduce them: vector recall is degraded until `{FIX}` recomputes them"
            )
        return (
            f"the stored vectors were written by {self.recorded} but the configured embedder is {self.configured}: "
            f"vector recall is degraded until `{FIX}` recomputes them (or configure {self.recorded} again)"
        )


def recorded_model(pg: PostgresStore) -> str | None:
    """The model_id recorded for the stored vectors, if any."""
    return (read_settings(pg) or {}).get(MODEL)


def warn_if_stale(state: EmbeddingState) -> None:
    """Log a mismatch (or an unrecorded embedder) once per process (many AgentMemory objects may open one store)."""
    pair = (state.recorded or "", state.configured)
    if state.fix and pair not in _warned:
        _warned.add(pair)
        log.warning(state.message())


def detect_model(pg: PostgresStore, graph: GraphStore, embedder: Embedder) -> str:
    """The configured model_id if it reproduces a sample of every kind of stored vector (or none is stored),
    else UNKNOWN."""
    for kind in vector_kinds(pg, graph):
        sample = [item for item in kind.page(None, kind.start, SAMPLE) if item.vector is not None]
        if not sample:
            continue
        fresh = embedder.embed([item.text for item in sample])
        if not all(same_vector(item.vector, vec) for item, vec in zip(sample, fresh, strict=True)):
            return UNKNOWN
    return embedder.model_id


def settle(pg: PostgresStore, graph: GraphStore, embedder: Embedder) -> tuple[EmbeddingState, str | None]:
    """Record the embedder of the stored vectors if none is (see the module docstring); warn if it is not the
    configured one. Returns the state and the id recorded by this call (None if one was already)."""
    recorded = recorded_model(pg)
    newly = None
    if recorded is None:
        newly = detect_model(pg, graph, embedder)
        write_settings(pg, {MODEL: newly}, overwrite=False)  # a concurrent migrate may have recorded first
        recorded = recorded_model(pg)
    state = EmbeddingState(recorded, embedder.model_id)
    warn_if_stale(state)
    return state, newly
