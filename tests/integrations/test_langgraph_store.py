"""MemoryStore as LangGraph's store: the same answers as LangGraph's own InMemoryStore, in a compiled graph,
with LangMem's memory tools, and LangMem's memories as facts of the user."""

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import ValidationError
from memory_runtime.integrations.langgraph import MemoryStore

USERS = ("u1", "u2")
LABELS = ("memories", "prefs", "notes")
WORDS = "tea coffee green black lisbon porto python rust cats dogs piano chess".split()
# Each key keeps one index spec, so the reference's vectors of an earlier version never outlive it: InMemoryStore
# keeps those of paths a later put no longer indexes, MemoryStore does not.
INDEX_BY_KEY: dict[str, Any] = {"k0": None, "k1": None, "k2": False, "k3": ["content"], "k4": ["tags[*]"]}


@pytest.fixture
def memory_store(backend_stores) -> Iterator[MemoryStore]:
    store = MemoryStore(backend_stores)
    yield store
    store.close()


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a whole test, as an application has (AsyncStores' pools belong to their loop)."""
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def async_store(backend_settings, backend_stores, runner) -> Iterator[MemoryStore]:
    """A MemoryStore on AsyncStores (the asyncio drivers), opened in `runner`'s loop; the schema is migrated."""
    store = runner.run(MemoryStore.aopen(settings=backend_settings))
    yield store
    runner.run(store.aclose())


class _Reference(InMemoryStore):
    """LangGraph's InMemoryStore, except for one quirk: it lists a namespace that no longer holds items (and one
    a get only looked into) for good, because its dict of namespaces is a defaultdict. MemoryStore lists the
    namespaces that hold items, as LangGraph's PostgresStore does; so this one forgets empty namespaces."""

    def _prune(self) -> None:
        for ns in [ns for ns, items in self._data.items() if not items]:
            del self._data[ns]

    def _handle_list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        self._prune()
        return super()._handle_list_namespaces(op)


def _reference(stores) -> _Reference:
    """The reference store, indexing with the same embedder as the memory."""
    return _Reference(
        index={"dims": stores.settings.embedding_dimensions, "embed": stores.embedder.embed, "fields": ["$"]}
    )


def _namespace(rng: random.Random) -> tuple[str, ...]:
    return (rng.choice(USERS), *rng.sample(LABELS, rng.randint(0, 2)))


def _value(rng: random.Random) -> dict[str, Any]:
    score = rng.randint(0, 9)
    return {
        "content": " ".join(rng.sample(WORDS, 3)),
        "score": rng.choice([score, score, float(score), str(score), score > 4]),  # compared as numbers
        "kind": rng.choice(["a", "b"]),
        "tags": rng.sample(WORDS, 2),
        "nested": {"x": rng.randint(0, 2)},
    }


FILTERS = [
    None,
    {"kind": "a"},
    {"score": {"$gte": 5}},
    {"score": {"$lt": 6, "$ne": 2}},
    {"kind": {"$ne": "b"}, "score": {"$gt": 1}},
    {"nested": {"x": 1}},
    {"score": {"$eq": 3}},
    {"score": {"$lte": 4}, "kind": "b"},
]


def _op(rng: random.Random, known: list[tuple[tuple[str, ...], str]]) -> Op:
    roll = rng.random()
    if roll < 0.35 or not known:
        key = rng.choice(sorted(INDEX_BY_KEY))
        return PutOp(_namespace(rng), key, _value(rng), index=INDEX_BY_KEY[key])
    if roll < 0.45:
        ns, key = rng.choice(known)
        return PutOp(ns, key, _value(rng), index=INDEX_BY_KEY[key])  # an overwrite
    if roll < 0.55:
        ns, key = rng.choice(known)
        return PutOp(ns, key, None)  # a delete
    if roll < 0.65:
        ns, key = rng.choice(known) if rng.random() < 0.8 else (_namespace(rng), "k9")
        return GetOp(ns, key)
    if roll < 0.85:
        ns = rng.choice(known)[0] if rng.random() < 0.7 else _namespace(rng)
        prefix = ns[: rng.randint(0, len(ns))]
        query = " ".join(rng.sample(WORDS, 2)) if rng.random() < 0.4 else None
        return SearchOp(
            prefix, rng.choice(FILTERS), limit=rng.choice([1, 3, 10, 50]), offset=rng.choice([0, 0, 1, 2]), query=query
        )
    conditions = []
    if rng.random() < 0.6:
        ns = _namespace(rng)
        path = tuple("*" if rng.random() < 0.2 else label for label in ns[: rng.randint(1, len(ns))])
        conditions.append(MatchCondition("prefix", path))
    if rng.random() < 0.4:
        conditions.append(MatchCondition("suffix", (rng.choice([*LABELS, "*"]),)))
    return ListNamespacesOp(
        tuple(conditions) or None,
        max_depth=rng.choice([None, None, 1, 2]),
        limit=rng.choice([2, 100]),
        offset=rng.choice([0, 0, 1]),
    )


def _shape(result: Any) -> Any:
    """A result with what both stores must agree on (their timestamps and scores are their own)."""
    if result is None or isinstance(result, tuple):
        return result
    if isinstance(result, list):
        return [_shape(r) for r in result]
    return (result.namespace, result.key, result.value)


def _agree(op: Op, ours: Any, theirs: Any, recall: list[float]) -> None:
    if isinstance(op, SearchOp) and op.query:
        # Ranked by similarity: the same number of items, mostly the same ones (near-equal scores may swap at
        # the cut), each scored alike; ranking all matches gives exactly the same items.
        assert len(ours) == len(theirs), op
        mine, ref = {(r.namespace, r.key) for r in ours}, {(r.namespace, r.key) for r in theirs}
        if ref:
            recall.append(len(mine & ref) / len(ref))
        scores = {(r.namespace, r.key): r.score for r in theirs}
        for r in ours:
            if (r.namespace, r.key) in scores and r.score is not None:
                assert r.score == pytest.approx(scores[(r.namespace, r.key)], abs=1e-4)
    else:
        assert _shape(ours) == _shape(theirs), op


MODES = ["batch", "abatch-on-a-thread", "abatch-on-asyncio-drivers"]


@pytest.mark.parametrize("mode", MODES)
def test_a_random_sequence_of_operations_answers_as_langgraphs_inmemorystore(request, backend_stores, runner, mode):
    """Seeded random batches of puts, overwrites, deletes, gets, filtered and semantic searches and
    list_namespaces with prefixes, suffixes, wildcards and max_depth, on both stores; the same answers."""
    store = request.getfixturevalue("async_store" if mode.endswith("drivers") else "memory_store")
    reference = _reference(backend_stores)

    def run(target, ops: list[Op]) -> list[Any]:
        return target.batch(ops) if mode == "batch" else runner.run(target.abatch(ops))

    recall: list[float] = []
    for seed in range(3):
        rng = random.Random(seed)
        known: list[tuple[tuple[str, ...], str]] = []
        for _ in range(40):
            batch = [_op(rng, known) for _ in range(rng.choice([1, 1, 1, 3]))]
            ours = run(store, batch)
            theirs = run(reference, batch)
            reference._prune()
            for op, mine, ref in zip(batch, ours, theirs, strict=True):
                _agree(op, mine, ref, recall)
            for op in batch:
                if isinstance(op, PutOp) and op.value is not None:
                    known.append((op.namespace, op.key))
        # Every item of every namespace, exactly: nothing lost or left behind by the sequence.
        for ns in reference.list_namespaces(limit=1000):
            [mine] = run(store, [SearchOp(ns, limit=1000)])
            assert _shape(mine) == _shape(reference.search(ns, limit=1000))
    assert recall and sum(recall) / len(recall) >= 0.9, recall


def test_a_search_ranks_the_item_that_says_it_first(memory_store):
    memory_store.put(("u1", "memories"), "a", {"content": "the user drinks green tea every morning"})
    memory_store.put(("u1", "memories"), "b", {"content": "the user plays chess on sundays"})
    memory_store.put(("u1", "memories"), "c", {"content": "the user lives in Lisbon"})
    [best, *_] = memory_store.search(("u1",), query="which tea does the user drink")
    assert best.key == "a" and best.score is not None


def test_an_overwrite_keeps_created_at_and_moves_updated_at(memory_store):
    memory_store.put(("u1", "notes"), "k", {"text": "one"})
    first = memory_store.get(("u1", "notes"), "k")
    memory_store.put(("u1", "notes"), "k", {"text": "two"})
    second = memory_store.get(("u1", "notes"), "k")
    assert second.value == {"text": "two"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at


def test_a_namespace_too_short_to_name_its_user_is_refused_and_nothing_is_written(backend_stores):
    store = MemoryStore(backend_stores, user_position=1)
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("memories", "u1"), "ok", {"x": 1}), PutOp(("memories",), "k", {"x": 1})])
    assert store.list_namespaces() == []


