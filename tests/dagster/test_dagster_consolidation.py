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


def _store(stores, user: str, conversation: str, turns: list[tuple[str, str, str | None, object]]) -> list[str]:
    """Store (role, text, speaker, timestamp) turns of one conversation; returns their ids."""
    from memory_runtime.memory.episodic import EpisodicMemory

    rows = [
        Turn(conversation_id=conversation, index=i, role=role, content=text, timestamp=at,
             metadata={"speaker": speaker} if speaker else {})
        for i, (role, text, speaker, at) in enumerate(turns)
    ]  # fmt: skip
    return EpisodicMemory(stores, user, None).store_turns(rows).turn_ids


def _current_claims(stores, user: str = "u1") -> set[str]:
    return {f["claim"] for f in SemanticMemory(stores, user).list_facts(limit=200)}


def test_semantic_memory_learns_employer_manager_and_homes_from_everyday_sentences(stores, memory, instance):
    ids = _store(stores, "u1", "c1", [
        ("user", "My name is Priya and I work at Acme Robotics Corporation in Berlin", None, NOON),
        ("user", "My manager Tomasz lives in Warsaw", None, NOON + timedelta(minutes=1)),
    ])  # fmt: skip

    result = materialize([semantic_memory], memory, instance)

    assert result.success
    assert {
        "User's name is Priya",
        "User works at Acme Robotics Corporation",
        "Acme Robotics Corporation is located in Berlin",
        "User's manager is Tomasz",
        "Tomasz lives in Warsaw",
    } <= _current_claims(stores)
    semantic = SemanticMemory(stores, "u1")
    (acme,) = semantic.find_entities("Acme Robotics Corporation", entity_type="Organization")
    assert acme["name"] == "Acme Robotics Corporation"  # one entity, not Acme + Robotics + Corporation
    (tomasz,) = semantic.find_entities("Tomasz", entity_type="Person")
    edges = stores.graph.read(
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE a.user_id = 'u1' RETURN a.name AS a, type(r) AS r, b.name AS b"
    )
    assert {
        ("Priya", "WORKS_FOR", "Acme Robotics Corporation"),
        ("Acme Robotics Corporation", "LOCATED_IN", "Berlin"),
        ("Priya", "REPORTS_TO", "Tomasz"),
        ("Tomasz", "LIVES_IN", "Warsaw"),
    } <= {(e["a"], e["r"], e["b"]) for e in edges}
    manager = next(f for f in semantic.facts_about(tomasz["id"]) if f["claim"] == "User's manager is Tomasz")
    assert manager["source_turn_ids"] == [ids[1]] and manager["extractor_version"] == extractor_version(memory.settings)
    assert manager["predicate"] == "has_manager" and 0 < manager["confidence"] <= 1


def test_semantic_memory_learns_things_studies_and_habits_said_in_chat_style(stores, memory, instance):
    _store(stores, "u1", "c1", [
        ("user", "I have three guitars.", None, NOON),
        ("user", "I have a master's in psychology from Harvard.", None, NOON + timedelta(minutes=1)),
        ("user", "i go climbing twice a week", None, NOON + timedelta(minutes=2)),
        ("user", "We just moved to Lisbon!", None, NOON + timedelta(minutes=3)),
    ])  # fmt: skip

    materialize([semantic_memory], memory, instance)

    assert _current_claims(stores) == {
        "User owns guitar",
        "User studies psychology",
        "User studied at Harvard",
        "User goes climbing twice a week",
        "User lives in Lisbon",
    }


def test_semantic_memory_selling_a_thing_invalidates_owning_it(stores, memory, instance):
    later = NOON + timedelta(hours=2)
    _store(
        stores,
        "u1",
        "c1",
        [("user", "I just bought a new bike.", None, NOON), ("user", "I sold my bike.", None, later)],
    )

    materialize([semantic_memory], memory, instance)

    facts = {f["claim"]: f for f in SemanticMemory(stores, "u1").list_facts(include_invalid=True, limit=50)}
    assert facts["User owns bike"]["invalid_at"] == later
    assert _current_claims(stores) == set()


def test_semantic_memory_a_denial_invalidates_the_earlier_fact_at_the_denial_time(stores, memory, instance):
    later = NOON + timedelta(hours=3)
    _store(stores, "u1", "c1", [
        ("user", "I eat meat.", None, NOON),
        ("user", "I don't eat meat anymore.", None, later),
    ])  # fmt: skip

    materialize([semantic_memory], memory, instance)

    facts = {f["claim"]: f for f in SemanticMemory(stores, "u1").list_facts(include_invalid=True, limit=50)}
    assert facts["User eats meat"]["invalid_at"] == later
    assert facts["User avoids meat"]["invalid_at"] is None
    assert _current_claims(stores) == {"User avoids meat"}


def test_semantic_memory_resolves_relative_dates_against_the_turn_time(stores, memory, instance):
    _store(stores, "u1", "c1", [("user", "I'm flying to Lisbon next Friday.", None, NOON)])  # NOON: Fri 2024-03-01

    materialize([semantic_memory], memory, instance)

    assert _current_claims(stores) == {"User travels to Lisbon on 2024-03-08"}


def test_semantic_memory_attributes_each_speakers_facts_in_a_two_human_chat(stores, memory, instance):
    _store(stores, "u1", "c1", [
        ("user", "I work at Nokia.", "Caroline", NOON),
        ("assistant", "Nice! I live in Oslo and I love painting.", "Melanie", NOON + timedelta(seconds=30)),
    ])  # fmt: skip

    materialize([semantic_memory], memory, instance)

    assert _current_claims(stores) == {"User works at Nokia", "Melanie lives in Oslo", "Melanie likes painting"}
    assert SemanticMemory(stores, "u1").find_entities("Melanie", entity_type="Person")


def test_semantic_memory_resolves_she_to_the_person_named_in_the_previous_turn(stores, memory, instance):
    _store(stores, "u1", "c1", [
        ("user", "My sister Anna is visiting.", None, NOON),
        ("assistant", "How lovely!", None, NOON + timedelta(minutes=1)),
        ("user", "She works at Fiat.", None, NOON + timedelta(minutes=2)),
    ])  # fmt: skip

    materialize([semantic_memory], memory, instance)

    assert _current_claims(stores) == {"User's sibling is Anna", "Anna works at Fiat"}
