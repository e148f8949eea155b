"""The episodic write path: idempotent, conflict-checked, scoped, durable before it is projected."""

from datetime import timedelta

import pytest
from graph_server import StandaloneFalkorDB

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import (
    ConversationOwnershipError,
    InvalidEmbedding,
    ProjectionError,
    TurnConflictError,
    ValidationError,
)
from memory_runtime.domain.models import Turn
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.migrations import migrate
from tests.reliability.reliability_helpers import T0, turns


def pg_count(stores: Stores, user: str) -> int:
    return stores.pg.fetch("SELECT count(*) AS n FROM conversation_logs WHERE user_id = %s", (user,))[0]["n"]


def graph_turns(stores: Stores, user: str) -> int:
    return stores.graph.read("MATCH (t:Turn) WHERE t.user_id = $u RETURN count(t) AS n", {"u": user})[0]["n"]


@pytest.fixture
def memory(backend_stores):
    with AgentMemory("u1", "c1", stores=backend_stores) as m:
        yield m


def test_store_turns_writes_postgres_graph_and_working_memory(memory, backend_stores):
    result = memory.store_turns(turns("c1", 4))
    assert result.inserted == 4 and result.duplicates == 0 and not result.warnings
    assert pg_count(backend_stores, "u1") == 4
    assert graph_turns(backend_stores, "u1") == 4
    assert [t["index"] for t in memory.recent_turns()] == [0, 1, 2, 3]


def test_storing_the_same_turn_again_is_a_no_op(memory, backend_stores):
    memory.store_turns(turns("c1", 3))
    again = memory.store_turns(turns("c1", 3))
    assert (again.inserted, again.duplicates) == (0, 3)
    assert pg_count(backend_stores, "u1") == 3 and graph_turns(backend_stores, "u1") == 3


def test_other_content_at_an_existing_index_is_a_conflict_and_writes_nothing(memory, backend_stores):
    memory.store_turns(turns("c1", 2))
    batch = turns("c1", 2, start=2) + [Turn(conversation_id="c1", index=0, role="user", content="rewritten")]
    with pytest.raises(TurnConflictError, match="turn 0 of conversation 'c1'"):
        memory.store_turns(batch)
    assert pg_count(backend_stores, "u1") == 2  # the whole batch was rolled back
    assert graph_turns(backend_stores, "u1") == 2


def test_a_batch_with_one_index_twice_and_different_content_is_rejected(memory):
    with pytest.raises(TurnConflictError):
        memory.store_turns([Turn(conversation_id="c1", index=0, role="user", content="a"),
                            Turn(conversation_id="c1", index=0, role="user", content="b")])  # fmt: skip


def test_turns_are_linked_in_order_and_keep_their_original_timestamps(memory, backend_stores):
    memory.store_turns(turns("c1", 3, start=1))
    memory.store_turn(turns("c1", 1)[0])  # the first turn arrives last
    links = backend_stores.graph.read(
        "MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) WHERE a.user_id = 'u1' RETURN a.index AS a, b.index AS b ORDER BY a"
    )
    assert links == [{"a": 0, "b": 1}, {"a": 1, "b": 2}, {"a": 2, "b": 3}]
    row = backend_stores.pg.fetch("SELECT created_at FROM conversation_logs WHERE turn_index = 2")[0]
    assert row["created_at"] == T0 + timedelta(minutes=2)


def test_a_conversation_of_another_user_cannot_be_written(backend_stores):
    with AgentMemory("u1", stores=backend_stores) as m1, AgentMemory("u2", stores=backend_stores) as m2:
        m1.store_turns(turns("shared", 1))
        with pytest.raises(ConversationOwnershipError):
            m2.store_turns(turns("shared", 1, start=1))
        assert pg_count(backend_stores, "u2") == 0


@pytest.mark.parametrize(
    "bad",
    [{"content": ""}, {"content": "   "}, {"content": "nul\x00byte"}, {"content": "\ud800 lone surrogate"},
     {"role": "robot"}, {"index": -1}, {"embedding": [float("nan")] * 64}, {"conversation_id": ""}],
)  # fmt: skip
def test_invalid_turns_are_rejected_by_the_model(bad):
    fields = {"conversation_id": "c1", "index": 0, "role": "user", "content": "ok"} | bad
    with pytest.raises(ValueError):
        Turn(**fields)


