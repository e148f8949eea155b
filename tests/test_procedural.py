"""Procedural memory: the tool-call audit, Tool statistics in the graph, and strategies that worked."""

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from memory_runtime.domain import ids
from memory_runtime.domain.errors import (
    ConversationOwnershipError,
    NotFoundError,
    ProjectionError,
    ToolProjectionError,
    ValidationError,
)
from memory_runtime.memory.procedural import TASK_TYPE_BOOST, ProceduralMemory
from memory_runtime.stores.graph.falkordb import FalkorGraphStore

USER = "alice"
OTHER = "bob"


def insert_turn(stores, user_id: str, conversation_id: str, index: int, content: str = "hello") -> str:
    """A turn row written straight into Postgres (as the episodic writer stores it); returns its id."""
    turn_id = ids.turn_id(conversation_id, index)
    stamp = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with stores.pg.connection() as conn:
        conn.execute(
            "INSERT INTO conversations (id, user_id, started_at, last_turn_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            (conversation_id, user_id, stamp, stamp),
        )
        conn.execute(
            "INSERT INTO conversation_logs (id, user_id, conversation_id, turn_index, role, content, "
            "content_hash, created_at) VALUES (%s, %s, %s, %s, 'user', %s, %s, %s)",
            (turn_id, user_id, conversation_id, index, content, ids.content_hash(content), stamp),
        )
    return turn_id


def project_turn_node(stores, user_id: str, turn_id: str) -> None:
    """A minimal Turn node, as the episodic projection would leave it."""
    stores.graph.write("CREATE (:Turn {id: $id, user_id: $user_id})", {"id": turn_id, "user_id": user_id})


@pytest.fixture
def broken_stores(stores):
    """The same stores, except that the graph key holds a plain Redis string: every graph query fails."""
    key = stores.redis.key("not_a_graph")
    stores.redis.client.set(key, "x")
    graph = FalkorGraphStore(stores.settings.require("graph_uri"), key)
    try:
        yield replace(stores, graph=graph)
    finally:
        graph.close()
        stores.redis.client.delete(key)


def invocations(stores, user_id: str = USER) -> list[dict]:
    return stores.pg.fetch(
        "SELECT id::text AS id, conversation_id, turn_id::text AS turn_id, turn_index, tool_name, "
        "tool_input, tool_output, success, latency_ms, error "
        "FROM tool_invocations WHERE user_id = %s ORDER BY created_at",
        (user_id,),
    )


def tool_nodes(stores) -> int:
    return stores.graph.read("MATCH (t:Tool) RETURN count(t) AS n")[0]["n"]


# ---- record_tool_usage: the audit ---------------------------------------------------------------------
def test_record_tool_usage_audits_inputs_and_outputs_as_json(stores):
    memory = ProceduralMemory(stores, USER)
    tool_input = {"query": "état", "limit": 3, "filters": [{"a": None}, True, 1.5]}
    invocation_id = memory.record_tool_usage("search", tool_input, ["r1", "r2"], True, 12.5, error=None)
    [row] = invocations(stores)
    assert row["id"] == invocation_id
    assert (row["tool_name"], row["tool_input"], row["tool_output"]) == ("search", tool_input, ["r1", "r2"])
    assert (row["success"], row["latency_ms"], row["turn_id"]) == (True, 12.5, None)


def test_record_tool_usage_accepts_any_json_value(stores):
    memory = ProceduralMemory(stores, USER)
    for value in ("plain text", 42, None, [1, "two"], {"nested": {"deep": [None]}}):
        memory.record_tool_usage("echo", value, value, True, 1)
    assert [r["tool_input"] for r in invocations(stores)] == [
        "plain text",
        42,
        None,
        [1, "two"],
        {"nested": {"deep": [None]}},
    ]


def test_record_tool_usage_keeps_the_real_turn_index(stores):
    turn_id = insert_turn(stores, USER, "conv-1", 7)
    ProceduralMemory(stores, USER).record_tool_usage("calc", {"x": 1}, 2, True, 3.0, turn_id)
    [row] = invocations(stores)
    assert (row["turn_id"], row["turn_index"], row["conversation_id"]) == (turn_id, 7, "conv-1")


def test_record_tool_usage_with_unknown_turn_writes_nothing(stores):
    memory = ProceduralMemory(stores, USER)
    with pytest.raises(NotFoundError):
        memory.record_tool_usage("calc", {}, None, True, 1.0, ids.turn_id("nowhere", 0))
    with pytest.raises(NotFoundError):
        memory.record_tool_usage("calc", {}, None, True, 1.0, "not-a-uuid")
    assert invocations(stores) == []
    assert tool_nodes(stores) == 0


