"""Concurrent writers: unique constraints hold, nothing is lost or duplicated, nothing deadlocks.

Every test joins its threads with a timeout, so a deadlock fails the test instead of hanging the suite.
"""

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from reliability_helpers import expected_links, followed_by, graph_turn_ids, pg_turn_ids, turns

from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Entity

THREADS = 8
TIMEOUT_S = 120


@pytest.fixture
def stores(backend_stores):
    """Every concurrency test runs on FalkorDB and on the real Neo4j."""
    return backend_stores


def run_concurrently(work: Callable[[int], object], threads: int = THREADS) -> list[object]:
    """Run work(0..threads-1) at once (released by one barrier); results in thread order; fail on a hang."""
    barrier = threading.Barrier(threads)

    def start(i: int) -> object:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(start, i) for i in range(threads)]
        return [f.result(timeout=TIMEOUT_S) for f in futures]


def test_eight_writers_on_one_conversation_neither_lose_nor_duplicate_turns(stores):
    shared = turns("c1", 50, text="shared")  # every thread writes these: same index, same content
    own = {t: turns("c1", 50, start=100 + 50 * t, text=f"thread {t}") for t in range(THREADS)}

    def work(t: int) -> tuple[int, int]:
        rng = random.Random(t)
        batches = [shared[i : i + 10] for i in range(0, 50, 10)] + [own[t][i : i + 10] for i in range(0, 50, 10)]
        rng.shuffle(batches)
        inserted = duplicates = 0
        with AgentMemory("u1", "c1", stores=stores) as memory:
            for batch in batches:
                result = memory.store_turns(batch)
                inserted += result.inserted
                duplicates += result.duplicates
        return inserted, duplicates

    results = run_concurrently(work)
    expected = {t.id for t in shared} | {t.id for ts in own.values() for t in ts}
    assert sum(i for i, _ in results) == len(expected) == 450  # each turn inserted by exactly one writer
    assert sum(d for _, d in results) == THREADS * 100 - 450
    assert sorted(pg_turn_ids(stores, "u1")) == sorted(expected)
    assert sorted(graph_turn_ids(stores, "u1")) == sorted(expected)
    indexes = {"c1": set(range(50)) | set(range(100, 100 + 50 * THREADS))}
    assert followed_by(stores, "u1") == expected_links(indexes)
    recent = AgentMemory("u1", "c1", stores=stores).recent_turns()
    assert [t["index"] for t in recent] == list(range(100 + 50 * THREADS - len(recent), 100 + 50 * THREADS))


def test_eight_users_writing_at_once_keep_their_turns_apart(stores):
    def work(t: int) -> None:
        with AgentMemory(f"user{t}", f"conv{t}", stores=stores) as memory:
            for start in range(0, 100, 20):
                memory.store_turns(turns(f"conv{t}", 20, start=start, text=f"user {t} says"))

    run_concurrently(work)
    for t in range(THREADS):
        expected = sorted(x.id for x in turns(f"conv{t}", 100))
        assert sorted(pg_turn_ids(stores, f"user{t}")) == expected
        assert sorted(graph_turn_ids(stores, f"user{t}")) == expected
        rows = stores.pg.fetch(
            "SELECT DISTINCT user_id FROM conversation_logs WHERE conversation_id = %s", (f"conv{t}",)
        )
        assert rows == [{"user_id": f"user{t}"}]


def test_concurrent_upserts_of_one_entity_create_one_node(stores):
    def work(t: int) -> list[str]:
        with AgentMemory("u1", stores=stores) as memory:
            spellings = ["Ada Lovelace", "ada lovelace", "ADA  LOVELACE", " Ada Lovelace "]
            return [
                memory.upsert_entity(Entity(name=spellings[k % 4], type="Person", aliases=[f"alias {t}"])).id
                for k in range(5)
            ]

    ids = {i for batch in run_concurrently(work) for i in batch}
    assert len(ids) == 1
    rows = stores.graph.read(
        "MATCH (e:Entity) WHERE e.user_id = 'u1' RETURN e.id AS id, e.mention_count AS n, e.aliases AS aliases"
    )
    assert len(rows) == 1 and rows[0]["id"] in ids
    assert rows[0]["n"] == THREADS * 5
    assert sorted(rows[0]["aliases"]) == sorted(f"alias {t}" for t in range(THREADS))


def test_concurrent_learn_fact_of_one_claim_creates_one_fact(stores):
    with AgentMemory("u1", stores=stores) as memory:
        ada = memory.upsert_entity(Entity(name="Ada", type="Person")).id

    def work(t: int) -> list[str]:
        with AgentMemory("u1", stores=stores) as memory:
            return [
                memory.learn_fact("Ada works at Acme", confidence=0.5 + t / 100, entity_ids=[ada]).id for _ in range(3)
            ]

    ids = {i for batch in run_concurrently(work) for i in batch}
    assert len(ids) == 1
    rows = stores.graph.read(
        "MATCH (f:Fact) WHERE f.user_id = 'u1' RETURN f.id AS id, f.confidence AS c, f.reinforcements AS r, "
        "size([(f)-[:ABOUT]->(e) | e]) AS about"
    )
    assert len(rows) == 1
    assert rows[0]["r"] == THREADS * 3 - 1 and rows[0]["about"] == 1
    assert abs(rows[0]["c"] - (0.5 + (THREADS - 1) / 100)) < 1e-6  # the max confidence wins


def test_concurrent_tool_usage_counts_every_call(stores):
    def work(t: int) -> None:
        with AgentMemory("u1", stores=stores) as memory:
            for k in range(10):
                memory.record_tool_usage("search", {"q": k}, {"hits": t}, k % 2 == 0, 10.0)

    run_concurrently(work)
    [stats] = AgentMemory("u1", stores=stores).get_tool_stats("search")
    assert stats["usage_count"] == THREADS * 10 and stats["success_count"] == THREADS * 5
    rows = stores.pg.fetch("SELECT count(*) AS n FROM tool_invocations WHERE user_id = 'u1'")
    assert rows[0]["n"] == THREADS * 10