def test_bad_input_is_a_validation_error_and_nothing_is_written(memory_store):
    with pytest.raises(ValidationError, match=r"\$in"):
        memory_store.search(("u1",), filter={"score": {"$in": [1]}})
    with pytest.raises(ValidationError, match="NUL"):
        memory_store.put(("u1",), "k", {"text": "a\x00b"})
    with pytest.raises(ValidationError, match="NUL"):
        memory_store.batch([PutOp(("u1",), "fine", {"x": 1}), PutOp(("u1",), "a\x00b", {"x": 1})])
    with pytest.raises(ValidationError, match="user id"):
        memory_store.put(("u\x01",), "k", {"x": 1})  # the label naming the user must be a valid user id
    assert memory_store.search(("u1",)) == [] and memory_store.list_namespaces() == []


def test_a_store_with_a_user_id_reads_and_writes_only_that_users_items(backend_stores):
    mine, theirs = MemoryStore(backend_stores, user_id="alice"), MemoryStore(backend_stores, user_id="bob")
    mine.put(("memories",), "k", {"content": "alice likes rust"})
    theirs.put(("memories",), "k", {"content": "bob likes python"})
    assert [i.value for i in mine.search(("memories",))] == [{"content": "alice likes rust"}]
    assert [i.value for i in theirs.search((), query="likes")] == [{"content": "bob likes python"}]
    assert mine.list_namespaces() == [("memories",)]


