"""The public API as docs/architecture.md ("The public API") and the README ("Using the runtime") write it.

Each test runs one line (or a few) of the design's code block as written, on real embedded stores, with
`settings=settings` added to the constructor; the README's example is run verbatim from the README.
"""

import re
from datetime import datetime
from pathlib import Path

import pytest

from memory_runtime import AgentMemory, Entity, Fact, Goal, MemoryBundle, Strategy, Turn
from memory_runtime.config import Settings
from memory_runtime.domain import ids
from memory_runtime.domain.models import EntityGraph, EntityHit, FactHit, StrategyMatch, TurnHit, estimate_tokens
from memory_runtime.errors import TurnIdConflictError, ValidationError
from memory_runtime.memory.working import WorkingMemory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def memory(stores, settings: Settings):  # `stores` migrates the namespace first
    with AgentMemory(user_id="u1", conversation_id="c1", settings=settings) as memory:
        yield memory


def test_the_design_names_import_from_the_package() -> None:
    assert all(isinstance(cls, type) for cls in (AgentMemory, Turn, Entity, Fact, Goal, Strategy, MemoryBundle))


def test_store_turn_and_store_turns(memory: AgentMemory) -> None:
    first = memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="Let us talk about Cython."))
    batch = memory.store_turns(
        [Turn(conversation_id="c1", index=i, role="assistant", content=f"Cython point {i}") for i in (1, 2)]
    )
    assert (first.inserted, batch.inserted) == (1, 2)
    assert first.turn_ids == [ids.turn_id("c1", 0)]


def test_remember_returns_a_bundle_that_packs_into_a_token_budget(memory: AgentMemory) -> None:
    memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="We compiled the parser with Cython."))
    bundle = memory.remember("what did we say about Cython?", top_k=10, time_window_hours=None)
    assert isinstance(bundle, MemoryBundle)
    text = bundle.to_context_string(max_tokens=1500)
    assert "Cython" in text and estimate_tokens(text) <= 1500


def test_turn_accepts_a_caller_id_and_a_token_count(memory: AgentMemory) -> None:
    turn = Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="I moved to Lisbon.", token_count=7)
    assert (turn.id, turn.token_count, turn.record_id) == ("msg-1", 7, ids.turn_id("c1", 0))
    assert memory.store_turn(turn).turn_ids == ["msg-1"]


def test_a_turn_without_an_id_gets_the_derived_one() -> None:
    turn = Turn(conversation_id="c1", index=3, role="user", content="hello")
    assert turn.id == ids.turn_id("c1", 3) and turn.client_id is None
    turn.index = 4
    assert turn.id == ids.turn_id("c1", 4)


def test_token_count_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        Turn(conversation_id="c1", index=0, role="user", content="hi", token_count=-1)


def test_caller_ids_and_token_counts_come_back_on_every_read(memory: AgentMemory) -> None:
    memory.store_turns(
        [
            Turn(
                id="msg-1",
                conversation_id="c1",
                index=0,
                role="user",
                content="My cat is called Biscuit.",
                token_count=7,
            ),  # fmt: skip
            Turn(conversation_id="c1", index=1, role="assistant", content="Biscuit is a lovely name."),
        ]
    )
    for turns in (memory.working.get_recent_turns(limit=100), memory.episodic.get_recent_turns(10)):
        assert all(isinstance(t, Turn) for t in turns)
        assert [(t.id, t.token_count) for t in turns] == [
            ("msg-1", 7),
            (ids.turn_id("c1", 1), estimate_tokens("Biscuit is a lovely name.")),
        ]
    [hit] = [t for t in memory.remember("what is my cat called?").relevant_turns if t.index == 0]
    assert (hit.id, hit.token_count, hit.source_turn_ids) == ("msg-1", 7, [ids.turn_id("c1", 0)])


