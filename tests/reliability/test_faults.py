"""Fault injection on real servers: a store crashes or stops while the runtime is writing.

Each test runs its own server for the store it breaks (a standalone FalkorDB as the graph or as Redis, a
private embedded PostgreSQL), so the session stack other tests use is never touched. After every fault the
test counts the user's turns in every store.
"""

import logging
import threading
import time

import pytest
from reliability_helpers import (
    expected_links,
    followed_by,
    graph_turn_ids,
    open_stores,
    pg_turn_ids,
    redis_uri,
    stop_postgres,
    turns,
)

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import ProjectionError, StoreUnavailableError
from memory_runtime.domain.models import Turn

BATCH = 25
BATCHES = 40
CONVERSATIONS = 4
JOIN_TIMEOUT_S = 120


def batch_plan(batches: int = BATCHES) -> list[list[Turn]]:
    """Batches of BATCH turns spread over CONVERSATIONS conversations, each continuing its conversation."""
    return [
        turns(f"c{b % CONVERSATIONS}", BATCH, start=(b // CONVERSATIONS) * BATCH, text=f"batch {b} message")
        for b in range(batches)
    ]


def indexes_by_conversation(batches: list[list[Turn]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for batch in batches:
        for t in batch:
            out.setdefault(t.conversation_id, set()).add(t.index)
    return out


class Writer(threading.Thread):
    """Stores the batches one after the other, recording each outcome; never stops on an error."""

    def __init__(self, memory: AgentMemory, batches: list[list[Turn]]) -> None:
        super().__init__(daemon=True)
        self.memory = memory
        self.batches = batches
        self.outcomes: list[str] = []  # per batch: "ok", "projection" (durable, graph failed), "unavailable"
        self.unexpected: list[BaseException] = []

    def run(self) -> None:
        for batch in self.batches:
            try:
                self.memory.store_turns(batch)
                self.outcomes.append("ok")
            except ProjectionError:
                self.outcomes.append("projection")
            except StoreUnavailableError:
                self.outcomes.append("unavailable")
            except BaseException as exc:  # noqa: BLE001 — anything else is a test failure, reported below
                self.outcomes.append("unexpected")
                self.unexpected.append(exc)

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(list(self.outcomes)):
            assert self.is_alive() or predicate(list(self.outcomes)), f"writer finished early: {self.outcomes}"
            assert time.monotonic() < deadline, f"timed out waiting; outcomes so far: {self.outcomes}"
            time.sleep(0.005)


def ids_of(batches: list[list[Turn]]) -> list[str]:
    return [t.id for batch in batches for t in batch]


# ---- graph -------------------------------------------------------------------------------------------


def test_graph_killed_during_a_batch_loop_loses_and_duplicates_no_turn(settings, graph_server):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    plan = batch_plan()
    with open_stores(own) as stores, AgentMemory("u1", stores=stores) as memory:
        writer = Writer(memory, plan)
        writer.start()
        writer.wait_for(lambda o: len(o) >= 5)
        graph_server.kill()  # SIGKILL while the writer keeps going
        writer.wait_for(lambda o: o.count("projection") >= 2)
        graph_server.start()
        writer.join(JOIN_TIMEOUT_S)
        assert not writer.is_alive(), "the writer is stuck (deadlock?)"
        assert not writer.unexpected, writer.unexpected
        assert writer.outcomes[-1] == "ok", "the same AgentMemory must write again after the graph restart"
        acknowledged = ids_of([b for b, o in zip(plan, writer.outcomes, strict=True) if o == "ok"])

        # Every batch is durable in Postgres, whether or not its projection failed.
        assert sorted(pg_turn_ids(stores, "u1")) == sorted(ids_of(plan))
        # The crash lost nothing the graph had acknowledged (AOF), and created no duplicate node.
        in_graph = graph_turn_ids(stores, "u1")
        assert set(acknowledged) <= set(in_graph)
        assert len(in_graph) == len(set(in_graph))

        report = memory.reproject()
        assert report.projected == len(ids_of(plan)) - len(in_graph)
        in_graph = graph_turn_ids(stores, "u1")
        assert sorted(in_graph) == sorted(ids_of(plan))  # zero lost, zero duplicated
        assert len(pg_turn_ids(stores, "u1")) == len(in_graph) == BATCH * BATCHES
        assert followed_by(stores, "u1") == expected_links(indexes_by_conversation(plan))


def test_a_graph_restart_needs_no_new_memory_object(settings, graph_server):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    with open_stores(own) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 2))
        graph_server.kill()
        graph_server.start()  # restarted while idle: every pooled connection is stale
        assert memory.store_turn(turns("c1", 1, start=2)[0]).inserted == 1
        assert memory.get_active_goals() == []  # a graph read through the same pool
        assert len(graph_turn_ids(stores, "u1")) == len(pg_turn_ids(stores, "u1")) == 3


# ---- Redis -------------------------------------------------------------------------------------------


@pytest.fixture
def redis_settings(settings, redis_server):
    """Settings whose MEMORY_REDIS_URI is a private Redis the test may kill (graph and Postgres are shared)."""
    return settings.model_copy(update={"redis_uri": redis_uri(redis_server), "connect_timeout_s": 1.0})


def test_redis_down_store_turn_and_remember_keep_working_with_a_warning(redis_settings, redis_server, caplog):
    with open_stores(redis_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 2, text="cython notes"))
        redis_server.kill()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = memory.store_turn(Turn(conversation_id="c1", index=2, role="user", content="cython is fast"))
            bundle = memory.remember("cython fast")
        assert result.inserted == 1
        assert any("working memory not updated" in w for w in result.warnings)
        assert "cython is fast" in [t["content"] for t in bundle.relevant_turns]
        assert len(pg_turn_ids(stores, "u1")) == len(graph_turn_ids(stores, "u1")) == 3


def test_working_memory_calls_with_redis_down_raise_a_typed_error_naming_the_setting(redis_settings, redis_server):
    with open_stores(redis_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        redis_server.kill()
        for call in (
            memory.recent_turns,
            memory.get_working_context,
            lambda: memory.set_working_context("step", 1),
            lambda: memory.reflect("shipped it", True),
        ):
            with pytest.raises(StoreUnavailableError, match="MEMORY_REDIS_URI") as err:
                call()
            assert err.value.store == "Redis"


def test_rate_limits_fail_open_while_redis_is_down(redis_settings, redis_server):
    limited = redis_settings.model_copy(update={"rate_limit_writes_per_minute": 60, "rate_limit_reads_per_minute": 60})
    with open_stores(limited) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        redis_server.kill()
        assert memory.store_turn(turns("c1", 1)[0]).inserted == 1
        assert memory.remember("message").relevant_turns


def test_working_memory_resumes_when_redis_comes_back(redis_settings, redis_server):
    with open_stores(redis_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 2))
        redis_server.kill()
        assert memory.store_turn(turns("c1", 1, start=2)[0]).warnings
        redis_server.start()  # the same AgentMemory, its pools now hold dead connections
        result = memory.store_turn(turns("c1", 1, start=3)[0])
        assert result.inserted == 1 and not result.warnings
        assert [t["index"] for t in memory.recent_turns()][-1] == 3
        memory.set_working_context("step", {"n": 1})
        assert memory.get_working_context() == {"step": {"n": 1}}
        assert len(pg_turn_ids(stores, "u1")) == len(graph_turn_ids(stores, "u1")) == 4


# ---- PostgreSQL --------------------------------------------------------------------------------------


@pytest.fixture
def pg_settings(settings, private_postgres):
    """Settings whose MEMORY_POSTGRES_URI is a private PostgreSQL the test may stop (its own schema)."""
    embedded, env = private_postgres
    embedded.up()  # a previous test may have left it stopped
    return settings.model_copy(update={"postgres_uri": env.postgres_uri, "connect_timeout_s": 1.0})


def test_postgres_down_store_turn_raises_store_unavailable_and_nothing_claims_success(pg_settings, private_postgres):
    embedded, _ = private_postgres
    with open_stores(pg_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 2))
        before_wm = memory.recent_turns()
        stop_postgres(embedded)
        try:
            new = turns("c1", 3, start=2)
            with pytest.raises(StoreUnavailableError, match="MEMORY_POSTGRES_URI") as err:
                memory.store_turn(new[0])
            assert err.value.store == "PostgreSQL"
            with pytest.raises(StoreUnavailableError, match="MEMORY_POSTGRES_URI"):
                memory.store_turns(new)
            # Nothing downstream claims the turns: no graph node, no working-memory entry.
            assert sorted(graph_turn_ids(stores, "u1")) == sorted(t.id for t in turns("c1", 2))
            assert memory.recent_turns() == before_wm
        finally:
            embedded.up()
        # The same AgentMemory works again on its first call after the restart (stale pool connections).
        assert memory.store_turns(new).inserted == 3
        assert sorted(pg_turn_ids(stores, "u1")) == sorted(graph_turn_ids(stores, "u1"))
        assert len(pg_turn_ids(stores, "u1")) == 5