def test_a_content_item_is_a_fact_that_remember_finds_until_it_is_deleted(backend_stores):
    store = MemoryStore(backend_stores, user_position=1)
    store.put(("memories", "u1"), "m1", {"content": "The user prefers oolong tea"})
    store.put(("memories", "u2"), "m1", {"content": "The user prefers espresso"})
    memory = AgentMemory("u1", stores=backend_stores)
    facts = memory.remember("which tea does the user prefer").facts
    assert [f.claim for f in facts] == ["The user prefers oolong tea"]
    store.put(("memories", "u1"), "m1", {"content": "The user prefers jasmine tea"})
    claims = [f.claim for f in memory.remember("which tea does the user prefer").facts]
    assert claims == ["The user prefers jasmine tea"]  # the old fact was invalidated
    store.delete(("memories", "u1"), "m1")
    assert memory.remember("which tea does the user prefer").facts == []


def test_a_fact_two_items_state_stays_until_the_last_of_them_is_deleted(backend_stores):
    store = MemoryStore(backend_stores)
    store.put(("u1", "a"), "k", {"content": "The user owns a piano"})
    store.put(("u1", "b"), "k", {"content": "The user owns a piano"})
    memory = AgentMemory("u1", stores=backend_stores)
    store.delete(("u1", "a"), "k")
    assert [f.claim for f in memory.remember("piano").facts] == ["The user owns a piano"]
    store.delete(("u1", "b"), "k")
    assert memory.remember("piano").facts == []


def test_forget_user_erases_the_users_store_items(backend_stores):
    store = MemoryStore(backend_stores)
    store.put(("u1", "notes"), "k", {"content": "The user has a cat"})
    store.put(("u2", "notes"), "k", {"content": "The user has a dog"})
    AgentMemory("u1", stores=backend_stores).forget_user()
    assert store.list_namespaces() == [("u2", "notes")]
    assert AgentMemory("u1", stores=backend_stores).remember("cat").facts == []