def test_a_caller_id_reused_for_another_turn_is_a_typed_error(memory: AgentMemory) -> None:
    memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="first"))
    with pytest.raises(TurnIdConflictError, match="msg-1"):
        memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=1, role="user", content="second"))
    with pytest.raises(TurnIdConflictError):
        memory.store_turns(
            [
                Turn(id="msg-2", conversation_id="c1", index=2, role="user", content="a"),
                Turn(id="msg-2", conversation_id="c1", index=3, role="user", content="b"),
            ]
        )
    assert [t.id for t in memory.episodic.get_recent_turns(10)] == ["msg-1"]  # nothing of either batch


def test_storing_the_same_turn_with_its_id_again_is_a_duplicate(memory: AgentMemory) -> None:
    turn = Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="first")
    memory.store_turn(turn)
    again = memory.store_turn(turn)
    assert (again.inserted, again.duplicates, again.turn_ids) == (0, 1, ["msg-1"])
    with pytest.raises(TurnIdConflictError):  # the stored turn keeps the id it was given
        memory.store_turn(turn.model_copy(update={"id": "msg-9"}))


def test_another_user_may_use_the_same_caller_id(memory: AgentMemory, settings: Settings) -> None:
    memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="mine"))
    with AgentMemory(user_id="u2", conversation_id="c2", settings=settings) as other:
        other.store_turn(Turn(id="msg-1", conversation_id="c2", index=0, role="user", content="theirs"))
        assert [t.content for t in other.episodic.get_recent_turns(5)] == ["theirs"]


def test_learn_fact_with_the_design_arguments_returns_the_stored_fact(memory: AgentMemory) -> None:
    claim = "The user prefers Cython over Rust"
    fact = memory.learn_fact(claim, source="user_stated", confidence=0.9, entity_ids=[], source_turn_id=None)
    assert isinstance(fact, Fact) and fact.id and fact.claim == claim
    assert (fact.confidence, fact.source, fact.source_turn_ids) == (0.9, "user_stated", [])
    assert isinstance(fact.created_at, datetime) and fact.valid_at is not None and fact.invalid_at is None
    assert memory.semantic.get_fact(fact.id)["claim"] == claim


def test_learn_fact_in_the_structured_form_supersedes_the_old_fact(memory: AgentMemory) -> None:
    old = memory.learn_fact("Ada lives in Berlin", subject="Ada", predicate="lives_in", object="Berlin")
    new = memory.learn_fact("Ada lives in Lisbon", subject="Ada", predicate="lives_in", object="Lisbon")
    assert new.supersedes == [old.id] and (new.subject, new.predicate, new.object) == ("Ada", "lives_in", "Lisbon")
    assert memory.semantic.get_fact(old.id)["invalid_at"] is not None


def test_learn_fact_takes_the_callers_turn_id_as_its_source(memory: AgentMemory) -> None:
    memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="I moved to Lisbon."))
    fact = memory.learn_fact("The user lives in Lisbon", source_turn_id="msg-1")
    assert fact.source_turn_ids == [ids.turn_id("c1", 0)]  # the stored turn, which DERIVED_FROM links to


def test_upsert_entity_returns_the_stored_entity(memory: AgentMemory) -> None:
    ada = memory.upsert_entity(Entity(name="Ada", type="Person", aliases=["Ada L."]))
    assert isinstance(ada, Entity) and ada.id == ids.entity_id("u1", "Person", "Ada")
    assert (ada.name, ada.type, ada.aliases, ada.mention_count) == ("Ada", "Person", ["Ada L."], 1)
    assert ada.created_at is not None and ada.created_at == ada.updated_at
    again = memory.upsert_entity(Entity(name="Ada L.", type="Person", description="a mathematician"))
    assert (again.id, again.mention_count, again.description) == (ada.id, 2, "a mathematician")


def test_upsert_entity_refuses_an_id_it_would_not_land_on(memory: AgentMemory) -> None:
    with pytest.raises(ValidationError):
        memory.upsert_entity(Entity(id="someone-else", name="Ada", type="Person"))


def test_relate_two_entities_with_a_whitelisted_type(memory: AgentMemory) -> None:
    source_id = memory.upsert_entity(Entity(name="Ada", type="Person")).id
    target_id = memory.upsert_entity(Entity(name="Acme", type="Organization")).id
    memory.relate(source_id, target_id, "WORKS_FOR", {"since": 2021})
    assert [(n["id"], n["via"]) for n in memory.neighbours(source_id)] == [(target_id, ["WORKS_FOR"])]