def test_record_tool_usage_with_another_users_turn_is_not_found(stores):
    turn_id = insert_turn(stores, OTHER, "bobs-conv", 0)
    with pytest.raises(NotFoundError):
        ProceduralMemory(stores, USER).record_tool_usage("calc", {}, None, True, 1.0, turn_id)
    assert invocations(stores) == []


def test_record_tool_usage_rejects_a_conversation_that_contradicts_the_turn(stores):
    turn_id = insert_turn(stores, USER, "conv-1", 0)
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).record_tool_usage("calc", {}, None, True, 1.0, turn_id, conversation_id="conv-2")
    assert invocations(stores) == []


def test_record_tool_usage_rejects_another_users_conversation(stores):
    insert_turn(stores, OTHER, "bobs-conv", 0)
    with pytest.raises(ConversationOwnershipError):
        ProceduralMemory(stores, USER).record_tool_usage("calc", {}, None, True, 1.0, conversation_id="bobs-conv")
    assert invocations(stores) == []


@pytest.mark.parametrize(
    "tool_input",
    [object(), {"x": float("nan")}, {"x": math.inf}, "nul \x00 inside", {"k": "\ud800"}],
    ids=["object", "nan", "inf", "nul", "lone-surrogate"],
)
def test_record_tool_usage_rejects_input_postgres_cannot_store_and_writes_nothing(stores, tool_input):
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).record_tool_usage("calc", tool_input, None, True, 1.0)
    assert invocations(stores) == []
    assert tool_nodes(stores) == 0


def test_record_tool_usage_accepts_an_escaped_backslash_u0000_text(stores):
    ProceduralMemory(stores, USER).record_tool_usage("calc", {"path": "C:\\u0000"}, None, True, 1.0)
    assert invocations(stores)[0]["tool_input"] == {"path": "C:\\u0000"}


@pytest.mark.parametrize("latency", [-1.0, math.nan, math.inf, True, "10"])
def test_record_tool_usage_rejects_a_negative_or_non_finite_latency(stores, latency):
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).record_tool_usage("calc", {}, None, True, latency)
    assert invocations(stores) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 257, None])
def test_record_tool_usage_rejects_a_blank_or_oversized_tool_name(stores, name):
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).record_tool_usage(name, {}, None, True, 1.0)


# ---- record_tool_usage: the graph -----------------------------------------------------------------------
def test_record_tool_usage_links_the_turn_in_the_graph(backend_stores):
    turn_id = insert_turn(backend_stores, USER, "conv-1", 2)
    project_turn_node(backend_stores, USER, turn_id)
    ProceduralMemory(backend_stores, USER).record_tool_usage("calc", {}, None, True, 1.0, turn_id)
    rows = backend_stores.graph.read(
        "MATCH (t:Turn)-[:USED_TOOL]->(tool:Tool) RETURN t.id AS turn, tool.id AS tool, tool.name AS name"
    )
    assert rows == [{"turn": turn_id, "tool": ids.tool_id(USER, "calc"), "name": "calc"}]


def test_record_tool_usage_of_an_unprojected_turn_still_counts_the_call(backend_stores):
    turn_id = insert_turn(backend_stores, USER, "conv-1", 0)
    memory = ProceduralMemory(backend_stores, USER)
    memory.record_tool_usage("calc", {}, None, True, 1.0, turn_id)
    assert memory.get_tool_stats("calc")[0]["usage_count"] == 1
    assert backend_stores.graph.read("MATCH ()-[r:USED_TOOL]->() RETURN count(r) AS n")[0]["n"] == 0


