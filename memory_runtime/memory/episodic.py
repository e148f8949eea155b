"""Episodic memory: the append-only turn log and its projection into the graph and working memory.

Order of a write (docs/architecture.md, "Write path"): validate → embed (cached) → one Postgres transaction
(idempotent on (conversation_id, turn_index) with a content hash) → graph projection → working memory.
Postgres is the source of truth: once it has committed, a graph failure raises ProjectionError (the
turns are durable and `reproject()` / the episodic_graph asset restores them) and a Redis failure is a
logged warning (working memory is a cache rebuilt from the log). With MEMORY_GRAPH_WRITES=batched the
graph projection is queued instead (`graph_writes`, memory.write_behind) and a failure is reported by the
user's next store_turn (a warning) and by `AgentMemory.flush_graph()` (ProjectionError).
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow

from memory_runtime.domain import ids, validation
from memory_runtime.domain.errors import (
    AgentMemoryError,
    ConversationOwnershipError,
    ProjectionError,
    TurnConflictError,
    TurnIdConflictError,
    ValidationError,
)
from memory_runtime.domain.models import Turn, TurnHit, estimate_tokens, now, to_ms
from memory_runtime.embeddings.base import check_dimensions
from memory_runtime.memory.write_behind import WriteBehind
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.queries import episodic as q
from memory_runtime.stores.postgres import turns as pg_turns

log = logging.getLogger(__name__)

MAX_RECENT = 10_000  # get_recent_turns limit


@dataclass
class WriteResult:
    """Outcome of store_turn(s): ids in input order, how many were new, and degraded stores."""

    turn_ids: list[str]
    inserted: int
    duplicates: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReprojectReport:
    """Outcome of a re-projection run."""

    checked: int = 0
    projected: int = 0


@dataclass(frozen=True)
class _Row:
    turn: Turn
    id: str
    hash: str
    timestamp: datetime
    embedding: list[float]
    metadata: Any


def _checked_metadata(turn: Turn) -> Any:
    """The metadata, checked to be storable as jsonb."""
    validation.json_text(turn.metadata, f"metadata of turn {turn.index} in conversation {turn.conversation_id!r}")
    return turn.metadata


class EpisodicMemory:
    """Stores turns for one user; see the module docstring for the guarantees."""

    def __init__(
        self,
        stores: Stores,
        user_id: str,
        push_working: Callable[[str, list[dict[str, Any]]], object] | None,
        *,
        conversation_id: str | None = None,
    ) -> None:
        self.stores = stores
        self.user_id = user_id
        self.conversation_id = conversation_id  # the default of get_recent_turns
        self._push_working = push_working  # (conversation_id, turn dicts) -> ignored

    # ---- validation ------------------------------------------------------------------------------
    def _prepare(self, turns: Sequence[Turn]) -> list[_Row]:
        settings = self.stores.settings
        seen: dict[tuple[str, int], _Row] = {}
        named: dict[str, tuple[str, int]] = {}  # caller id -> the turn of the batch it names
        pending: list[tuple[Turn, str, str]] = []
        for turn in turns:
            if not isinstance(turn, Turn):
                raise ValidationError(f"expected a Turn, got {type(turn).__name__}")
            if len(turn.content) > settings.max_content_chars:
                raise ValidationError(
                    f"turn {turn.index} of {turn.conversation_id!r} has {len(turn.content)} characters; the "
                    f"limit is MEMORY_MAX_CONTENT_CHARS={settings.max_content_chars}"
                )
            if turn.embedding is not None:
                check_dimensions(turn.embedding, settings.embedding_dimensions, f"embedding of turn {turn.index}")
            pending.append((turn, ids.content_hash(turn.content), _checked_metadata(turn)))
        missing = [t.content for t, _, _ in pending if t.embedding is None]
        vectors = iter(self.stores.embedder.embed(missing))
        stamp = now()
        for turn, digest, meta in pending:
            key = (turn.conversation_id, turn.index)
            row = _Row(turn, turn.record_id, digest, turn.timestamp or stamp, turn.embedding or next(vectors), meta)
            if turn.client_id is not None and named.setdefault(turn.client_id, key) != key:
                raise TurnIdConflictError(turn.client_id, turn.conversation_id, turn.index)
            if key in seen:
                if seen[key].hash != digest:
                    raise TurnConflictError(turn.conversation_id, turn.index)
                if turn.client_id not in (None, seen[key].turn.client_id):
                    if seen[key].turn.client_id is not None:
                        raise TurnIdConflictError(turn.client_id, turn.conversation_id, turn.index)
                    seen[key] = row  # the copy that names the turn
                continue
            seen[key] = row
        return list(seen.values())

    # ---- Postgres --------------------------------------------------------------------------------
    def _claim_conversations(self, conn: psycopg.Connection[DictRow], rows: list[_Row]) -> None:
        spans: dict[str, tuple[datetime, datetime]] = {}
        for r in rows:
            lo, hi = spans.get(r.turn.conversation_id, (r.timestamp, r.timestamp))
            spans[r.turn.conversation_id] = (min(lo, r.timestamp), max(hi, r.timestamp))
        owners = pg_turns.claim_conversations(conn, self.user_id, spans)
        foreign = sorted(c for c, owner in owners.items() if owner != self.user_id)
        if foreign:
            raise ConversationOwnershipError(
                f"conversation(s) {', '.join(map(repr, foreign))} belong to another user; "
                f"use a conversation id of your own"
            )

    def _insert(self, rows: list[_Row]) -> tuple[set[str], set[str]]:
        """Insert new turns in one transaction; returns (inserted ids, duplicate ids).

        Turns new to one conversation (a `store_turn`) take one statement; any other batch, or one that
        statement refuses (a retry, another user's conversation, a caller id in use), the general transaction.
        """
        if len({r.turn.conversation_id for r in rows}) == 1 and pg_turns.insert_conversation_turns(
            self.stores.pg,
            self.user_id,
            [_new_row(self.user_id, r) for r in rows],
            [r.turn.client_id for r in rows],
            [r.turn.token_count for r in rows],
        ):
            return {r.id for r in rows}, set()
        with self.stores.pg.connection() as conn:
            self._claim_conversations(conn, rows)
            inserted = pg_turns.insert_turns(conn, [_new_row(self.user_id, r) for r in rows])
            others = [r for r in rows if r.id not in inserted]
            if others:
                existing = pg_turns.content_hashes(conn, [r.id for r in others])
                for r in others:
                    if existing.get(r.id) != r.hash:
                        raise TurnConflictError(r.turn.conversation_id, r.turn.index)
            self._attach_details(conn, rows, inserted)
        return inserted, {r.id for r in others}

    def _attach_details(self, conn: psycopg.Connection[DictRow], rows: list[_Row], inserted: set[str]) -> None:
        """Record caller ids and token counts of the batch, in its transaction (caller ids unique per user).

        A turn stored before keeps its id: the same caller id (or none) is a duplicate, another is an error;
        a turn stored without one takes the caller id it is sent again with.
        """
        new = [r for r in rows if r.id in inserted and (r.turn.client_id is not None or r.turn.token_count is not None)]
        again = [r for r in rows if r.id not in inserted and r.turn.client_id is not None]
        if not new and not again:
            return
        named = [(r, client_id) for r in new + again if (client_id := r.turn.client_id) is not None]
        if named:  # concurrent batches of this user naming turns wait for each other, so the check below holds
            pg_turns.lock_client_ids(conn, self.user_id)
        holders = pg_turns.turns_holding_client_ids(conn, self.user_id, [client_id for _, client_id in named])
        stored = pg_turns.stored_client_ids(conn, [r.id for r in again]) if again else {}
        for r, client_id in named:
            if holders.get(client_id, r.id) != r.id or stored.get(r.id) not in (None, client_id):
                raise TurnIdConflictError(client_id, r.turn.conversation_id, r.turn.index)
        todo = new + [r for r in again if stored.get(r.id) is None]
        pg_turns.attach_turn_details(
            conn, [r.id for r in todo], [r.turn.client_id for r in todo], [r.turn.token_count for r in todo]
        )

    # ---- public ----------------------------------------------------------------------------------
    def store_turns(self, turns: Iterable[Turn]) -> WriteResult:
        """Store a batch atomically in Postgres, then project it (or queue the projection, with
        MEMORY_GRAPH_WRITES=batched); see the module docstring."""
        if self.stores.settings.graph_writes == "batched":
            return self.commit(turns, encode=False).defer()
        return self.commit(turns).project()

    def commit(self, turns: Iterable[Turn], *, encode: bool = True) -> "CommittedBatch":
        """The first half of `store_turns`: validate, embed and commit the batch to Postgres (durable when this
        returns). Its `project()` is the second half (graph and working memory), which a bulk writer may run
        while it commits the next batch; `encode` prepares the projection's statements here."""
        turns = list(turns)
        if not turns:
            return CommittedBatch(self, WriteResult([], 0, 0), [], [], [])
        rows = self._prepare(turns)
        inserted, duplicates = self._insert(rows)
        result = WriteResult([t.id for t in turns], len(inserted), len(duplicates))
        new_rows = [r for r in rows if r.id in inserted]
        statements = (
            projection_statements(self.stores, [_graph_row(self.user_id, r) for r in new_rows]) if encode else []
        )
        return CommittedBatch(self, result, new_rows, [r for r in rows if r.id in duplicates], statements)

    def get_recent_turns(self, limit: int = 20, conversation_id: str | None = None) -> list[Turn]:
        """The latest `limit` stored turns, oldest first: of `conversation_id` (default: the current
        conversation), or of all the user's conversations when there is none. Read from the log, not the cache."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RECENT:
            raise ValidationError(f"limit must be an integer from 1 to {MAX_RECENT}, got {limit!r}")
        conv = conversation_id or self.conversation_id
        rows = pg_turns.recent_turns(self.stores.pg, self.user_id, conv, limit)
        return [
            Turn(
                id=r["client_id"] or r["id"],
                conversation_id=r["conversation_id"],
                index=r["turn_index"],
                role=r["role"],
                content=r["content"],
                timestamp=r["created_at"],
                metadata=r["metadata"] or {},
                token_count=_token_count(r["token_count"], r["content"]),
            )
            for r in reversed(rows)
        ]

    def vector_search(self, query: str, top_k: int = 10) -> list[TurnHit]:
        """This user's turns nearest to `query` by embedding alone, best first (`remember` fuses more)."""
        from memory_runtime.retrieval import Retriever

        return Retriever(self.stores, self.user_id).search_turns(query, top_k, mode="vector")

    def _push(self, rows: list[_Row], result: WriteResult) -> None:
        if self._push_working is None or not rows:
            return
        by_conv: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(rows, key=lambda r: (r.turn.conversation_id, r.turn.index)):
            by_conv.setdefault(r.turn.conversation_id, []).append(
                {
                    "id": r.turn.id,
                    "index": r.turn.index,
                    "role": r.turn.role,
                    "content": r.turn.content,
                    "timestamp": r.timestamp.isoformat(),
                    "token_count": _token_count(r.turn.token_count, r.turn.content),
                }
            )
        for conv, items in by_conv.items():
            try:
                self._push_working(conv, items)
            except Exception as exc:  # noqa: BLE001 — working memory is a cache; never fail a durable write
                msg = f"working memory not updated for {conv!r}: {exc}"
                log.warning(msg)
                result.warnings.append(msg)


@dataclass
class CommittedBatch:
    """A batch committed to Postgres whose graph projection and working-memory push are still to come."""

    memory: EpisodicMemory
    result: WriteResult
    new_rows: list[_Row]
    duplicate_rows: list[_Row]
    statements: list["Statement"]  # the new rows' projection, encoded when the batch was committed

    def project(self) -> WriteResult:
        """Project the batch into the graph and push it to working memory; ProjectionError if the graph failed
        (the turns stay durable in Postgres)."""
        memory, stores = self.memory, self.memory.stores
        projected = [r.id for r in self.new_rows]
        graph_error: AgentMemoryError | None = None
        try:
            run_statements(stores, self.statements)
            if self.duplicate_rows:  # a retry after a failed projection heals the graph
                projected += heal(stores, [_graph_row(memory.user_id, r) for r in self.duplicate_rows])
        except AgentMemoryError as exc:
            graph_error = exc
        memory._push(self.new_rows, self.result)
        if graph_error is not None:
            raise ProjectionError("graph", projected, str(graph_error)) from graph_error
        return self.result

    def defer(self) -> WriteResult:
        """Queue the batch's projection for the write-behind (`graph_writes`) and push it to working memory. The
        result warns of the user's earlier turns whose queued projection failed since the last report."""
        memory = self.memory
        queue = graph_writes(memory.stores)
        assert queue is not None  # only called with MEMORY_GRAPH_WRITES=batched
        failed = queue.take_failures(memory.user_id)
        if self.new_rows or self.duplicate_rows:
            queue.submit(
                memory.user_id,
                [r.id for r in self.new_rows],
                _Projection(
                    [_graph_row(memory.user_id, r) for r in self.new_rows],
                    [_graph_row(memory.user_id, r) for r in self.duplicate_rows],
                ),
            )
        memory._push(self.new_rows, self.result)
        if failed is not None:
            self.result.warnings.append(str(ProjectionError("graph", failed.turn_ids, failed.detail)))
        return self.result


@dataclass(frozen=True)
class _Projection:
    """One deferred store_turns' graph rows: the new turns, and the retried ones to heal if the graph lacks them."""

    new: list[dict[str, Any]]
    retried: list[dict[str, Any]]


def graph_writes(stores: Stores) -> "WriteBehind[_Projection] | None":
    """The process's queue of deferred turn projections (MEMORY_GRAPH_WRITES=batched), else None."""
    if stores.settings.graph_writes != "batched":
        return None
    queue = stores.memo.get("graph_writes")
    if queue is None:
        queue = stores.memo.setdefault("graph_writes", WriteBehind(stores, lambda ps: _project_round(stores, ps)))
    return queue  # type: ignore[no-any-return]


def _project_round(stores: Stores, projections: list[_Projection]) -> None:
    """Write a round of deferred projections: every new turn in one statement per 500, then the heals."""
    project(stores, [r for p in projections for r in p.new])
    retried = [r for p in projections for r in p.retried]
    if retried:
        heal(stores, retried)


def heal(stores: Stores, rows: list[dict[str, Any]]) -> list[str]:
    """Project the turn rows the graph is missing (a retry after a failed projection); their ids."""
    ids_ = sorted({r["id"] for r in rows})
    missing = {x["id"] for x in stores.graph.read(q.missing_turns(stores.graph.dialect), {"ids": ids_})}
    healed = list({r["id"]: r for r in rows if r["id"] in missing}.values())  # a turn retried twice: once
    project(stores, healed)
    return [r["id"] for r in healed]


def _token_count(given: int | None, content: str) -> int:
    return estimate_tokens(content) if given is None else given


def _new_row(user_id: str, r: _Row) -> pg_turns.NewTurnRow:
    return pg_turns.NewTurnRow(
        id=r.id,
        user_id=user_id,
        conversation_id=r.turn.conversation_id,
        turn_index=r.turn.index,
        role=r.turn.role,
        content=r.turn.content,
        content_hash=r.hash,
        embedding=r.embedding,
        metadata=r.metadata,
        salience=0.5,
        created_at=r.timestamp,
    )


def _graph_row(user_id: str, r: "_Row") -> dict[str, Any]:
    return {
        "id": r.id,
        "user_id": user_id,
        "conversation_id": r.turn.conversation_id,
        "index": r.turn.index,
        "role": r.turn.role,
        "content": r.turn.content,
        "timestamp": to_ms(r.timestamp),
        "salience": 0.5,
        "embedding": [float(x) for x in r.embedding],
    }


Statement = tuple[str, Mapping[str, Any]]  # Cypher and its parameters, encoded for the graph backend


def projection_statements(stores: Stores, rows: list[dict[str, Any]], batch: int = 500) -> list[Statement]:
    """The statements projecting turn rows (see `_graph_row`): conversations, turns, links; one per `batch`
    rows, their parameters encoded ahead (`GraphStore.encode`)."""
    graph = stores.graph
    cypher = q.project(graph.dialect)
    return [(cypher, graph.encode(projection_params(rows[s : s + batch]))) for s in range(0, len(rows), batch)]


def run_statements(stores: Stores, statements: list[Statement]) -> None:
    """Run projection statements in order."""
    for cypher, params in statements:
        stores.graph.write(cypher, params)


def project(stores: Stores, rows: list[dict[str, Any]], batch: int = 500) -> int:
    """Project turn rows (see `_graph_row`) into the graph; one statement per `batch` rows. Idempotent."""
    run_statements(stores, projection_statements(stores, rows, batch))
    return len(rows)


def projection_params(chunk: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of `episodic.project` for turn rows (each gains its prev_id and next_id)."""
    convs: dict[str, dict[str, Any]] = {}
    for r in chunk:
        c = convs.setdefault(
            r["conversation_id"],
            {
                "id": r["conversation_id"],
                "user_id": r["user_id"],
                "user_node_id": ids.user_node_id(r["user_id"]),
                "started_at": r["timestamp"],
                "last_turn_at": r["timestamp"],
            },
        )
        c["started_at"] = min(c["started_at"], r["timestamp"])
        c["last_turn_at"] = max(c["last_turn_at"], r["timestamp"])
        r["prev_id"] = ids.turn_id(r["conversation_id"], r["index"] - 1) if r["index"] > 0 else ""
        r["next_id"] = ids.turn_id(r["conversation_id"], r["index"] + 1)
    return {"conversations": list(convs.values()), "rows": chunk, "now": to_ms(now())}


def _pg_turn_to_graph_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "conversation_id": row["conversation_id"],
        "index": row["turn_index"],
        "role": row["role"],
        "content": row["content"],
        "timestamp": to_ms(row["created_at"]),
        "salience": float(row["salience"]),
        "embedding": [float(x) for x in row["embedding"]],
    }


def reproject(
    stores: Stores,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: str | None = None,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ReprojectReport:
    """Project every turn of the window (by original timestamp) that the graph is missing."""
    report = ReprojectReport()
    last_seq = 0
    while True:
        rows = pg_turns.hot_turns_after(stores.pg, last_seq, since=since, until=until, user_id=user_id, limit=batch)
        if not rows:
            return report
        last_seq = rows[-1]["seq"]
        report.checked += len(rows)
        missing = {
            x["id"] for x in stores.graph.read(q.missing_turns(stores.graph.dialect), {"ids": [r["id"] for r in rows]})
        }
        todo = [_pg_turn_to_graph_row(r) for r in rows if r["id"] in missing]
        report.projected += project(stores, sorted(todo, key=lambda r: (r["conversation_id"], r["index"])))
        if progress:
            progress(len(rows))