def test_add_goal_returns_the_stored_goal_and_get_active_goals_lists_it(memory: AgentMemory) -> None:
    goal = memory.add_goal(Goal(description="Ship the ARM wheels", priority=4))
    assert isinstance(goal, Goal) and goal.id and (goal.priority, goal.status, goal.blocked_by) == (4, "active", [])
    assert goal.created_at is not None and goal.completed_at is None
    assert memory.get_active_goals() == [goal]
    assert memory.get_active_goals()[0]["description"] == "Ship the ARM wheels"  # goals still read as dicts


def test_add_goal_refuses_a_goal_that_already_has_an_id(memory: AgentMemory) -> None:
    with pytest.raises(ValidationError):
        memory.add_goal(Goal(id="g1", description="twice"))


def test_record_tool_usage_as_the_design_calls_it(memory: AgentMemory) -> None:
    tool_name, tool_input, tool_output, success, latency_ms = "search", {"q": "cython"}, {"hits": 3}, True, 12.5
    invocation = memory.record_tool_usage(tool_name, tool_input, tool_output, success, latency_ms, turn_id=None)
    assert isinstance(invocation, str)
    [stats] = memory.get_tool_stats("search")
    assert (stats["usage_count"], stats["success_rate"], stats["mean_latency_ms"]) == (1, 1.0, 12.5)


def test_record_tool_usage_takes_the_callers_turn_id(memory: AgentMemory) -> None:
    memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="search for it"))
    memory.record_tool_usage("search", {}, {}, True, 1.0, turn_id="msg-1")
    assert memory.get_tool_stats("search")[0]["usage_count"] == 1


def test_strategies_are_learnt_found_and_reinforced(memory: AgentMemory) -> None:
    sid = memory.learn_strategy("Bisect the failing commits", "debugging", ["git", "pytest"])
    [found] = memory.what_worked_for("debugging")
    assert isinstance(found, StrategyMatch) and found.id == sid and found["tool_sequence"] == ["git", "pytest"]
    ok = True
    stats = memory.reinforce_strategy(sid, ok)
    assert (stats.success_count, stats["failure_count"]) == (1, 0)
    assert [s.id for s in memory.procedural.find_strategies("debugging", top_k=3)] == [sid]


def test_user_context_working_context_and_reflect(memory: AgentMemory) -> None:
    assert memory.get_user_context()["preferences"] == {}
    memory.set_working_context("step", {"n": 1}, ttl_seconds=3600)
    assert memory.get_working_context() == {"step": {"n": 1}}
    outcome = "the user was happy with the answer"
    assert isinstance(memory.reflect(outcome), str)  # the job id


def test_forget_user_then_close(stores, settings: Settings) -> None:
    memory = AgentMemory(user_id="u1", conversation_id="c1", settings=settings)
    memory.store_turn(Turn(id="msg-1", conversation_id="c1", index=0, role="user", content="forget me"))
    counts = memory.forget_user()
    assert counts and memory.episodic.get_recent_turns(5) == []
    memory.close()


def test_working_memory_is_an_object_of_the_current_conversation(memory: AgentMemory) -> None:
    assert isinstance(memory.working, WorkingMemory) and memory.working.conversation_id == "c1"
    memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="hello"))
    memory.working.add_thought("the user greeted me")
    memory.working.set_context("mood", "cheerful")
    assert memory.working.get_context() == {"mood": "cheerful"}
    assert memory.working.thoughts() == ["the user greeted me"]
    assert [t.content for t in memory.working.get_recent_turns(limit=100)] == ["hello"]


def test_working_memory_is_still_callable_with_a_conversation_id(memory: AgentMemory) -> None:
    memory.store_turn(Turn(conversation_id="c2", index=0, role="user", content="in another conversation"))
    assert memory.working() is memory.working
    assert [t["content"] for t in memory.working("c2").recent_turns()] == ["in another conversation"]
    assert memory.recent_turns(conversation_id="c2")[0]["content"] == "in another conversation"
    assert memory.working.get_recent_turns() == []


