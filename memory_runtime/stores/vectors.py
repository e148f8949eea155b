"""Every stored vector: where it lives, the text it was computed from, how to page through and rewrite it.

Turns live in PostgreSQL (the system of record, paged by `seq`) and, until they are archived, on their graph
Turn node; every other vector-indexed label of the graph schema (Entity, Fact, Strategy, Goal) lives only in
the graph, paged by id. Pages are keyset-paginated (`key > after ORDER BY key LIMIT n`), never OFFSET scans.
A rewrite leaves a vector that already equals the new one alone, so running it twice writes nothing the
second time. Used by `reembed` (recompute every vector) and `embedding_model` (tell who wrote them).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory_runtime.domain.embedding_text import entity_text, strategy_text
from memory_runtime.stores.graph import GraphStore
from memory_runtime.stores.graph.queries import vectors as q
from memory_runtime.stores.graph.schema import SCHEMA
from memory_runtime.stores.postgres import PostgresStore
from memory_runtime.stores.postgres import turns as pg_turns

SAME_VECTOR_COSINE = 0.9999  # float32 round trips and a remote model's jitter stay above it; a new model does not

Key = int | str  # a turn's seq, a graph node's id


@dataclass(frozen=True)
class StoredVector:
    """One stored vector with the text it was computed from; `key` orders the pages."""

    key: Key
    id: str
    text: str
    vector: Sequence[float] | None
    props: dict[str, Any] = field(default_factory=dict)  # the graph text properties (the rewrite's guard)


@dataclass
class Rewrite:
    """What rewriting one page did: items whose vector changed somewhere, items already current, items whose
    text changed meanwhile (their writer embedded the new text itself), and graph nodes rewritten."""

    rewritten: int = 0
    unchanged: int = 0
    skipped: int = 0
    graph_nodes: int = 0


def same_vector(stored: Sequence[float] | None, fresh: Sequence[float]) -> bool:
    """True if `stored` is (up to float32 noise) the vector `fresh`."""
    if stored is None:
        return False
    a, b = np.asarray(stored, dtype=np.float64), np.asarray(fresh, dtype=np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return a.shape == b.shape and norms > 0 and float(a @ b) / norms >= SAME_VECTOR_COSINE


def _rewrite_graph(graph: GraphStore, node_label: str, items: list[tuple[StoredVector, list[float]]]) -> int:
    """Set the new vectors on their nodes (guarded by the text properties); returns how many were set."""
    if not items:
        return 0
    rows = [{**item.props, "id": item.id, "embedding": [float(x) for x in vec]} for item, vec in items]
    result = graph.write(q.rewrite(graph.dialect, node_label=node_label), {"rows": rows})
    return int(result[0]["updated"]) if result else 0


class VectorKind(ABC):
    """The stored vectors of one graph label (and, for turns, of the turn log)."""

    name: str  # the graph label
    start: Key  # a key before every key

    @abstractmethod
    def page(self, user_id: str | None, after: Key, limit: int) -> list[StoredVector]:
        """Up to `limit` vectors after `after`, in key order (of `user_id`; None: every user)."""

    @abstractmethod
    def count(self, user_id: str | None, after: Key) -> int:
        """How many vectors come after `after`."""

    @abstractmethod
    def rewrite(self, items: Sequence[StoredVector], vectors: Sequence[list[float]]) -> Rewrite:
        """Store `vectors[i]` as the vector of `items[i]`, where it differs."""


class TurnVectors(VectorKind):
    """Turns: every row of the turn log (archived ones too: the cold tier) and the vector of its Turn node."""

    name = "Turn"
    start = 0

    def __init__(self, pg: PostgresStore, graph: GraphStore) -> None:
        self.pg, self.graph = pg, graph

    def page(self, user_id: str | None, after: Key, limit: int) -> list[StoredVector]:
        rows = pg_turns.turn_vector_page(self.pg, user_id, int(after), limit)
        return [StoredVector(r["seq"], r["id"], r["content"], r["embedding"], {"content": r["content"]}) for r in rows]

    def count(self, user_id: str | None, after: Key) -> int:
        return pg_turns.count_turn_vectors(self.pg, user_id, int(after))

    def rewrite(self, items: Sequence[StoredVector], vectors: Sequence[list[float]]) -> Rewrite:
        pairs = list(zip(items, vectors, strict=True))
        logged = [(item, vec) for item, vec in pairs if not same_vector(item.vector, vec)]
        if logged:
            pg_turns.set_turn_vectors(self.pg, [item.id for item, _ in logged], [vec for _, vec in logged])
        found = self.graph.read(q.by_ids(self.graph.dialect, node_label=self.name), {"ids": [i.id for i in items]})
        in_graph = {r["id"]: r["embedding"] for r in found}  # archived turns have left the graph's vector index
        nodes = [(i, vec) for i, vec in pairs if i.id in in_graph and not same_vector(in_graph[i.id], vec)]
        set_nodes = _rewrite_graph(self.graph, self.name, nodes)
        rewritten = len({i.id for i, _ in logged} | {i.id for i, _ in nodes})
        return Rewrite(rewritten, len(items) - rewritten, len(nodes) - set_nodes, set_nodes)


class GraphVectors(VectorKind):
    """The nodes of one graph label that carry a vector, paged by id."""

    start = ""

    def __init__(self, graph: GraphStore, node_label: str, text: Callable[[dict[str, Any]], str]) -> None:
        self.graph, self.name, self._text = graph, node_label, text

    def _params(self, user_id: str | None, after: Key) -> dict[str, Any]:
        return {"user_id": user_id, "after": after}

    def page(self, user_id: str | None, after: Key, limit: int) -> list[StoredVector]:
        statement = q.page(self.graph.dialect, node_label=self.name)
        rows = self.graph.read(statement, {**self._params(user_id, after), "limit": limit})
        out = []
        for r in rows:
            props = {p: r[p] for p in q.TEXT_PROPS[self.name]}
            out.append(StoredVector(r["id"], r["id"], self._text(props), r["embedding"], props))
        return out

    def count(self, user_id: str | None, after: Key) -> int:
        statement = q.count(self.graph.dialect, node_label=self.name)
        return int(self.graph.read(statement, self._params(user_id, after))[0]["n"])

    def rewrite(self, items: Sequence[StoredVector], vectors: Sequence[list[float]]) -> Rewrite:
        stale = [(i, vec) for i, vec in zip(items, vectors, strict=True) if not same_vector(i.vector, vec)]
        written = _rewrite_graph(self.graph, self.name, stale)
        return Rewrite(written, len(items) - len(stale), len(stale) - written, written)


# The text each graph-only label's embedding is computed from, as its writer computes it.
_TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "Entity": lambda p: entity_text(p["name"], p["aliases"] or [], p["description"]),
    "Fact": lambda p: p["claim"],
    "Strategy": lambda p: strategy_text(p["task_type"], p["description"]),
    "Goal": lambda p: p["description"],
}


def vector_kinds(pg: PostgresStore, graph: GraphStore) -> list[VectorKind]:
    """Every kind of stored vector, turns first, then the graph schema's vector indexes in order."""
    return [
        TurnVectors(pg, graph) if v.label == "Turn" else GraphVectors(graph, v.label, _TEXTS[v.label])
        for v in SCHEMA.vectors
    ]
