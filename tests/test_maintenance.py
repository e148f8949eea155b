"""Vector index maintenance: on the real embedded FalkorDB orphaned vectors are measured and rebuilt away; on
Neo4j (and FalkorDB alike) compaction rebuilds what fragments."""

from datetime import timedelta

from memory_runtime.api import AgentMemory
from memory_runtime.batch import reindex as maintenance
from memory_runtime.domain.models import Entity, Turn, now
from tests.test_cli import _env_for, run

WORDS = "kayak lisbon pottery beagle marathon salsa ramen guitar camping promotion sunrise museum".split()
KNN = "CALL db.idx.vector.queryNodes('{}', 'embedding', $k, vecf32($v)) YIELD node RETURN count(node) AS n"


def _fill(memory: AgentMemory, turns: int = 240, facts: int = 60) -> None:
    start = now() - timedelta(days=1)
    memory.store_turns(
        [
            Turn(
                conversation_id=f"c{i // 40}", index=i % 40, role="user", timestamp=start + timedelta(minutes=i),
                content=f"{WORDS[i % 12]} and {WORDS[(i * 5) % 12]} on day {i}",
            )
            for i in range(turns)
        ]
    )  # fmt: skip
    for i in range(facts):
        memory.learn_fact(f"alice likes {WORDS[i % 12]} number {i}")
        memory.upsert_entity(Entity(name=f"{WORDS[i % 12]} club {i}", type="Organization"))


def _update_every_node(stores, times: int = 3) -> None:
    """What salience decay and access statistics do to each node, a few days running."""
    for day in range(times):
        for label in ("Turn", "Fact"):
            stores.graph.write(f"MATCH (n:{label}) SET n.decayed_at = $day", {"day": day})


def test_updated_nodes_orphan_vectors_and_a_repair_restores_full_nearest_neighbour_results(stores):
    with AgentMemory("alice", stores=stores) as memory:
        _fill(memory)
    vec = stores.embedder.embed(["kayak lisbon"])[0]
    health = {i.label: i for i in maintenance.check_vector_indexes(stores)}
    assert health["Turn"].vectors == 240 and health["Turn"].health == 1.0
    assert health["Fact"].vectors == 60 and health["Fact"].health == 1.0  # learning a fact updates nothing after
    assert health["Entity"].vectors == 60 and health["Entity"].health == 1.0  # a new entity's vector: set once
    assert maintenance.repair_vector_indexes(stores)[0].rebuilt is False  # a sound index is left alone

    _update_every_node(stores)
    health = {i.label: i for i in maintenance.check_vector_indexes(stores)}
    assert health["Turn"].health < 0.9 and health["Fact"].health < 0.9
    # the symptom: fewer than k nearest turns and facts come back, though more than k are stored
    assert stores.graph.read(KNN.format("Turn"), {"k": 50, "v": vec})[0]["n"] < 50
    assert stores.graph.read(KNN.format("Fact"), {"k": 50, "v": vec})[0]["n"] < 50

    repaired = {i.label: i for i in maintenance.repair_vector_indexes(stores)}
    assert repaired["Turn"].rebuilt and repaired["Turn"].health_after == 1.0
    assert repaired["Fact"].rebuilt and repaired["Fact"].health_after == 1.0
    assert not repaired["Goal"].rebuilt and repaired["Goal"].vectors == 0
    assert stores.graph.read(KNN.format("Turn"), {"k": 50, "v": vec})[0]["n"] == 50
    assert stores.graph.read(KNN.format("Fact"), {"k": 50, "v": vec})[0]["n"] == 50
    with AgentMemory("alice", stores=stores) as memory:  # the rebuilt indexes serve writes and reads as before
        memory.store_turn(Turn(conversation_id="new", index=0, role="user", content="a brand new kayak story"))
        assert memory.remember("brand new kayak story").relevant_turns[0]["conversation_id"] == "new"


def test_reindex_command_checks_then_repairs(settings, stores):
    with AgentMemory("alice", stores=stores) as memory:
        _fill(memory, turns=120, facts=0)
    _update_every_node(stores)
    env = _env_for(settings)
    check = run("reindex", "--check", env=env)
    assert check.returncode == 1 and "Turn" in check.stderr and "agent-memory reindex" in check.stderr
    repair = run("reindex", env=env)
    assert repair.returncode == 0, repair.stderr
    assert "rebuilding the vector index on :Turn" in repair.stderr
    assert run("reindex", "--check", env=env).returncode == 0


def test_compact_rebuilds_only_large_neo4j_indexes_and_recall_is_unchanged(backend_stores):
    start = now() - timedelta(days=1)
    turns = [
        Turn(conversation_id=f"c{i // 100}", index=i % 100, role="user", timestamp=start + timedelta(seconds=i),
             content=f"{WORDS[i % 12]} and {WORDS[(i * 7) % 12]} story {i}")
        for i in range(maintenance.COMPACT_MIN_VECTORS)
    ]  # fmt: skip
    with AgentMemory("alice", stores=backend_stores) as memory:
        memory.store_turns(turns)
        memory.learn_fact("alice paddles a kayak")  # an index far below the size worth compacting
        before = [t.id for t in memory.remember("kayak story 7", top_k=5).relevant_turns]
        report = {i.label: i for i in maintenance.repair_vector_indexes(backend_stores, compact=True)}
        neo4j = backend_stores.graph.backend == "neo4j"
        assert report["Turn"].rebuilt is neo4j and report["Turn"].current == 1.0
        assert not report["Fact"].rebuilt and not report["Goal"].rebuilt
        after = [t.id for t in memory.remember("kayak story 7", top_k=5).relevant_turns]
        # the best answer stays; an HNSW graph built afresh may break ties among equally near turns otherwise
        assert after[0] == before[0] and len(set(after) & set(before)) >= 3
