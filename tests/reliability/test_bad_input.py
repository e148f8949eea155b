"""Bad input: every value is either stored faithfully (and round-trips exactly) or rejected with a typed error.

"Typed" means a memory_runtime.domain.errors.AgentMemoryError, or a pydantic ValidationError raised while the
caller builds a model (Turn, Entity, Goal ...) — both before anything is written. Never a crash with a
RecursionError, OverflowError, UnicodeEncodeError or a driver exception, and never a store left
half-written.
"""

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from reliability_helpers import graph_turn_ids, open_stores, pg_turn_ids

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import AgentMemoryError, InvalidEmbedding, ValidationError
from memory_runtime.domain.models import Entity, Goal, Turn
from memory_runtime.stores.bundle import Stores

DIMS = 64
TYPED = (AgentMemoryError, pydantic.ValidationError)
HYPOTHESIS = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SPECIALS = "\x00\x01\x02\x1b\x7f\x85\u200b\u200d\u202e\u2028\u2029\ufeff\ud800\udfff\\\"'`{}$@|*:\n\r\t "
# Any code point, with lone surrogates, control and format characters and query metacharacters over-weighted.
CHAR = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.characters(categories=["Cc", "Cf"]),
    st.sampled_from(SPECIALS),
)
PIECE = st.one_of(
    CHAR, st.sampled_from(["👋🏽", "👩‍👩‍👧", "שלום", "مرحبا", "中文", "e\u0301", "MATCH (n)", "' OR 1=1 --"])
)
TEXT = st.lists(PIECE, max_size=20).map("".join)


