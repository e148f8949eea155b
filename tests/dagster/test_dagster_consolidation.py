"""Consolidation assets on real stores: timeline, mined strategies, user profiles, semantic memory."""

from datetime import timedelta

from dagster_helpers import DAY, DAY_START, materialize, metadata, move_tool_calls, store_conversation

from memory_assets.consolidation import (
    memory_timeline,
    procedural_strategies,
    semantic_memory,
    user_profiles,
)
from memory_assets.episodic import conversation_turns, episodic_graph
from memory_runtime.config import load_settings
from memory_runtime.domain.models import Turn
from memory_runtime.extraction import extractor_version
from memory_runtime.memory.procedural import ProceduralMemory
from memory_runtime.memory.semantic import SemanticMemory
from memory_runtime.memory.users import UserModel

NOON = DAY_START + timedelta(hours=12)


def _seed_day(stores) -> dict[str, list[str]]:
    """Two users' conversations on DAY, tool calls, a fact per user; returns turn ids per conversation."""
    turns = {
        "c1": store_conversation(stores, "u1", "c1", NOON, ["my favorite color is blue", "noted", "thanks"]),
        "c2": store_conversation(stores, "u2", "c2", NOON + timedelta(hours=1), ["find flights", "found"]),
    }
    sem = SemanticMemory(stores, "u1")
    sem.learn_fact(
        "User's favorite color is blue",
        source="extraction",
        source_turn_id=turns["c1"][0],
        valid_at=NOON,
        subject="user",
        predicate="favorite_color",
        object="blue",
    )
    sem.learn_fact(
        "User likes jazz", source="extraction", source_turn_id=turns["c1"][0], valid_at=NOON,
        subject="user", predicate="likes", object="jazz",
    )  # fmt: skip
    return turns


def _snapshot(stores) -> dict[str, object]:
    """Everything the assets write, as counts and change stamps."""
    pg = {
        table: stores.pg.fetch(f"SELECT count(*) AS n FROM {table}")[0]["n"]
        for table in ("conversation_logs", "memory_timeline", "user_profiles", "tool_invocations")
    }
    stamps = stores.pg.fetch(
        "SELECT (SELECT max(recorded_at) FROM memory_timeline) AS timeline, "
        "(SELECT max(updated_at) FROM user_profiles) AS profiles, "
        "(SELECT string_agg(coalesce(summary, ''), '|' ORDER BY user_id) FROM user_profiles) AS summaries"
    )[0]
    nodes = stores.graph.read("MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n ORDER BY label")
    edges = stores.graph.read("MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n ORDER BY type")
    strategies = stores.graph.read(
        "MATCH (s:Strategy) RETURN s.id AS id, s.success_count AS ok, s.failure_count AS failed, "
        "s.updated_at AS updated ORDER BY s.id"
    )
    return {"pg": pg, "stamps": stamps, "nodes": nodes, "edges": edges, "strategies": strategies}


def test_memory_timeline_has_one_episode_per_conversation_day_and_the_facts(stores, memory, instance):
    _seed_day(stores)
    store_conversation(stores, "u1", "c1", NOON + timedelta(days=1), ["next day"], first_index=3)

    result = materialize([memory_timeline], memory, instance)

    meta = metadata(result, "memory_timeline")
    assert (meta["episodes"], meta["facts"], meta["rows_inserted"]) == (2, 2, 4)
    rows = stores.pg.fetch(
        "SELECT event_type, ref_id, user_id, conversation_id, summary FROM memory_timeline ORDER BY 1, 2"
    )
    episodes = [r for r in rows if r["event_type"] == "episode"]
    assert [r["ref_id"] for r in episodes] == [f"c1@{DAY}", f"c2@{DAY}"]
    assert episodes[0]["summary"].startswith("3 turns: my favorite color is blue")
    facts = [r for r in rows if r["event_type"] == "fact"]
    assert {r["summary"] for r in facts} == {"User's favorite color is blue", "User likes jazz"}
    assert {r["conversation_id"] for r in facts} == {"c1"}


def test_rerunning_a_partition_changes_nothing(stores, memory, instance):
    turns = _seed_day(stores)
    for conv, user, tools in (("c1", "u1", ["search", "summarize"]), ("c3", "u1", ["search", "summarize"])):
        if conv == "c3":
            store_conversation(stores, user, conv, NOON + timedelta(hours=2), ["again please"])
        procedural = ProceduralMemory(stores, user)
        for tool in tools:
            procedural.record_tool_usage(tool, {"q": conv}, {"ok": True}, True, 12.0, conversation_id=conv)
    move_tool_calls(stores, NOON + timedelta(hours=3))
    assets = [conversation_turns, episodic_graph, procedural_strategies, memory_timeline, user_profiles]
    stores.graph.write("MATCH (t:Turn {id: $id}) DETACH DELETE t", {"id": turns["c2"][1]})

    first = materialize(assets, memory, instance)
    before = _snapshot(stores)
    second = materialize(assets, memory, instance)
    after = _snapshot(stores)

    assert first.success and second.success
    assert metadata(first, "episodic_graph")["turns_reprojected"] == 1
    assert metadata(first, "procedural_strategies")["strategies"] == 1
    assert after == before
    assert metadata(second, "episodic_graph")["turns_reprojected"] == 0
    timeline = metadata(second, "memory_timeline")
    assert (timeline["rows_inserted"], timeline["rows_updated"]) == (0, 0)
    assert metadata(second, "procedural_strategies")["strategies_changed"] == 0
    profiles = metadata(second, "user_profiles")
    assert profiles["preferences_set"] == profiles["interests_added"] == profiles["summaries_updated"] == 0


