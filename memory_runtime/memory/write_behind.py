"""Write-behind: derived-store writes that run after the call that committed their source, coalesced.

With `MEMORY_GRAPH_WRITES=batched`, `store_turn` commits the turn to PostgreSQL (durable when the call
returns), pushes it to working memory and hands its graph projection to this queue instead of writing it.
One background job at a time (a thread of the store pool, or an asyncio task under AsyncAgentMemory) takes
everything queued — from every user and thread of the process — and writes it in one go: on Neo4j one
commit, and its full-text index refresh, for many turns instead of one per turn.

Guarantees, per process:
- Read-your-writes: `wait(user_id)` returns once everything the user submitted before the call is written
  (or has failed). AgentMemory calls it before any operation that reads or writes the graph, so a
  `remember()` after a `store_turn` finds the turn. Other processes see the turn when its round has run.
- Order: rounds run one after another, in submission order.
- Failures are reported, never dropped: a failed round's turn ids are kept per user until taken
  (`take_failures`): the user's next store_turn reports them as a warning and `flush_graph()` raises
  ProjectionError. The turns are durable in PostgreSQL; `reproject()` or the episodic_graph asset restores them.
- Closing the stores waits for the queue: a round that finds the executor shut down keeps writing in line.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from memory_runtime import metrics
from memory_runtime.stores.bundle import Stores

log = logging.getLogger(__name__)

P = TypeVar("P")  # what one submission carries to the write function

MAX_ROUND = 2000  # submissions written by one round at most, so a round's statements stay a bounded size
# Submissions queued at most: a writer faster than the graph then waits for a round (backpressure), so the queue's
# memory stays bounded (a turn's rows are ~10 KB with a 384-dimension embedding) and so does the wait of a read.
MAX_QUEUE = 2000
MAX_FAILED_IDS = 10_000  # per user, kept until taken


@dataclass(frozen=True)
class _Item(Generic[P]):
    seq: int
    user_id: str
    turn_ids: list[str]
    payload: P


@dataclass
class Failure:
    """Turns whose derived-store write failed, and why."""

    turn_ids: list[str]
    detail: str


class WriteBehind(Generic[P]):
    """A process's queue of pending writes to one derived store; see the module docstring.

    `write(payloads)` writes a round (payloads in submission order) and raises if it failed; `store` names the
    store in metrics and messages."""

    def __init__(self, stores: Stores, write: Callable[[list[P]], None], store: str = "graph") -> None:
        self._stores = stores
        self._write = write
        self._store = store
        self._lock = threading.Lock()
        self._queue: list[_Item[P]] = []
        self._seq = 0  # of the last submission
        self._done = 0  # every submission up to this seq has been written (or has failed)
        self._last: dict[str, int] = {}  # user -> seq of their last submission not yet written
        self._failed: dict[str, Failure] = {}
        self._round: Future[None] | None = None  # the job writing (or about to write) the queue

    def submit(self, user_id: str, turn_ids: list[str], payload: P) -> None:
        """Queue `payload` (the write of these turns of the user) for the next round; if MAX_QUEUE submissions
        are already waiting, first wait until a round has taken some (backpressure)."""
        inline: Future[None] | None = None
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._queue.append(_Item(seq, user_id, turn_ids, payload))
            self._last[user_id] = seq
            if self._round is None:
                self._round = self._start()
                if self._round is None:  # the stores are closing: this caller writes the round
                    self._round = inline = Future()
            backlog = len(self._queue) > MAX_QUEUE
        if inline is not None:
            self._drive(inline)
        elif backlog:
            self._wait_for(seq - MAX_QUEUE)

    def pending(self, user_id: str) -> bool:
        """Whether the user has submissions not written yet."""
        return user_id in self._last

    def wait(self, user_id: str) -> None:
        """Return once everything `user_id` submitted before this call has been written or has failed."""
        target = self._last.get(user_id)
        if target is not None:
            self._wait_for(target)

    def flush(self) -> None:
        """Return once everything submitted before this call has been written or has failed."""
        self._wait_for(self._seq)

    def take_failures(self, user_id: str) -> Failure | None:
        """The user's failed turns since the last call (and forget them)."""
        with self._lock:
            return self._failed.pop(user_id, None)

    def _wait_for(self, target: int) -> None:
        while True:
            with self._lock:
                if self._done >= target or self._round is None:
                    return
                job = self._round
            job.result()  # a round never raises its write's error; its successor may hold the awaited item

    # ---- the background round ------------------------------------------------------------------------
    def _start(self) -> "Future[None] | None":
        """A job for the next round (called holding the lock); None if the executor is shut down."""
        try:
            return self._stores.background(self._run)
        except RuntimeError:  # the stores are closing: the caller writes in line
            return None

    def _run(self) -> None:
        self._drive(None)

    def _drive(self, inline: "Future[None] | None") -> None:
        """Write rounds until the queue is empty; as the executor's job (`inline` None: hand the next round to a
        new job) or in line, resolving `inline` when done."""
        try:
            while True:
                with self._lock:
                    batch, self._queue = self._queue[:MAX_ROUND], self._queue[MAX_ROUND:]
                if batch:
                    self._write_round(batch)
                with self._lock:
                    if batch:
                        self._finish(batch)
                    if not self._queue:
                        self._round = None
                        return
                    if inline is None:
                        successor = self._start()
                        if successor is not None:
                            self._round = successor
                            return
                        self._round = inline = Future()  # the stores are closing: write what is left here
        finally:
            if inline is not None:
                inline.set_result(None)

    def _write_round(self, batch: list[_Item[P]]) -> None:
        try:
            self._write([i.payload for i in batch])
        except BaseException as exc:  # noqa: BLE001 — recorded for the users; a cancellation goes on up
            self._fail(batch, str(exc) or type(exc).__name__)
            if not isinstance(exc, Exception):  # cancelled (event loop closing): the next submit starts a round
                with self._lock:
                    self._finish(batch)
                    self._round = None
                raise

    def _fail(self, batch: list[_Item[P]], detail: str) -> None:
        turns = sum(len(i.turn_ids) for i in batch)
        log.warning("%s write of %d turn(s) failed (%s); they are durable in PostgreSQL", self._store, turns, detail)
        metrics.store_error(self._store, "projection")
        with self._lock:
            for item in batch:
                failure = self._failed.setdefault(item.user_id, Failure([], detail))
                failure.turn_ids.extend(item.turn_ids[: max(0, MAX_FAILED_IDS - len(failure.turn_ids))])
                failure.detail = detail

    def _finish(self, batch: list[_Item[P]]) -> None:
        """Mark a written round done (called holding the lock)."""
        self._done = batch[-1].seq
        for item in batch:
            if self._last.get(item.user_id) == item.seq:
                del self._last[item.user_id]