def test_the_first_call_after_an_idle_postgres_restart_succeeds(pg_settings, private_postgres):
    embedded, _ = private_postgres
    with open_stores(pg_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 1))
        barrier = threading.Barrier(4)

        def hold_a_connection() -> None:
            with stores.pg.connection() as conn:
                barrier.wait(timeout=10)
                conn.execute("SELECT 1")

        threads = [threading.Thread(target=hold_a_connection) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        stop_postgres(embedded)  # four pooled connections are now dead, and nobody calls during the outage
        embedded.up()
        assert memory.store_turn(turns("c1", 1, start=1)[0]).inserted == 1
        assert len(pg_turn_ids(stores, "u1")) == len(graph_turn_ids(stores, "u1")) == 2


class RetryingWriter(Writer):
    """Like a real client: a batch refused because a store is down is retried after a pause until it is stored.

    Right after each refusal it checks that no turn of the batch reached the graph (nothing claimed success).
    """

    def __init__(self, memory: AgentMemory, batches: list[list[Turn]], stores) -> None:
        super().__init__(memory, batches)
        self.stores = stores
        self.projected_after_refusal: list[str] = []

    def run(self) -> None:
        for batch in self.batches:
            for _attempt in range(600):  # 30 s
                try:
                    self.memory.store_turns(batch)
                    self.outcomes.append("ok")
                    break
                except StoreUnavailableError:
                    self.outcomes.append("unavailable")
                    in_graph = set(graph_turn_ids(self.stores, self.memory.user_id))
                    self.projected_after_refusal += [t.id for t in batch if t.id in in_graph]
                    time.sleep(0.05)
                except BaseException as exc:  # noqa: BLE001 — reported by the test
                    self.unexpected.append(exc)
                    return
            else:
                self.unexpected.append(TimeoutError("a batch was refused for 30 s"))
                return


def test_postgres_restarted_during_a_batch_loop_same_object_recovers(pg_settings, private_postgres):
    embedded, _ = private_postgres
    plan = batch_plan(30)
    with open_stores(pg_settings) as stores, AgentMemory("u1", stores=stores) as memory:
        writer = RetryingWriter(memory, plan, stores)
        writer.start()
        writer.wait_for(lambda o: len(o) >= 3)
        stop_postgres(embedded)
        try:
            writer.wait_for(lambda o: o.count("unavailable") >= 2)
        finally:
            embedded.up()
        writer.join(JOIN_TIMEOUT_S)
        assert not writer.is_alive(), "the writer is stuck (deadlock?)"
        assert not writer.unexpected, writer.unexpected
        # Every batch was eventually stored by the same AgentMemory, after the restart, without a new object.
        assert writer.outcomes.count("ok") == len(plan) and writer.outcomes[-1] == "ok"
        assert writer.outcomes.count("unavailable") >= 2
        assert writer.projected_after_refusal == []  # a refused batch never reached the graph
        assert sorted(pg_turn_ids(stores, "u1")) == sorted(ids_of(plan))
        assert sorted(graph_turn_ids(stores, "u1")) == sorted(ids_of(plan))
        assert followed_by(stores, "u1") == expected_links(indexes_by_conversation(plan))


def test_forget_user_with_postgres_down_erases_nothing_anywhere(pg_settings, private_postgres):
    embedded, _ = private_postgres
    with open_stores(pg_settings) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 3))
        stop_postgres(embedded)
        try:
            with pytest.raises(StoreUnavailableError, match="MEMORY_POSTGRES_URI"):
                memory.forget_user()
            # Postgres goes first: the graph and Redis are untouched, so a retry starts from a consistent state.
            assert len(graph_turn_ids(stores, "u1")) == 3
            assert len(memory.recent_turns()) == 3
        finally:
            embedded.up()
        memory.forget_user()
        assert pg_turn_ids(stores, "u1") == [] and graph_turn_ids(stores, "u1") == []