def test_procedural_strategies_counts_outcomes_per_task_type_and_tool_sequence(stores, memory, instance):
    outcomes = {"a": True, "b": False, "c": True, "d": True}
    for conv, ok in outcomes.items():
        turn = Turn(conversation_id=conv, index=0, role="user", content=f"research {conv}",
                    timestamp=NOON, metadata={"task_type": "research"})  # fmt: skip
        from memory_runtime.memory.episodic import EpisodicMemory

        EpisodicMemory(stores, "u1", None).store_turns([turn])
        procedural = ProceduralMemory(stores, "u1")
        calls = [("search", True), ("search", True), ("summarize", ok)]  # a retry collapses into one step
        if conv == "d":
            calls = [("browse", True)]  # only one conversation: below the support threshold
        for tool, success in calls:
            procedural.record_tool_usage(tool, {}, {}, success, 5.0, conversation_id=conv)
    move_tool_calls(stores, NOON)

    result = materialize([procedural_strategies], memory, instance)

    assert metadata(result, "procedural_strategies")["strategies"] == 1
    [row] = stores.graph.read(
        "MATCH (s:Strategy)-[:FOR_TASK]->(tt:TaskType) "
        "RETURN s.user_id AS user, s.task_type AS task, s.tool_sequence AS tools, s.success_count AS ok, "
        "s.failure_count AS failed, s.source AS source, tt.name AS task_type, "
        "[(s)-[:USED_TOOL]->(t:Tool) | t.name] AS tool_nodes"
    )
    assert row["tools"] == ["search", "summarize"]
    assert (row["ok"], row["failed"], row["task"], row["task_type"]) == (2, 1, "research", "research")
    assert (row["user"], row["source"]) == ("u1", "mined")
    assert sorted(row["tool_nodes"]) == ["search", "summarize"]
    found = ProceduralMemory(stores, "u1").what_worked_for("research", top_k=3)
    assert found and found[0]["tool_sequence"] == ["search", "summarize"]


def test_user_profiles_folds_preference_and_interest_facts_into_the_profile(stores, memory, instance):
    _seed_day(stores)
    UserModel(stores, "u2").set_preference("seat", "aisle")

    result = materialize([user_profiles], memory, instance)

    meta = metadata(result, "user_profiles")
    assert (meta["users"], meta["preferences_set"], meta["interests_added"]) == (2, 1, 1)
    profile = UserModel(stores, "u1").get_user_context()
    assert profile["preferences"] == {"favorite_color": "blue"}
    assert profile["interests"] == ["jazz"]
    assert "blue" in profile["summary"] and "jazz" in profile["summary"]
    assert UserModel(stores, "u2").get_user_context()["summary"] == "Preferences — seat: aisle"


def test_user_profiles_keeps_a_preference_the_agent_set_after_the_fact(stores, memory, instance):
    _seed_day(stores)
    UserModel(stores, "u1").set_preference("favorite_color", "green")  # newer than the fact

    materialize([user_profiles], memory, instance)

    assert UserModel(stores, "u1").get_user_context()["preferences"]["favorite_color"] == "green"


def test_semantic_memory_extracts_entities_and_facts_linked_to_their_turns(stores, memory, instance):
    ids = store_conversation(
        stores, "u1", "c1", NOON, ["My name is Priya and I work at Acme Corp in Berlin.", "Nice to meet you."]
    )

    result = materialize([semantic_memory], memory, instance)

    meta = metadata(result, "semantic_memory")
    assert meta["turns_read"] == 2 and meta["facts_created"] >= 1 and meta["entities_created"] >= 1
    assert meta["extractor_version"] == extractor_version(memory.settings)
    facts = stores.graph.read("MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn) WHERE f.user_id = 'u1' RETURN t.id AS turn")
    assert facts and {f["turn"] for f in facts} == {ids[0]}
    assert SemanticMemory(stores, "u1").find_entities("Acme Corp")
    # creating facts and entities orphans vectors on FalkorDB; the run leaves their indexes sound
    from memory_runtime.batch.reindex import check_vector_indexes

    assert all(i.health >= 0.9 for i in check_vector_indexes(stores, ("Fact", "Entity")))


def test_semantic_memory_code_version_is_the_extractor_version():
    from memory_assets.consolidation import extractor_version as asset_version

    assert semantic_memory.code_versions_by_key[semantic_memory.key] == asset_version()
    assert asset_version() == extractor_version(load_settings(_env_file=None))