def storable_text(value: str) -> bool:
    """What the runtime promises to store: non-blank, no NUL, no lone surrogates."""
    return bool(value.strip()) and "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def storable_json(value) -> bool:
    """JSON whose strings (keys and values) are all storable in jsonb."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return all(storable_json(k) and storable_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable_json(v) for v in value)
    return True


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


@pytest.fixture
def memory(stores):
    with AgentMemory("u1", "c1", stores=stores) as m:
        yield m


def with_settings(stores: Stores, **update) -> Stores:
    """The same connections with some settings changed (e.g. a raised content limit)."""
    return Stores(stores.settings.model_copy(update=update), stores.pg, stores.graph, stores.redis, stores.embedder)


def stored_turn(stores: Stores, turn_id: str) -> tuple[dict, dict]:
    pg = stores.pg.fetch("SELECT * FROM conversation_logs WHERE id = %s", (turn_id,))
    graph = stores.graph.read("MATCH (t:Turn {id: $id}) RETURN t.content AS content, t.index AS index", {"id": turn_id})
    assert len(pg) == 1 and len(graph) == 1
    return pg[0], graph[0]


# ---- content and metadata ----------------------------------------------------------------------------


def test_turn_content_of_any_unicode_is_stored_exactly_or_rejected(memory, stores):
    index = itertools.count()

    @HYPOTHESIS
    @given(content=TEXT)
    def check(content: str) -> None:
        i = next(index)
        try:
            turn = Turn(conversation_id="c1", index=i, role="user", content=content)
            memory.store_turn(turn)
        except TYPED:
            assert not storable_text(content)
            assert not stores.pg.fetch("SELECT 1 FROM conversation_logs WHERE turn_index = %s", (i,))
            return
        assert storable_text(content)
        pg, graph = stored_turn(stores, turn.id)
        assert pg["content"] == content and graph["content"] == content
        assert memory.recent_turns(1)[0]["content"] == content

    check()


def test_metadata_of_any_json_round_trips_exactly_or_is_rejected(memory, stores):
    index = itertools.count()
    leaves = (
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False) | TEXT
    )  # fmt: skip
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4))

    @HYPOTHESIS
    @given(metadata=st.dictionaries(TEXT, values, max_size=4))
    def check(metadata: dict) -> None:
        i = next(index)
        try:
            turn = Turn(conversation_id="c1", index=i, role="user", content="metadata test", metadata=metadata)
            memory.store_turn(turn)
        except TYPED:
            assert not storable_json(metadata)
            return
        assert storable_json(metadata)
        pg, _ = stored_turn(stores, turn.id)
        assert same_json(pg["metadata"], metadata)

    check()


def same_json(stored: object, given: object) -> bool:
    """Equal as JSON values. jsonb keeps numbers as decimals, so an integral float comes back as an int
    (1.3340512329608355e+17 as 133405123296083550): a float is compared as the float it denotes; ints,
    strings, booleans and structure must match exactly."""
    if isinstance(given, float) and not isinstance(stored, bool) and isinstance(stored, int | float):
        return float(stored) == given
    if isinstance(given, dict) and isinstance(stored, dict):
        return given.keys() == stored.keys() and all(same_json(stored[k], v) for k, v in given.items())
    if isinstance(given, list) and isinstance(stored, list):
        return len(given) == len(stored) and all(same_json(a, b) for a, b in zip(stored, given, strict=True))
    return type(stored) is type(given) and stored == given


def test_an_integral_float_beyond_2_53_round_trips_as_the_same_json_number(memory, stores):
    turn = Turn(conversation_id="c1", index=0, role="user", content="x", metadata={"n": 1.3340512329608355e17})
    memory.store_turn(turn)
    pg, _ = stored_turn(stores, turn.id)
    assert pg["metadata"] == {"n": 133405123296083550}  # what jsonb gives back: the same decimal number
    assert same_json(pg["metadata"], turn.metadata)
    assert not same_json({"n": "1"}, {"n": 1}) and not same_json({"n": 2}, {"n": 1.0})


def test_non_json_metadata_is_a_typed_error(memory, stores):
    for bad in ({"x": float("nan")}, {"x": float("inf")}, {"when": datetime.now(UTC)}, {"x": {1, 2}}):
        with pytest.raises(ValidationError, match="metadata"):
            memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="x", metadata=bad))
    assert pg_turn_ids(stores, "u1") == []


def test_a_1mb_turn_over_the_default_limit_is_rejected_and_nothing_is_written(memory, stores):
    content = "zebra quasar " + "lorem ipsum dolor sit amet " * 40_000
    assert len(content) > 1_000_000 > stores.settings.max_content_chars
    with pytest.raises(ValidationError, match="MEMORY_MAX_CONTENT_CHARS"):
        memory.store_turns([Turn(conversation_id="c1", index=0, role="user", content="fine"),
                            Turn(conversation_id="c1", index=1, role="user", content=content)])  # fmt: skip
    assert pg_turn_ids(stores, "u1") == [] and graph_turn_ids(stores, "u1") == []


def test_a_1mb_turn_within_a_raised_limit_round_trips_through_every_store_and_remember(stores):
    content = "zebra quasar nebula\n" + "lorem ipsum dolor sit amet, 👋 «ünïcödé» " * 26_000
    assert len(content) > 1_000_000
    big = with_settings(stores, max_content_chars=2_000_000)
    with AgentMemory("u1", "c1", stores=big) as memory:
        turn = Turn(conversation_id="c1", index=0, role="user", content=content)
        assert memory.store_turn(turn).inserted == 1
        pg, graph = stored_turn(stores, turn.id)
        assert pg["content"] == content and graph["content"] == content
        assert memory.recent_turns()[0]["content"] == content
        hits = memory.remember("zebra quasar nebula").relevant_turns
        assert hits and hits[0]["id"] == turn.id and hits[0]["content"] == content


def test_nested_metadata_within_limits_round_trips(memory, stores):
    metadata = {"tree": nested(200)}
    turn = Turn(conversation_id="c1", index=0, role="user", content="deep", metadata=metadata)
    memory.store_turn(turn)
    assert stored_turn(stores, turn.id)[0]["metadata"] == metadata


def test_too_deeply_nested_values_are_a_validation_error_not_a_recursion_crash(memory, stores):
    deep = nested(5000)
    with pytest.raises(ValidationError):
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="deep", metadata={"x": deep}))
    with pytest.raises(ValidationError):
        memory.upsert_entity(Entity(name="Deep", attributes={"x": deep}))
    with pytest.raises(ValidationError):
        memory.record_tool_usage("search", {"x": deep}, None, True, 1.0)
    with pytest.raises(ValidationError):
        memory.set_preference("tree", deep)
    with pytest.raises(ValidationError):
        memory.set_working_context("tree", deep)
    with pytest.raises(ValidationError):
        memory.reflect("deep outcome", True, tree=deep)
    assert pg_turn_ids(stores, "u1") == []
    assert stores.graph.read("MATCH (n) WHERE n.user_id = 'u1' RETURN count(n) AS n")[0]["n"] == 0
    assert memory.get_working_context() == {}


# ---- vectors, indexes, timestamps --------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_vectors_are_rejected_by_the_model(value):
    with pytest.raises(pydantic.ValidationError, match="NaN or infinite"):
        Turn(conversation_id="c1", index=0, role="user", content="x", embedding=[value] * DIMS)


@pytest.mark.parametrize(
    ("vector", "match"),
    [([0.1] * 3, "dimensions"), ([0.1] * (DIMS + 1), "dimensions"), ([1e39] * DIMS, "float32")],
)
def test_wrong_dimension_or_out_of_float32_vectors_are_invalid_embeddings(memory, stores, vector, match):
    with pytest.raises(InvalidEmbedding, match=match):
        memory.store_turn(Turn(conversation_id="c1", index=0, role="user", content="x", embedding=vector))
    assert pg_turn_ids(stores, "u1") == []


def test_a_zero_vector_is_stored_and_remember_still_answers(memory, stores):
    turn = Turn(conversation_id="c1", index=0, role="user", content="all zero vector", embedding=[0.0] * DIMS)
    memory.store_turn(turn)
    assert [float(x) for x in stored_turn(stores, turn.id)[0]["embedding"]] == [0.0] * DIMS
    assert turn.id in [t["id"] for t in memory.remember("zero vector").relevant_turns]


@pytest.mark.parametrize("index", [-1, -(2**40), 2**31, 2**63])
def test_negative_or_huge_indexes_are_rejected_by_the_model(index):
    with pytest.raises(pydantic.ValidationError, match="index"):
        Turn(conversation_id="c1", index=index, role="user", content="x")


def test_the_largest_index_is_stored_and_linked(memory, stores):
    last = 2**31 - 1
    memory.store_turns(
        [Turn(conversation_id="c1", index=i, role="user", content=f"edge {i}") for i in (last - 1, last)]
    )
    pg = stores.pg.fetch("SELECT turn_index FROM conversation_logs ORDER BY turn_index")
    assert [r["turn_index"] for r in pg] == [last - 1, last]
    links = stores.graph.read("MATCH (a:Turn)-[:FOLLOWED_BY]->(b:Turn) RETURN a.index AS a, b.index AS b")
    assert links == [{"a": last - 1, "b": last}]


def test_remember_finds_a_turn_at_the_largest_index(memory):
    memory.store_turn(Turn(conversation_id="c1", index=2**31 - 1, role="user", content="edge of the index range"))
    assert memory.remember("edge of the index range").relevant_turns


EXTREME_TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1),  # naive = UTC
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC),
]


def test_timestamps_from_year_1_to_9999_are_stored_faithfully_and_recalled(memory, stores):
    for i, when in enumerate(EXTREME_TIMES):
        memory.store_turn(Turn(conversation_id="c1", index=i, role="user", content=f"epoch edge {i}", timestamp=when))
    rows = stores.pg.fetch("SELECT turn_index, created_at FROM conversation_logs ORDER BY turn_index")
    assert [r["created_at"] for r in rows] == [w.replace(tzinfo=UTC) for w in EXTREME_TIMES]  # microseconds kept
    graph = stores.graph.read("MATCH (t:Turn) RETURN t.index AS i, t.timestamp AS ms ORDER BY i")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [g["ms"] for g in graph] == [
        (w.replace(tzinfo=UTC) - epoch) // timedelta(milliseconds=1) for w in EXTREME_TIMES
    ]
    recalled = {t["content"]: t["timestamp"] for t in memory.remember("epoch edge", top_k=10).relevant_turns}
    assert len(recalled) == len(EXTREME_TIMES)
    for i, when in enumerate(EXTREME_TIMES):  # the graph keeps milliseconds
        assert abs(recalled[f"epoch edge {i}"] - when.replace(tzinfo=UTC)) < timedelta(milliseconds=1)
    assert memory.remember("epoch edge", as_of=datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)).relevant_turns


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_times_outside_the_utc_range_are_a_typed_error(memory, when):
    with pytest.raises(pydantic.ValidationError, match="supported range"):
        Turn(conversation_id="c1", index=0, role="user", content="x", timestamp=when)
    with pytest.raises(TYPED):
        memory.learn_fact("a fact at the edge of time", valid_at=when)
    with pytest.raises(pydantic.ValidationError, match="supported range"):
        Goal(description="g", deadline=when)


def test_facts_at_year_1_and_9999_round_trip(memory):
    old = memory.learn_fact("the oldest fact", valid_at=datetime(1, 1, 1, tzinfo=UTC)).id
    late = memory.learn_fact("the latest fact", valid_at=datetime(9999, 12, 31, tzinfo=UTC)).id
    assert memory.semantic.get_fact(old)["valid_at"] == datetime(1, 1, 1, tzinfo=UTC)
    assert memory.semantic.get_fact(late)["valid_at"] == datetime(9999, 12, 31, tzinfo=UTC)
    assert [f["id"] for f in memory.semantic.facts_as_of(datetime(1, 6, 1, tzinfo=UTC))] == [old]


@pytest.mark.parametrize("hours", [float("inf"), float("nan"), 1e12])
def test_remember_rejects_an_unusable_time_window_with_a_typed_error(memory, hours):
    with pytest.raises(ValidationError):
        memory.remember("anything", time_window_hours=hours)


# ---- every string parameter --------------------------------------------------------------------------

HOSTILE = [
    "a\x00b", "a\ud800b", "\udfff", "a\x01b", "\x01", "\x1b[31m\x7f\x85", "\u202eevil\u202c", "e\u0301\u200d",
    "👩‍👩‍👧 x", "line\nbreak\r\n\u2028", "back\\slash\\", '\\"', "'}) MATCH (n) DETACH DELETE n //",
    "`) RETURN 1 //", "@user_id:{*} | *", "x" * 300, "   ", "",
]  # fmt: skip


def hostile_calls(memory: AgentMemory, entity: str, other: str) -> dict[str, object]:
    """Every public call that takes a string, each as a function of that string."""
    return {
        "turn.content": lambda v: memory.store_turn(Turn(conversation_id="c1", index=hash(v) % 10**6, role="user",
                                                         content=v)),
        "turn.conversation_id": lambda v: memory.store_turn(Turn(conversation_id=v, index=0, role="user", content="x")),
        "turn.metadata_key": lambda v: memory.store_turn(Turn(conversation_id="c1", index=10**6 + hash(v) % 10**6,
                                                              role="user", content="m", metadata={v: v})),
        "user_id": lambda v: AgentMemory(v, stores=memory.stores),
        "entity.name": lambda v: memory.upsert_entity(Entity(name=v, type="Person")),
        "entity.type": lambda v: memory.upsert_entity(Entity(name="n", type=v)),
        "entity.alias": lambda v: memory.upsert_entity(Entity(name="aliased", aliases=[v])),
        "entity.description": lambda v: memory.upsert_entity(Entity(name="described", description=v)),
        "entity.attributes": lambda v: memory.upsert_entity(Entity(name="attributed", attributes={v: v})),
        "relate.type": lambda v: memory.relate(entity, other, v),
        "relate.source_id": lambda v: memory.relate(v, other, "KNOWS"),
        "relate.property": lambda v: memory.relate(entity, other, "KNOWS", {"note": v}),
        "relate.property_key": lambda v: memory.relate(entity, other, "KNOWS", {v: 1}),
        "neighbours.entity_id": lambda v: memory.neighbours(v),
        "find_entities.name": lambda v: memory.semantic.find_entities(v),
        "fact.claim": lambda v: memory.learn_fact(v),
        "fact.subject": lambda v: memory.learn_fact("claim with triple", subject=v, predicate="likes", object=v),
        "fact.extractor_version": lambda v: memory.learn_fact("versioned claim", extractor_version=v),
        "fact.entity_ids": lambda v: memory.learn_fact("claim about", entity_ids=[v]),
        "fact.source_turn_id": lambda v: memory.learn_fact("sourced claim", source_turn_id=v),
        "tool.name": lambda v: memory.record_tool_usage(v, {}, None, True, 1.0),
        "tool.input": lambda v: memory.record_tool_usage("t", {v: [v]}, v, True, 1.0),
        "tool.error": lambda v: memory.procedural.record_tool_usage("t", {}, None, False, 1.0, error=v),
        "tool.turn_id": lambda v: memory.record_tool_usage("t", {}, None, True, 1.0, turn_id=v),
        "tool_stats.name": lambda v: memory.get_tool_stats(v),
        "strategy.description": lambda v: memory.learn_strategy(v, "task"),
        "strategy.task_type": lambda v: memory.learn_strategy("do it", v, [v]),
        "what_worked_for.task": lambda v: memory.what_worked_for(v),
        "reinforce_strategy.id": lambda v: memory.reinforce_strategy(v, True),
        "goal.description": lambda v: memory.add_goal(Goal(description=v)),
        "goal.parent_id": lambda v: memory.add_goal(Goal(description="child", parent_id=v)),
        "goal.status_id": lambda v: memory.update_goal_status(v, "completed"),
        "preference.key": lambda v: memory.set_preference(v, 1),
        "preference.value": lambda v: memory.set_preference("pref", {v: v}),
        "expertise.topic": lambda v: memory.profile.add_expertise(v, "expert"),
        "interest.topic": lambda v: memory.profile.add_interest(v),
        "working_context.key": lambda v: memory.set_working_context(v, v),
        "reflect.outcome": lambda v: memory.reflect(v, True, note=v),
        "remember.query": lambda v: memory.remember(v),
    }  # fmt: skip


def test_every_string_parameter_takes_hostile_text_without_crashing_anything(settings, graph_server):
    """On a private graph server: a value that crashed FalkorDB (U+0001 in a unique id) must not get through."""
    own = graph_server.configure(settings)
    with open_stores(own) as stores, AgentMemory("u1", "c1", stores=stores) as memory:
        entity = memory.upsert_entity(Entity(name="Ada", type="Person")).id
        other = memory.upsert_entity(Entity(name="Acme", type="Organization")).id
        crashes = []
        for name, call in hostile_calls(memory, entity, other).items():
            for value in HOSTILE:
                try:
                    call(value)
                except TYPED:
                    pass
                except Exception as exc:  # noqa: BLE001 — collected and reported together
                    crashes.append(f"{name}({value!r}): {type(exc).__name__}: {exc}")
        assert not crashes, "\n".join(crashes)
        assert graph_server.running(), "the graph server crashed"
        assert stores.graph.read("RETURN 1 AS one") == [{"one": 1}]
        assert json.loads(json.dumps(memory.get_user_context(), default=str))  # every store still answers