def _write_then_read(state: type, write: Any, read: Any, store: MemoryStore) -> Any:
    """A compiled LangGraph graph START -> write -> read -> END over `store`."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(state)
    builder.add_node("write", write)
    builder.add_node("read", read)
    builder.add_edge(START, "write")
    builder.add_edge("write", "read")
    builder.add_edge("read", END)
    return builder.compile(store=store)


def test_a_compiled_graph_reads_and_writes_the_store_from_its_nodes(memory_store):
    from typing import TypedDict

    from langgraph.config import get_store
    from langgraph.runtime import Runtime

    class State(TypedDict):
        user: str
        said: str
        recalled: list[str]

    def write(state: State, runtime: Runtime) -> dict[str, Any]:
        runtime.store.put((state["user"], "memories"), "last", {"content": state["said"], "score": 5})
        return {}

    def read(state: State) -> dict[str, Any]:
        found = get_store().search((state["user"],), query=state["said"], filter={"score": {"$gte": 3}})
        return {"recalled": [item.value["content"] for item in found]}

    graph = _write_then_read(State, write, read, memory_store)
    out = graph.invoke({"user": "u1", "said": "I moved to Porto", "recalled": []})
    assert out["recalled"] == ["I moved to Porto"]
    out = asyncio.run(graph.ainvoke({"user": "u2", "said": "I play the piano", "recalled": []}))
    assert out["recalled"] == ["I play the piano"]
    assert memory_store.list_namespaces() == [("u1", "memories"), ("u2", "memories")]


def test_langmems_memory_tools_manage_and_search_memories_in_the_store(backend_stores):
    from langmem import create_manage_memory_tool, create_search_memory_tool

    store = MemoryStore(backend_stores, user_position=1)
    config = {"configurable": {"langgraph_user_id": "u1"}}
    manage = create_manage_memory_tool(namespace=("memories", "{langgraph_user_id}"), store=store)
    search = create_search_memory_tool(namespace=("memories", "{langgraph_user_id}"), store=store)
    created = manage.invoke({"content": "The user is allergic to peanuts", "action": "create"}, config)
    asyncio.run(manage.ainvoke({"content": "The user runs marathons", "action": "create"}, config))
    found = search.invoke({"query": "peanut allergy"}, config)
    assert "allergic to peanuts" in str(found) and "marathons" in str(found)
    facts = AgentMemory("u1", stores=backend_stores).remember("is the user allergic to peanuts").facts
    assert "The user is allergic to peanuts" in [f.claim for f in facts]
    memory_id = str(created).split()[-1]
    manage.invoke({"action": "delete", "id": memory_id}, config)
    assert "allergic" not in str(search.invoke({"query": "peanut allergy"}, config))


def test_an_async_graph_uses_the_store_on_the_asyncio_drivers_from_async_and_sync_nodes(async_store, runner):
    from typing import TypedDict

    from langgraph.runtime import Runtime

    class State(TypedDict):
        said: str
        recalled: list[str]

    async def write(state: State, runtime: Runtime) -> dict[str, Any]:
        await runtime.store.aput(("u1", "memories"), "said", {"content": state["said"]})
        return {}

    def read(state: State, runtime: Runtime) -> dict[str, Any]:  # a sync node: LangGraph runs it on a thread
        return {"recalled": [i.value["content"] for i in runtime.store.search(("u1",), query=state["said"])]}

    graph = _write_then_read(State, write, read, async_store)
    out = runner.run(graph.ainvoke({"said": "I keep bees", "recalled": []}))
    assert out["recalled"] == ["I keep bees"]


def test_a_sync_call_on_the_event_loop_of_async_stores_is_refused_with_the_fix(async_store, runner):
    async def call_sync() -> None:
        async_store.put(("u1",), "k", {"x": 1})

    with pytest.raises(RuntimeError, match="a\\* methods"):
        runner.run(call_sync())
    assert runner.run(async_store.asearch(("u1",))) == []
