"""remember() and turn search on the real embedded stores: scoping, time, budgets, inputs, item shape, fusion."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from memory_runtime.api import AgentMemory
from memory_runtime.domain.errors import ValidationError
from memory_runtime.domain.models import Entity, Turn, estimate_tokens, now
from memory_runtime.retrieval import Retriever, Tuning, access
from memory_runtime.retrieval.fusion import Candidate
from memory_runtime.retrieval.sessions import boost, coverage
from tests.conftest import drop_namespace, make_settings, open_migrated

WORDS = (
    "kayak lisbon pottery beagle marathon salsa ramen guitar camping promotion sunrise "
    "vacation museum garden sourdough violin concert recipe hiking tennis"
).split()
FIXTURE_SETTINGS = hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _turns(conversation: str, texts: list[str], start: datetime | None = None) -> list[Turn]:
    start = start or now() - timedelta(hours=1)
    return [
        Turn(
            conversation_id=conversation,
            index=i,
            role="user" if i % 2 == 0 else "assistant",
            content=text,
            timestamp=start + timedelta(seconds=30 * i),
        )
        for i, text in enumerate(texts)
    ]


@pytest.fixture
def stores(backend_stores):
    """remember() on both graph backends: vector and full-text search are where their dialects differ most."""
    return backend_stores


@pytest.fixture
def memory(stores):
    with AgentMemory("alice", stores=stores) as m:
        yield m


@pytest.fixture
def populated(stores):
    """Six users who talk about the same things, each with turns, facts and entities."""
    users = [f"user{i}" for i in range(6)]
    owned: dict[str, dict[str, set[str]]] = {}
    for n, user in enumerate(users):
        with AgentMemory(user, stores=stores) as m:
            texts = [
                f"{user} said: I love {WORDS[(n + j) % len(WORDS)]} and {WORDS[(n + 2 * j) % len(WORDS)]}"
                for j in range(12)
            ]
            result = m.store_turns(_turns(f"{user}-chat", texts))
            entity = m.upsert_entity(Entity(name=f"{WORDS[n]} club", type="Organization")).id
            fact = m.learn_fact(f"{user} enjoys {WORDS[n]} and {WORDS[n + 1]}", entity_ids=[entity]).id
            owned[user] = {"turns": set(result.turn_ids), "facts": {fact}, "entities": {entity}}
    return owned


@FIXTURE_SETTINGS
@given(user_no=st.integers(0, 5), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))
def test_remember_never_returns_another_users_memories(stores, populated, user_no: int, words: list[str]) -> None:
    user = f"user{user_no}"
    with AgentMemory(user, stores=stores) as m:
        bundle = m.remember(" ".join(words), top_k=20)
    assert {t["id"] for t in bundle.relevant_turns} <= populated[user]["turns"]
    assert {f["id"] for f in bundle.facts} <= populated[user]["facts"]
    assert {e["id"] for e in bundle.entities} <= populated[user]["entities"]
    assert all(t["conversation_id"] == f"{user}-chat" for t in bundle.relevant_turns)


def test_as_of_returns_the_fact_valid_at_that_time(memory: AgentMemory) -> None:
    old = memory.learn_fact(
        "Ada works for Acme",
        subject="Ada",
        predicate="works_for",
        object="Acme",
        valid_at=datetime(2020, 1, 1, tzinfo=UTC),
    ).id
    new = memory.learn_fact(
        "Ada works for Initech",
        subject="Ada",
        predicate="works_for",
        object="Initech",
        valid_at=datetime(2022, 1, 1, tzinfo=UTC),
    ).id
    then = memory.remember("Where does Ada work?", as_of=datetime(2021, 6, 1, tzinfo=UTC))
    later = memory.remember("Where does Ada work?", as_of=datetime(2023, 6, 1, tzinfo=UTC))
    assert [f["id"] for f in then.facts] == [old]
    assert [f["id"] for f in later.facts] == [new]


def test_time_window_counts_from_when_turns_were_said_not_stored(memory: AgentMemory) -> None:
    memory.store_turns(_turns("old-chat", ["We talked about the kayak trip to Lisbon"], now() - timedelta(days=40)))
    recent = memory.store_turns(_turns("new-chat", ["The kayak trip to Lisbon is booked"]))
    bundle = memory.remember("kayak trip Lisbon", time_window_hours=24)
    assert [t["id"] for t in bundle.relevant_turns] == recent.turn_ids


def test_as_of_hides_turns_said_after_it(memory: AgentMemory) -> None:
    early = memory.store_turns(_turns("c1", ["I adopted a beagle"], datetime(2023, 1, 1, tzinfo=UTC)))
    memory.store_turns(_turns("c2", ["The beagle learned to sit"], datetime(2023, 6, 1, tzinfo=UTC)))
    bundle = memory.remember("beagle", as_of=datetime(2023, 3, 1, tzinfo=UTC))
    assert [t["id"] for t in bundle.relevant_turns] == early.turn_ids


@pytest.fixture
def rich_bundle(memory: AgentMemory):
    """A bundle with long turns, facts and entities: more than any small budget holds."""
    memory.store_turns(_turns("c", [f"Long story about {w} " + "and more details " * 30 for w in WORDS]))
    for w in WORDS[:8]:
        memory.learn_fact(f"Alice practises {w} every week")
        memory.upsert_entity(Entity(name=f"{w} society", type="Organization", description=f"a club for {w}"))
    return memory.remember("kayak pottery beagle marathon salsa", top_k=20)


@FIXTURE_SETTINGS
@given(budget=st.integers(min_value=-5, max_value=3000))
def test_context_string_never_exceeds_the_token_budget(rich_bundle, budget: int) -> None:
    assert estimate_tokens(rich_bundle.to_context_string(max_tokens=budget)) <= max(budget, 0)


def test_remember_on_empty_memory_returns_an_empty_bundle(memory: AgentMemory) -> None:
    bundle = memory.remember("anything at all?")
    assert bundle.is_empty()
    assert bundle.relevant_turns == [] and bundle.facts == [] and bundle.entities == []


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_a_validation_error(memory: AgentMemory, query: str) -> None:
    with pytest.raises(ValidationError):
        memory.remember(query)


def test_a_100_kb_query_is_truncated_and_answered(memory: AgentMemory) -> None:
    stored = memory.store_turns(_turns("c", ["Planning the marathon in Lisbon next spring"]))
    query = "marathon Lisbon " + "filler words about nothing in particular " * 2600
    assert len(query) > 100_000
    bundle = memory.remember(query)
    assert len(bundle.query) == memory.settings.max_query_chars
    assert [t["id"] for t in bundle.relevant_turns] == stored.turn_ids


def test_every_item_says_how_it_was_found_and_scored(memory: AgentMemory) -> None:
    stored = memory.store_turns(
        _turns("c", ["I adopted a beagle named Biscuit", "Biscuit loves the park", "We went kayaking on Sunday"])
    )
    entity = memory.upsert_entity(Entity(name="Biscuit", type="Other", description="a beagle")).id
    memory.learn_fact("Alice adopted a beagle named Biscuit", entity_ids=[entity], source_turn_id=stored.turn_ids[0])
    bundle = memory.remember("beagle Biscuit")
    assert bundle.relevant_turns and bundle.facts and bundle.entities
    for item in bundle.relevant_turns + bundle.facts + bundle.entities:
        assert item["found_by"] and isinstance(item["score"], float)
    for item in bundle.relevant_turns + bundle.facts:
        assert item["source_turn_ids"]
    assert bundle.facts[0]["source_turn_ids"] == [stored.turn_ids[0]]


@pytest.fixture
def stores384(stack, namespace):
    """Stores with production-size (384-dimensional) vectors, where hashing collisions are rare."""
    settings = make_settings(stack, namespace, embedding_dimensions=384)
    stores = open_migrated(settings)
    try:
        yield stores
    finally:
        stores.close()
        drop_namespace(settings)


def test_hybrid_finds_what_only_one_strategy_finds(stores384) -> None:
    stores = stores384
    with AgentMemory("alice", stores=stores) as m:
        texts = [
            # only full-text: the one turn with the rare word, long enough that its cosine is low
            "We finally fixed the zeolite filter in the old aquarium pump after three weekends of trying "
            "everything, vinegar soaks, new tubing, another outlet and a long call with the manufacturer, "
            "who eventually mailed a replacement gasket and a spare impeller for the next time it jams.",
            # only vector: no query word as such (the index stems photography and photographs apart)
            "photographs photographers",
            "photographer friend",
            *[f"photo {w}" for w in ("booth", "album", "frame", "shoot", "op", "finish")],
            *[f"Small talk about {w} and the weather" for w in WORDS],
        ]
        stored = m.store_turns(_turns("c", texts))
    only_fulltext, only_vector = stored.turn_ids[0], stored.turn_ids[1]
    retriever = Retriever(stores, "alice")
    query, k = "zeolite photography", 4
    fulltext = [t["id"] for t in retriever.search_turns(query, k, mode="fulltext")]
    vector = [t["id"] for t in retriever.search_turns(query, k, mode="vector")]
    hybrid = {t["id"]: t["found_by"] for t in retriever.search_turns(query, k)}
    assert only_fulltext in fulltext and only_fulltext not in vector
    assert only_vector in vector and only_vector not in fulltext
    assert "fulltext" in hybrid[only_fulltext] and "vector" in hybrid[only_vector]


def test_a_user_with_a_tiny_share_of_the_index_still_gets_their_nearest_turns(stores384) -> None:
    """The vector index spans all users; the over-fetch follows the user's share and an under-filled
    answer falls back to the exact per-user scan, so a small user among a large one misses nothing."""
    stores = stores384
    with AgentMemory("big", stores=stores) as m:
        m.store_turns(_turns("b", [f"telescope lens number {i} for the observatory" for i in range(400)]))
    with AgentMemory("small", stores=stores) as m:
        mine = m.store_turns(
            _turns("s", ["my telescope lens cracked", "the observatory tour", "soup recipe", "tennis on Monday"])
        ).turn_ids
    found = Retriever(stores, "small").search_turns("telescope lens observatory", 4, mode="vector")
    assert [t["id"] for t in found][:2] == mine[:2] and {t["id"] for t in found} <= set(mine)


def test_facts_about_the_best_entities_come_through_the_graph(memory: AgentMemory) -> None:
    biscuit = memory.upsert_entity(Entity(name="Biscuit", type="Other", description="the family beagle")).id
    vet = memory.upsert_entity(Entity(name="Dr Okafor", type="Person")).id
    memory.relate(biscuit, vet, "KNOWS")
    about_vet = memory.learn_fact("Dr Okafor works at the harbour clinic", entity_ids=[vet]).id
    memory.learn_fact("The quarterly budget closes in March")
    bundle = memory.remember("Biscuit")
    # No shared word: reached from Biscuit in two hops, so it outranks an unrelated fact the vector search
    # returns as well (with two facts, every fact is among the nearest).
    assert bundle.facts[0]["id"] == about_vet and "graph" in bundle.facts[0]["found_by"]
    assert all("graph" not in f["found_by"] for f in bundle.facts[1:])
    assert [e["id"] for e in bundle.entities][:2] == [biscuit, vet]


def test_session_coverage_is_the_share_of_query_weight_its_turns_match_together() -> None:
    weights = {"kayak": 3.0, "lisbon": 2.0, "sister": 1.0}
    cands = [
        Candidate("1", {"conversation_id": "a", "content": "The kayak trip is booked!"}, score=1.0),
        Candidate("2", {"conversation_id": "a", "content": "Lisbon in May, with my sister."}, score=0.2),
        Candidate("3", {"conversation_id": "b", "content": "My sister says hi."}, score=0.3),
    ]
    assert coverage(cands, weights) == {"a": pytest.approx(1.0), "b": pytest.approx(1 / 6)}
    ranked = boost(cands, weights, 0.4)
    assert [c.id for c in ranked] == ["1", "2", "3"]
    assert [c.score for c in ranked] == pytest.approx([1.4, 0.6, 0.3 + 0.4 / 6])
    assert boost(cands, weights, 0.0) is cands and boost(cands, {}, 0.4) is cands


def test_a_session_covering_the_whole_query_lifts_its_turns(memory: AgentMemory, stores) -> None:
    filler = [f"Small talk about {w} and the weather" for w in WORDS[10:16]]
    trip = ["We finally booked the kayak trip around Lisbon!", *filler, "Going with my sister, she is thrilled."]
    other = [*filler[:3], "My sister adopted a beagle last week.", *filler[3:]]
    memory.store_turns(_turns("trip", trip) + _turns("other", other))
    query = "Which sister joined the kayak trip in Lisbon?"

    def sister_turns(tuning: Tuning) -> dict[str, tuple[int, float]]:
        """conversation → (rank, fused score) of its "sister" turn (before reranking, whose score is another)."""
        turns = Retriever(stores, "alice", tuning, reranker="none").search_turns(query, top_k=10)
        return {t["conversation_id"]: (i, t["score"]) for i, t in enumerate(turns) if "sister" in t["content"]}

    with_sessions, without = sister_turns(Tuning()), sister_turns(Tuning(session_weight=0.0))
    assert with_sessions["trip"][0] < with_sessions["other"][0]
    # the two "sister" turns sit beyond the ±2 context of their session's other matches: only the trip
    # session covers kayak and Lisbon too, so its turn gains more
    gain = {conv: with_sessions[conv][1] - without[conv][1] for conv in ("trip", "other")}
    assert gain["trip"] > 2 * gain["other"] > 0


def test_when_every_query_word_is_frequent_turns_holding_all_of_them_come_first(memory: AgentMemory, stores) -> None:
    """Terms in more turns than the postings cap yield no candidates of their own; the fallback asks the
    index for turns holding every term before any-term matches (which it would have to score and sort)."""
    texts = [f"kayak trip number {i}" for i in range(280)] + [f"lisbon visit number {i}" for i in range(280)]
    texts += [f"kayak along lisbon docks, outing {i}" for i in range(12)]
    stored = memory.store_turns(_turns("c", texts))
    both = set(stored.turn_ids[-12:])
    found = Retriever(stores, "alice").search_turns("kayak lisbon", 10, mode="fulltext")
    assert len(found) == 10 and {t["id"] for t in found} <= both


def test_full_text_candidates_are_the_turns_bm25_rates_best_not_any_that_match(memory: AgentMemory, stores) -> None:
    """More turns match the query than are fetched for exact scoring (k + 25%): the graph statement must keep
    the ones BM25 estimates best: those holding the rare word as well."""
    texts = [f"the river was calm on day {i}, we watched the water for a long while" for i in range(150)]
    texts += [f"kayak on the river, outing {i}" for i in range(3)]
    stored = memory.store_turns(_turns("c", texts))
    kayak = stored.turn_ids[-3:]
    found = Retriever(stores, "alice", reranker="none").search_turns("kayak river", 10, mode="fulltext")
    assert {t["id"] for t in found[:3]} == set(kayak)
    assert len(found) == 10


def test_search_turns_rejects_an_unknown_mode(stores) -> None:
    with pytest.raises(ValidationError):
        Retriever(stores, "alice").search_turns("beagle", mode="semantic")


def test_recalled_turns_get_their_access_statistics_written_behind(memory: AgentMemory, stores) -> None:
    stored = memory.store_turns(_turns("c", ["I adopted a beagle named Biscuit"]))
    memory.remember("beagle")
    memory.remember("beagle")

    def stats() -> dict:
        query = "MATCH (t:Turn {id: $id}) RETURN t.access_count AS n, t.last_accessed AS last"
        return stores.graph.read(query, {"id": stored.turn_ids[0]})[0]

    assert stats()["n"] == 0 and stats()["last"] is None  # reads never write to the graph themselves
    assert access.flush(stores, "alice") >= 1  # what the daily salience_decay run does first
    assert stats()["n"] == 2 and stats()["last"] is not None


def test_forget_user_also_drops_buffered_access_statistics(stores):
    from memory_runtime.memory.erasure import forget_user
    from memory_runtime.retrieval import access

    access.record(stores, "u-forget", {"Turn": ["t1"]})
    assert stores.redis.client.exists(stores.redis.key("access", "last", "u-forget"))
    forget_user(stores, "u-forget")
    assert not any(stores.redis.client.scan_iter(match=stores.redis.key("access", "*", "u-forget")))


def test_flush_all_writes_every_users_buffered_accesses_to_the_graph(stores):
    from memory_runtime.retrieval import access

    for user in ("a:1", "b%2"):  # ids with the characters the key escaping handles
        stores.graph.write("CREATE (:Turn {id: $id, user_id: $u})", {"id": f"t-{user}", "u": user})
        stores.redis.client.set(stores.redis.key("access", "flushed", user), 1, ex=60)  # keep it buffered
        access.record(stores, user, {"Turn": [f"t-{user}"]})
    access.flush_all(stores)
    rows = stores.graph.read("MATCH (t:Turn) RETURN t.user_id AS u, t.access_count AS n ORDER BY u")
    assert rows == [{"u": "a:1", "n": 1}, {"u": "b%2", "n": 1}]


def test_a_query_with_lone_surrogates_is_a_typed_error(stores):
    from memory_runtime.api import AgentMemory
    from memory_runtime.domain.errors import ValidationError

    with AgentMemory("u1", stores=stores) as memory, pytest.raises(ValidationError, match="surrogates"):
        memory.remember("where \ud800 is it")


def test_stale_corpus_statistics_are_answered_at_once_and_refreshed_in_the_background(memory, stores) -> None:
    import json
    import time

    from memory_runtime.retrieval import lexical

    memory.store_turns(_turns("c1", ["kayak trip", "museum visit", "garden party"]))
    assert lexical.corpus_stats(stores, "alice").turns == 3
    memory.store_turns(_turns("c2", ["violin concert", "tennis match"]))
    assert lexical.corpus_stats(stores, "alice").turns == 3  # fresh: the cached count is used
    key = stores.redis.key("bm25stats", "alice")
    aged = json.loads(stores.redis.client.get(key)) | {"at": time.time() - lexical.STATS_FRESH_S - 1}
    stores.redis.client.set(key, json.dumps(aged))
    assert lexical.corpus_stats(stores, "alice").turns == 3  # stale: answered without waiting for a count
    deadline = time.monotonic() + 10
    while stores.redis.client.exists(key + ":refresh") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lexical.corpus_stats(stores, "alice").turns == 5  # ... while the pool refreshed them
    stores.redis.client.delete(key)
    memory.store_turns(_turns("c3", ["sourdough recipe"]))
    assert lexical.corpus_stats(stores, "alice").turns == 6  # nothing cached: counted in line