def test_content_over_the_size_limit_is_a_typed_error_and_writes_nothing(backend_stores):
    small = backend_stores.settings.model_copy(update={"max_content_chars": 10})
    limited = Stores(small, backend_stores.pg, backend_stores.graph, backend_stores.redis, backend_stores.embedder)
    with AgentMemory("u1", stores=limited) as m, pytest.raises(ValidationError, match="MEMORY_MAX_CONTENT_CHARS"):
        m.store_turns([*turns("c1", 1), Turn(conversation_id="c1", index=1, role="user", content="x" * 11)])
    assert pg_count(backend_stores, "u1") == 0


def test_a_wrong_dimension_embedding_is_a_typed_error(memory, backend_stores):
    with pytest.raises(InvalidEmbedding, match="dimensions"):
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="x", embedding=[0.1] * 3))
    assert pg_count(backend_stores, "u1") == 0


def test_metadata_that_is_not_json_is_rejected(memory):
    with pytest.raises(ValidationError, match="metadata"):
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="x", metadata={"x": float("inf")}))


def test_unicode_and_metadata_round_trip_exactly(memory, backend_stores):
    text = "Grüße 👋 — «quotes» 'single' \"double\" \\ back\\slash\nnew line\ttab ∑ 中文"
    memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content=text, metadata={"a": [1, {"b": None}]}))
    row = backend_stores.pg.fetch("SELECT content, metadata FROM conversation_logs")[0]
    assert row["content"] == text and row["metadata"] == {"a": [1, {"b": None}]}
    node = backend_stores.graph.read("MATCH (t:Turn) RETURN t.content AS c")[0]
    assert node["c"] == text


def test_graph_outage_raises_projection_error_keeps_the_turn_and_reproject_restores_it(settings, tmp_path):
    server = StandaloneFalkorDB(tmp_path / "graph")
    server.start()
    own = settings.model_copy(update={"graph_uri": server.uri})
    try:
        with Stores.open(own) as stores:
            migrate(stores.pg, stores.graph, own.embedding_dimensions)
            with AgentMemory("u1", "c1", stores=stores) as m:
                m.store_turns(turns("c1", 2))
                server.kill()
                with pytest.raises(ProjectionError, match="stored durably in PostgreSQL") as err:
                    m.store_turn(turns("c1", 1, start=2)[0])
                assert err.value.turn_ids == [turns("c1", 1, start=2)[0].id]
                assert pg_count(stores, "u1") == 3
                server.start()
                assert graph_turns(stores, "u1") == 2  # the crash lost nothing that was acknowledged
                report = m.reproject()
                assert (report.checked, report.projected) == (3, 1)
                assert graph_turns(stores, "u1") == 3
                # Retrying the failed store_turn after the outage also heals the graph, idempotently.
                assert m.store_turn(turns("c1", 1, start=2)[0]).duplicates == 1
    finally:
        server.stop()


def test_retrying_a_write_after_a_graph_outage_projects_the_missing_turn(settings, tmp_path):
    server = StandaloneFalkorDB(tmp_path / "graph")
    server.start()
    own = settings.model_copy(update={"graph_uri": server.uri})
    try:
        with Stores.open(own) as stores:
            migrate(stores.pg, stores.graph, own.embedding_dimensions)
            with AgentMemory("u1", "c1", stores=stores) as m:
                server.kill()
                with pytest.raises(ProjectionError):
                    m.store_turns(turns("c1", 2))
                server.start()
                assert m.store_turns(turns("c1", 2)).duplicates == 2
                assert graph_turns(stores, "u1") == 2
    finally:
        server.stop()


def test_metadata_with_a_nul_character_is_rejected_before_postgres_sees_it(memory, backend_stores):
    with pytest.raises(ValidationError, match="NUL"):
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="x", metadata={"k": "a\x00b"}))
    assert pg_count(backend_stores, "u1") == 0


def test_something_that_is_not_a_turn_is_a_typed_error_and_writes_nothing(memory, backend_stores):
    with pytest.raises(ValidationError, match="expected a Turn, got dict"):
        memory.store_turns([*turns("c1", 1), {"conversation_id": "c1", "index": 1, "role": "user", "content": "x"}])
    assert pg_count(backend_stores, "u1") == 0