def test_tool_stats_running_mean_latency(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    for latency in (10.0, 20.0, 60.0, 30.5):
        memory.record_tool_usage("search", {}, None, True, latency)
    [stats] = memory.get_tool_stats("search")
    assert stats["usage_count"] == 4
    assert stats["mean_latency_ms"] == pytest.approx(30.125)


def test_tool_stats_count_successes_and_failures(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    for ok in (True, True, False, True):
        memory.record_tool_usage("search", {}, None, ok, 5.0, error=None if ok else "timeout")
    [stats] = memory.get_tool_stats()
    assert (stats["success_count"], stats["failure_count"]) == (3, 1)
    assert stats["success_rate"] == pytest.approx(0.75)
    assert stats["last_used_at"].tzinfo is not None


def test_tool_stats_count_every_concurrent_call(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: memory.record_tool_usage("search", {"i": i}, None, i % 4 != 0, 10.0), range(24)))
    [stats] = memory.get_tool_stats("search")
    assert (stats["usage_count"], stats["success_count"], stats["failure_count"]) == (24, 18, 6)
    assert stats["mean_latency_ms"] == pytest.approx(10.0)


def test_tool_stats_list_the_most_used_tool_first(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    memory.record_tool_usage("rare", {}, None, True, 1.0)
    for _ in range(3):
        memory.record_tool_usage("common", {}, None, True, 1.0)
    assert [s["name"] for s in memory.get_tool_stats()] == ["common", "rare"]
    assert memory.get_tool_stats("unknown") == []


def test_tool_stats_are_scoped_to_the_user(backend_stores):
    ProceduralMemory(backend_stores, OTHER).record_tool_usage("search", {}, None, False, 99.0)
    alice = ProceduralMemory(backend_stores, USER)
    assert alice.get_tool_stats() == []
    alice.record_tool_usage("search", {}, None, True, 1.0)
    [stats] = alice.get_tool_stats("search")
    assert (stats["usage_count"], stats["failure_count"], stats["mean_latency_ms"]) == (1, 0, 1.0)


def test_graph_failure_after_commit_raises_projection_error_and_keeps_the_audit_row(stores, broken_stores):
    with pytest.raises(ProjectionError) as caught:
        ProceduralMemory(broken_stores, USER).record_tool_usage("search", {"q": 1}, None, True, 4.0)
    assert isinstance(caught.value, ToolProjectionError)
    assert caught.value.store == "graph"
    [row] = invocations(stores)
    assert caught.value.invocation_ids == [row["id"]]


def test_reproject_tools_rebuilds_stats_from_the_audit_log(stores, broken_stores):
    turn_id = insert_turn(stores, USER, "conv-1", 0)
    project_turn_node(stores, USER, turn_id)
    with pytest.raises(ToolProjectionError):
        ProceduralMemory(broken_stores, USER).record_tool_usage("search", {}, None, False, 8.0, turn_id)
    memory = ProceduralMemory(stores, USER)
    memory.record_tool_usage("search", {}, None, True, 2.0)
    assert memory.reproject_tools() == 1
    [stats] = memory.get_tool_stats()
    assert (stats["usage_count"], stats["success_count"], stats["failure_count"]) == (2, 1, 1)
    assert stats["mean_latency_ms"] == pytest.approx(5.0)
    assert stores.graph.read("MATCH (:Turn)-[r:USED_TOOL]->(:Tool) RETURN count(r) AS n")[0]["n"] == 1


# ---- strategies -----------------------------------------------------------------------------------------
def strategy_count(stores) -> int:
    return stores.graph.read("MATCH (s:Strategy) RETURN count(s) AS n")[0]["n"]


def test_learn_strategy_twice_returns_the_same_id(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    first = memory.learn_strategy("Bisect the failing commit range", "debugging", ["git", "pytest"])
    again = memory.learn_strategy("  bisect the failing   commit range. ", "Debugging")
    assert first == again
    assert strategy_count(backend_stores) == 1


def test_learn_strategy_links_its_task_type(backend_stores):
    sid = ProceduralMemory(backend_stores, USER).learn_strategy("Read the stack trace", "debugging")
    rows = backend_stores.graph.read(
        "MATCH (s:Strategy)-[:FOR_TASK]->(tt:TaskType) "
        "RETURN s.id AS id, tt.name AS name, tt.user_id AS user_id, s.user_id AS owner"
    )
    assert rows == [{"id": sid, "name": "debugging", "user_id": USER, "owner": USER}]


def test_learning_the_same_strategy_again_counts_the_outcome(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    sid = memory.learn_strategy("Read the stack trace", "debugging", success=True)
    memory.learn_strategy("Read the stack trace", "debugging", success=False)
    memory.learn_strategy("Read the stack trace", "debugging", success=True)
    memory.learn_strategy("Read the stack trace", "debugging")
    stats = memory.reinforce_strategy(sid, True)
    assert (stats["success_count"], stats["failure_count"]) == (3, 1)


def test_learn_strategy_keeps_strategies_of_different_task_types_apart(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    a = memory.learn_strategy("Write a failing test first", "debugging")
    b = memory.learn_strategy("Write a failing test first", "refactoring")
    assert a != b


def test_learn_strategy_rejects_a_blank_description(stores):
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).learn_strategy("   ", "debugging")
    with pytest.raises(ValidationError):
        ProceduralMemory(stores, USER).learn_strategy("ok", "debugging", tool_sequence="git")
    assert strategy_count(stores) == 0


def test_reinforce_strategy_updates_success_rate(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    sid = memory.learn_strategy("Profile before optimising", "performance", ["py-spy"])
    memory.reinforce_strategy(sid, True)
    memory.reinforce_strategy(sid, True)
    stats = memory.reinforce_strategy(sid, False)
    assert (stats["success_count"], stats["failure_count"]) == (2, 1)
    assert stats["success_rate"] == pytest.approx((2 + 1) / (3 + 2))  # Laplace
    assert stats["tool_sequence"] == ["py-spy"]


def test_reinforcing_an_unknown_strategy_is_not_found(stores):
    with pytest.raises(NotFoundError):
        ProceduralMemory(stores, USER).reinforce_strategy(ids.new_id(), True)


def test_reinforcing_another_users_strategy_is_not_found(backend_stores):
    sid = ProceduralMemory(backend_stores, OTHER).learn_strategy("Restart the service", "ops")
    with pytest.raises(NotFoundError):
        ProceduralMemory(backend_stores, USER).reinforce_strategy(sid, True)
    assert ProceduralMemory(backend_stores, OTHER).reinforce_strategy(sid, False)["failure_count"] == 1


def test_what_worked_for_prefers_successful_similar_strategies(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    worked = memory.learn_strategy("Search the API documentation for the error code", "api errors")
    failed = memory.learn_strategy("Search the API documentation for the error message", "api errors")
    for _ in range(5):
        memory.reinforce_strategy(worked, True)
        memory.reinforce_strategy(failed, False)
    ranked = memory.what_worked_for("error message from the API documentation search")
    # `failed` is the closer match, but its track record (1/7 vs 6/7 Laplace) puts it second.
    assert [r["id"] for r in ranked][:2] == [worked, failed]
    assert ranked[0]["score"] > ranked[1]["score"] > 0
    assert ranked[1]["similarity"] > ranked[0]["similarity"]


def test_what_worked_for_prefers_the_similar_strategy_at_equal_success(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    similar = memory.learn_strategy("Search the API documentation for the error message", "api errors")
    unrelated = memory.learn_strategy("Water the garden plants in the evening", "gardening")
    for sid in (similar, unrelated):
        memory.reinforce_strategy(sid, True)
    ranked = [r["id"] for r in memory.what_worked_for("error message from the API documentation search")]
    assert ranked[0] == similar


def test_what_worked_for_returns_the_strategy_fields(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    sid = memory.learn_strategy("Bisect the failing commits", "debugging", ["git", "pytest"], success=True)
    [hit] = memory.what_worked_for("bisect failing commits", top_k=1)
    assert {"id", "description", "task_type", "tool_sequence", "success_rate", "score"} <= hit.keys()
    assert (hit["id"], hit["task_type"], hit["tool_sequence"]) == (sid, "debugging", ["git", "pytest"])
    assert hit["success_rate"] == pytest.approx(2 / 3)


def test_what_worked_for_boosts_an_exact_task_type_match(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    by_type = memory.learn_strategy("Ask for the traceback and reproduce it locally", "debugging")
    by_words = memory.learn_strategy("Debugging tips collected from debugging sessions", "notes")
    ranked = {r["id"]: r for r in memory.what_worked_for("debugging")}
    assert by_type in ranked and by_words in ranked
    typed = ranked[by_type]
    assert typed["score"] == pytest.approx(min(1.0, max(typed["similarity"], 0) + TASK_TYPE_BOOST) * 0.5)
    assert list(ranked)[0] == by_type


def test_what_worked_for_never_returns_another_users_strategies(backend_stores):
    ProceduralMemory(backend_stores, OTHER).learn_strategy("Rotate the API keys", "security", success=True)
    alice = ProceduralMemory(backend_stores, USER)
    assert alice.what_worked_for("rotate the API keys") == []
    assert alice.what_worked_for("security") == []


def test_what_worked_for_limits_results_to_top_k(backend_stores):
    memory = ProceduralMemory(backend_stores, USER)
    for i in range(6):
        memory.learn_strategy(f"Retry the flaky network call variant {i}", "networking")
    assert len(memory.what_worked_for("retry flaky network call", top_k=3)) == 3
    with pytest.raises(ValidationError):
        memory.what_worked_for("retry", top_k=0)
