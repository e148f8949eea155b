"""The GraphStore seam: a narrow query executor per backend plus schema management."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memory_runtime.stores.graph.dialect import Dialect
from memory_runtime.stores.graph.schema import SCHEMA, GraphSchema

Row = dict[str, Any]


def plain(value: Any) -> Any:
    """Parameters as plain Python values (numpy arrays and tuples become lists)."""
    kind = type(value)  # exact checks first: a batch of turns carries hundreds of thousands of vector components
    if kind is str or kind is float or kind is int or kind is bool or value is None:
        return value
    if kind is list and all(type(x) is float for x in value):
        return value  # already plain (not copied: parameters are never changed)
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass
class SchemaReport:
    """What ensure_schema did: statements run and elements that already existed."""

    created: list[str] = field(default_factory=list)
    existing: int = 0


class GraphStore(ABC):
    """One graph backend. Queries return rows as plain dicts of scalars, lists and maps."""

    dialect: Dialect
    backend: str
    # True when the server runs one write query at a time per graph (FalkorDB), so a read-then-create in one
    # statement cannot race another; False (Neo4j) when concurrent transactions can both miss and both create.
    serializes_writes: bool = False
    # True when a vector index written one transaction at a time splits into many segments that every query
    # searches (Neo4j's Lucene indexes), so a rebuild speeds it up though it returns every live node (health 1.0).
    vector_indexes_fragment: bool = False

    @abstractmethod
    def read(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only statement."""

    @abstractmethod
    def write(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one write statement atomically (one logical write = one statement)."""

    def encode(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """`params` in the form this backend sends them, for a later `read`/`write`: a bulk writer encodes the
        next batch's parameters while the server runs the current one. The default is `params` themselves."""
        return params

    @abstractmethod
    def vector_dimensions(self) -> dict[str, int]:
        """Dimension of each existing vector index, keyed by label."""

    @abstractmethod
    def _apply_schema(self, schema: GraphSchema, dims: int) -> SchemaReport:
        """Create whatever part of the schema is missing."""

    @abstractmethod
    def server_version(self) -> str:
        """Backend name and version, e.g. 'FalkorDB 4.16.3'."""

    @abstractmethod
    def drop_all(self) -> None:
        """Delete every node, relationship and index of this graph (tests and `reset` only)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def rebuild_vector_index(self, node_label: str, dims: int, timeout_s: float = 600.0) -> bool:
        """Rebuild the label's vector index from the nodes as they are now; False if the backend never needs it.

        Neo4j's vector indexes drop a replaced vector themselves, so the default does nothing.
        """
        return False

    def compact(self, timeout_s: float = 600.0) -> bool:
        """After a bulk load: store what was written in the server's compact on-disk form, so that a restart
        loads it instead of replaying every write; False if the backend never needs it (Neo4j's store files
        are that form already)."""
        return False

    def ensure_schema(self, dims: int, schema: GraphSchema = SCHEMA) -> SchemaReport:
        """Idempotently create the schema; refuse if existing vector indexes have another dimension."""
        from memory_runtime.domain.errors import EmbeddingDimensionMismatch

        for lbl, existing in sorted(self.vector_dimensions().items()):
            if existing != dims:
                raise EmbeddingDimensionMismatch(dims, existing, f"{self.backend} vector index on :{lbl}")
        return self._apply_schema(schema, dims)

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