def test_working_memory_without_a_conversation_asks_for_one(stores, settings: Settings) -> None:
    with AgentMemory(user_id="u1", settings=settings) as memory:
        with pytest.raises(ValidationError, match="no conversation"):
            memory.working.get_recent_turns(limit=100)
        memory.working("c9").add_thought("fine with an id")
        assert memory.working("c9").thoughts() == ["fine with an id"]


def test_episodic_memory_searches_and_lists_turns(memory: AgentMemory) -> None:
    memory.store_turns(
        [
            Turn(conversation_id="c1", index=0, role="user", content="The parser is written in Cython."),
            Turn(conversation_id="c1", index=1, role="user", content="The garden needs watering."),
        ]
    )
    hits = memory.episodic.vector_search("Cython parser", top_k=1)
    assert [type(h) for h in hits] == [TurnHit] and hits[0].index == 0 and hits[0].found_by == ["vector"]
    assert [t.index for t in memory.episodic.get_recent_turns(limit=1)] == [1]


def test_semantic_memory_searches_facts_and_entities_and_walks_the_graph(memory: AgentMemory) -> None:
    ada = memory.upsert_entity(Entity(name="Ada Lovelace", type="Person", description="wrote the first program"))
    acme = memory.upsert_entity(Entity(name="Analytical Engine", type="Concept"))
    memory.relate(ada.id, acme.id, "RELATED_TO")
    fact = memory.learn_fact("Ada Lovelace wrote the first program", entity_ids=[ada.id])
    [found] = memory.semantic.vector_search_facts("who wrote the first program?", top_k=1)
    assert isinstance(found, FactHit) and found.id == fact.id and found["claim"] == fact.claim
    entities = memory.semantic.vector_search_entities("Ada Lovelace", top_k=2)
    assert all(isinstance(e, EntityHit) for e in entities) and entities[0].id == ada.id
    graph = memory.semantic.get_entity_graph(ada.id, depth=1)
    assert isinstance(graph, EntityGraph) and graph.entity.id == ada.id
    assert [n["id"] for n in graph.neighbours] == [acme.id]


def test_bundle_sections_are_typed_items_that_read_as_dicts(memory: AgentMemory) -> None:
    memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="Biscuit is my cat."))
    biscuit = memory.upsert_entity(Entity(name="Biscuit", type="Other", description="the user's cat"))
    memory.learn_fact("Biscuit is the user's cat", entity_ids=[biscuit.id])
    memory.learn_strategy("Ask about the cat by name", "cat", ["none"])
    memory.add_goal(Goal(description="Remember the cat's vet", priority=2))
    bundle = memory.remember("cat")
    expected = {
        "relevant_turns": ("id", "conversation_id", "index", "role", "content", "timestamp", "score", "found_by"),
        "facts": ("id", "claim", "confidence", "source_turn_ids", "valid_at", "invalid_at", "score", "found_by"),
        "entities": ("id", "name", "type", "description", "score", "found_by"),
        "strategies": ("id", "description", "tool_sequence", "success_rate", "score"),
        "active_goals": ("id", "description", "priority", "status"),
    }
    for section, fields in expected.items():
        items = getattr(bundle, section)
        assert items, section
        item = items[0]
        assert all(f in item and item[f] == item.get(f) == getattr(item, f) for f in fields), section
        assert dict(item)["id"] == item.id
    assert "vector" in bundle.facts[0]["found_by"] or "fulltext" in bundle.facts[0]["found_by"]
    assert bundle.facts[0].get("no such key", "default") == "default"
    with pytest.raises(KeyError):
        bundle.facts[0]["no such key"]


def test_the_readme_example_runs_as_written(stores, settings: Settings) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using the runtime", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    constructor = 'AgentMemory(user_id="u1", conversation_id="c1")'
    assert constructor in code
    code = code.replace(constructor, 'AgentMemory(user_id="u1", conversation_id="c1", settings=settings)')
    scope: dict = {"settings": settings}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 — our own README
    assert isinstance(scope["ada"], Entity) and "Lisbon" in scope["prompt_context"]
