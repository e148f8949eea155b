"""MEMORY_GRAPH_WRITES=batched: store_turn returns once the turn is durable, the graph is written behind it.

What a user relies on: the graph ends up exactly as with synchronous writes; the same user's next read finds
the turn (read-your-writes); concurrent writers share graph statements; a graph failure is reported (the
next store_turn's warning, flush_graph's ProjectionError) and reproject heals it; closing waits for the queue;
erasure does not race a queued projection.
"""

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from graph_server import StandaloneFalkorDB

from memory_runtime.api import AgentMemory
from memory_runtime.async_api import AsyncAgentMemory
from memory_runtime.config import Settings
from memory_runtime.domain.errors import ProjectionError
from memory_runtime.domain.models import Turn
from memory_runtime.memory.episodic import graph_writes
from memory_runtime.stores.bundle import Stores
from tests.reliability.reliability_helpers import T0, open_stores, turns

WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "heron", "indigo", "jasper"]


def batched(settings: Settings) -> Settings:
    return settings.model_copy(update={"graph_writes": "batched"})


def distinct_turns(conv: str, n: int) -> list[Turn]:
    """Turns whose contents share no word, so a query with a turn's content recalls that turn first."""
    return [
        Turn(conversation_id=conv, index=i, role="user" if i % 2 == 0 else "assistant",
             content=f"{WORDS[i % 10]}{i} {WORDS[(i + 3) % 10]}x{i} {WORDS[(i + 7) % 10]}y{i}",
             timestamp=T0.replace(minute=i % 60, hour=i // 60))
        for i in range(n)
    ]  # fmt: skip


def graph_turns(stores: Stores, user: str) -> int:
    return stores.graph.read("MATCH (t:Turn) WHERE t.user_id = $u RETURN count(t) AS n", {"u": user})[0]["n"]


def chain(stores: Stores, conv: str) -> list[tuple[int, int]]:
    rows = stores.graph.read(
        "MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) WHERE a.conversation_id = $c RETURN a.index AS i, b.index AS j "
        "ORDER BY i",
        {"c": conv},
    )
    return [(r["i"], r["j"]) for r in rows]


class GraphGate:
    """Holds the graph's writes at a gate until opened, counting them: a round can be kept running while a
    test queues more (the real graph store does every write once the gate is open)."""

    def __init__(self, stores: Stores) -> None:
        self.open_ = threading.Event()
        self.entered = threading.Event()
        self.writes: list[int] = []  # rows of each projection statement
        real: Callable[..., Any] = stores.graph.write

        def write(cypher: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.open_.wait(60), "the test never opened the gate"
            self.writes.append(len(params.get("rows", ())) if params else 0)
            return real(cypher, params, *args, **kwargs)

        stores.graph.write = write  # type: ignore[method-assign]


@pytest.fixture
def batched_stores(backend_settings: Settings) -> Iterator[Stores]:
    s = open_stores(batched(backend_settings))
    try:
        yield s
    finally:
        s.close()


def test_each_turn_is_recalled_by_the_next_remember_and_the_graph_is_the_synchronous_one(batched_stores):
    with AgentMemory("u1", "c1", stores=batched_stores) as m:
        for turn in distinct_turns("c1", 24):
            m.store_turn(turn)
            hits = m.remember(turn.content, top_k=3, include_semantic=False, include_procedural=False)
            assert hits.relevant_turns and hits.relevant_turns[0].content == turn.content
        m.flush_graph()
    assert graph_turns(batched_stores, "u1") == 24
    assert chain(batched_stores, "c1") == [(i, i + 1) for i in range(23)]
    conv = batched_stores.graph.read("MATCH (:User)-[:OWNS]->(c:Conversation) RETURN c.id AS id")
    assert [r["id"] for r in conv] == ["c1"]


def test_turns_queued_while_a_round_writes_go_into_one_statement(batched_stores):
    gate = GraphGate(batched_stores)
    with AgentMemory("u1", "c1", stores=batched_stores) as m:
        first, *rest = turns("c1", 20)
        m.store_turn(first)
        assert gate.entered.wait(30)  # the first round is writing turn 0 and held there
        results = [m.store_turn(t) for t in rest]  # each returns with its turn durable, the graph not written
        assert all(r.inserted == 1 and not r.warnings for r in results)
        assert graph_turns(batched_stores, "u1") == 0
        gate.open_.set()
        m.flush_graph()
    assert gate.writes == [1, 19]  # the queue of 19 turns was one statement
    assert chain(batched_stores, "c1") == [(i, i + 1) for i in range(19)]


def test_writers_on_many_threads_all_land_in_the_graph(batched_stores):
    def write(user: str) -> None:
        with AgentMemory(user, stores=batched_stores) as m:
            for t in turns(f"conv-{user}", 15):
                m.store_turn(t)

    threads = [threading.Thread(target=write, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        with AgentMemory(f"user{i}", stores=batched_stores) as m:
            m.flush_graph()
        assert graph_turns(batched_stores, f"user{i}") == 15
        assert chain(batched_stores, f"conv-user{i}") == [(j, j + 1) for j in range(14)]


def test_a_retried_turn_missing_from_the_graph_is_healed_by_the_queue(batched_stores):
    with AgentMemory("u1", "c1", stores=batched_stores) as m:
        m.store_turns(turns("c1", 3))
        m.flush_graph()
        batched_stores.graph.write("MATCH (t:Turn {id: $id}) DETACH DELETE t", {"id": turns("c1", 3)[1].id})
        assert m.store_turns(turns("c1", 3)).duplicates == 3
        m.flush_graph()
    assert graph_turns(batched_stores, "u1") == 3
    assert chain(batched_stores, "c1") == [(0, 1), (1, 2)]


def test_a_graph_outage_is_reported_by_the_next_write_and_by_flush_graph(settings, tmp_path):
    server = StandaloneFalkorDB(tmp_path / "graph")
    server.start()
    own = batched(settings.model_copy(update={"graph_uri": server.uri}))
    try:
        with open_stores(own) as stores, AgentMemory("u1", "c1", stores=stores) as m:
            queue = graph_writes(stores)
            assert queue is not None
            m.store_turns(turns("c1", 2))
            queue.flush()
            server.kill()
            lost = turns("c1", 2, start=2)
            assert not m.store_turn(lost[0]).warnings  # durable; the graph is not touched in the call
            queue.flush()  # its round failed
            server.start()
            later = m.store_turn(lost[1])
            assert len(later.warnings) == 1
            assert later.warnings[0].startswith("1 turn(s) are stored durably in PostgreSQL but the graph update")
            m.flush_graph()  # reported once, by the write above
            server.kill()
            m.store_turn(Turn(conversation_id="c1", index=4, role="user", content="after", timestamp=T0))
            queue.flush()
            server.start()
            with pytest.raises(ProjectionError, match="stored durably in PostgreSQL") as err:
                m.flush_graph()
            assert err.value.turn_ids == [turns("c1", 1, start=4)[0].id]
            m.flush_graph()  # and only once
            assert graph_turns(stores, "u1") == 3  # turns 0, 1 and 3
            report = m.reproject()
            assert (report.checked, report.projected) == (5, 2)
            assert chain(stores, "c1") == [(i, i + 1) for i in range(4)]
    finally:
        server.stop()


def test_closing_the_memory_writes_what_is_still_queued(backend_settings):
    own = batched(backend_settings)
    stores = open_stores(own)
    gate = GraphGate(stores)
    with AgentMemory("u1", "c1", stores=stores) as m:
        m.store_turns(turns("c1", 1))
        assert gate.entered.wait(30)
        m.store_turns(turns("c1", 9, start=1))
    opener = threading.Timer(0.2, gate.open_.set)
    opener.start()
    stores.close()  # waits for the held round, then writes the rest
    opener.join()
    with open_stores(backend_settings) as fresh:
        assert graph_turns(fresh, "u1") == 10
        assert chain(fresh, "c1") == [(i, i + 1) for i in range(9)]


def test_forgetting_a_user_waits_for_their_queued_turns(batched_stores):
    gate = GraphGate(batched_stores)
    with AgentMemory("u1", "c1", stores=batched_stores) as m:
        m.store_turns(turns("c1", 4))
        assert gate.entered.wait(30)
        m.store_turns(turns("c1", 4, start=4))
        threading.Timer(0.2, gate.open_.set).start()
        m.forget_user()  # after the queued projections, which would otherwise bring the turns back
        queue = graph_writes(batched_stores)
        assert queue is not None
        queue.flush()
    assert graph_turns(batched_stores, "u1") == 0


def test_the_asyncio_api_reads_its_writes_and_closes_after_the_queue(backend_settings):
    async def scenario() -> None:
        async with AsyncAgentMemory("u1", "c1", settings=batched(backend_settings)) as m:
            for turn in distinct_turns("c1", 8):
                await m.store_turn(turn)
                hits = await m.remember(turn.content, top_k=3, include_semantic=False, include_procedural=False)
                assert hits.relevant_turns[0].content == turn.content
            await m.store_turns(turns("c2", 12))  # still queued, perhaps, when the memory closes

    open_stores(backend_settings).close()  # the schema
    asyncio.run(scenario())
    with open_stores(backend_settings) as fresh:
        assert graph_turns(fresh, "u1") == 20
        assert chain(fresh, "c2") == [(i, i + 1) for i in range(11)]


def test_a_writer_faster_than_the_graph_waits_once_the_queue_is_full(batched_stores, monkeypatch):
    from memory_runtime.memory import write_behind

    monkeypatch.setattr(write_behind, "MAX_QUEUE", 3)
    gate = GraphGate(batched_stores)
    with AgentMemory("u1", "c1", stores=batched_stores) as m:
        batch = turns("c1", 6)
        m.store_turn(batch[0])
        assert gate.entered.wait(30)  # round 1 holds turn 0; the queue takes three more without waiting
        for t in batch[1:4]:
            m.store_turn(t)
        fifth = threading.Thread(target=m.store_turn, args=(batch[4],))
        fifth.start()
        fifth.join(0.5)
        assert fifth.is_alive()  # the fourth queued turn waits for a round: the queue stays bounded
        gate.open_.set()
        fifth.join(30)
        assert not fifth.is_alive()
        m.store_turn(batch[5])
        m.flush_graph()
    assert chain(batched_stores, "c1") == [(i, i + 1) for i in range(5)]