def test_forget_user_interrupted_by_a_graph_outage_is_finished_by_running_it_again(settings, graph_server):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    with open_stores(own) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        memory.store_turns(turns("c1", 3))
        graph_server.kill()
        with pytest.raises(StoreUnavailableError, match="MEMORY_GRAPH_URI"):
            memory.forget_user()
        assert pg_turn_ids(stores, "u1") == []  # Postgres, the source of truth, went first
        graph_server.start()
        assert len(graph_turn_ids(stores, "u1")) == 3  # the graph still holds the user ...
        memory.reproject()
        assert len(graph_turn_ids(stores, "u1")) == 3  # ... but nothing can re-project what Postgres erased
        counts = memory.forget_user()
        assert counts["graph.Turn"] == 3 and graph_turn_ids(stores, "u1") == []
        assert memory.recent_turns() == []


def test_remember_with_the_graph_down_answers_turns_from_postgres_and_says_so(settings, graph_server, caplog):
    own = graph_server.configure(settings, connect_timeout_s=1.0)
    with open_stores(own) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        stored = memory.store_turns(
            [
                Turn(conversation_id="c1", index=i, role="user", content=text)
                for i, text in enumerate(["We paddled a kayak around Lisbon", "The soup was too salty", "Rain again"])
            ]
        )
        memory.learn_fact("u1 paddled a kayak around Lisbon", source_turn_id=stored.turn_ids[0])
        assert memory.remember("kayak Lisbon").facts
        graph_server.kill()
        with caplog.at_level(logging.WARNING):
            bundle = memory.remember("kayak Lisbon")
        assert bundle.relevant_turns[0]["id"] == stored.turn_ids[0]  # Postgres full-text and exact vectors
        assert bundle.facts == [] and bundle.entities == []  # they live in the graph alone
        assert f"{graph_server.store_name} unavailable" in caplog.text
        graph_server.start()
        assert memory.remember("kayak Lisbon").facts  # the same object recovers
