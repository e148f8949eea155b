"""salience_decay and archived_memories: exact arithmetic, Postgres mirror, idempotent re-runs."""

from datetime import timedelta

import pytest
from dagster_helpers import DAY, DAY_START, make_resource, materialize, metadata, store_conversation

from memory_assets.lifecycle import archived_memories, salience_decay
from memory_runtime.domain.models import Entity, to_ms
from memory_runtime.memory.semantic import SemanticMemory

AS_OF = DAY_START + timedelta(days=1)  # DAY's window ends at the next midnight
DAY_MS = 86_400_000


def _set(stores, node_id: str, **props: object) -> None:
    stores.graph.write("MATCH (n {id: $id}) SET n += $props", {"id": node_id, "props": props})


def _salience(stores, node_id: str) -> float:
    return stores.graph.read("MATCH (n {id: $id}) RETURN n.salience AS s", {"id": node_id})[0]["s"]


def test_salience_decays_by_days_since_last_access_and_mirrors_turns_to_postgres(stores, memory, instance):
    old, touched, fresh = store_conversation(stores, "u1", "c1", DAY_START, ["old", "touched", "fresh"])
    entity = SemanticMemory(stores, "u1").upsert_entity(Entity(name="Ada", type="Person", salience=0.8)).id
    _set(stores, old, created_at=to_ms(AS_OF) - 10 * DAY_MS)
    _set(stores, touched, created_at=to_ms(AS_OF) - 10 * DAY_MS, last_accessed=to_ms(AS_OF) - 2 * DAY_MS)
    _set(stores, fresh, created_at=to_ms(AS_OF) + DAY_MS)  # learnt after the window: untouched
    _set(stores, entity, created_at=to_ms(AS_OF) - DAY_MS)

    first = materialize([salience_decay], memory, instance)

    keep = 1 - memory.settings.decay_rate
    assert _salience(stores, old) == pytest.approx(0.5 * keep**10)
    assert _salience(stores, touched) == pytest.approx(0.5 * keep**2)
    assert _salience(stores, fresh) == pytest.approx(0.5)
    assert _salience(stores, entity) == pytest.approx(0.8 * keep)
    mirrored = {
        r["id"]: r["salience"] for r in stores.pg.fetch("SELECT id::text AS id, salience FROM conversation_logs")
    }
    assert mirrored[old] == pytest.approx(0.5 * keep**10, rel=1e-6)
    assert mirrored[touched] == pytest.approx(0.5 * keep**2, rel=1e-6)
    meta = metadata(first, "salience_decay")
    assert (meta["turns_decayed"], meta["entities_decayed"], meta["postgres_turns_updated"]) == (3, 1, 2)

    again = metadata(materialize([salience_decay], memory, instance), "salience_decay")
    assert again["turns_decayed"] == again["entities_decayed"] == again["postgres_turns_updated"] == 0
    assert _salience(stores, old) == pytest.approx(0.5 * keep**10)

    materialize([salience_decay], memory, instance, partition_key="2024-03-02")  # one more day
    assert _salience(stores, old) == pytest.approx(0.5 * keep**11)
    assert _salience(stores, touched) == pytest.approx(0.5 * keep**3)


def test_archival_moves_old_turns_out_of_the_hot_tier_and_deletes_orphan_entities(stores, settings, instance):
    ids = store_conversation(stores, "u1", "c1", DAY_START, ["old one", "old two"])
    recent = store_conversation(stores, "u1", "c2", DAY_START + timedelta(days=15), ["recent"])
    sem = SemanticMemory(stores, "u1")
    orphan = sem.upsert_entity(Entity(name="Nobody", type="Person", salience=0.1)).id
    kept_high = sem.upsert_entity(Entity(name="Somebody", type="Person", salience=0.9)).id
    with_fact = sem.upsert_entity(Entity(name="Acme", type="Organization", salience=0.1)).id
    sem.learn_fact("Acme sells rockets", entity_ids=[with_fact], source_turn_id=recent[0])
    mentioned = sem.upsert_entity(Entity(name="Berlin", type="Location", salience=0.1)).id
    stores.graph.write(
        "MATCH (t:Turn {id: $t}), (e:Entity {id: $e}) CREATE (t)-[:MENTIONS]->(e)", {"t": recent[0], "e": mentioned}
    )
    memory = make_resource(settings, retention_days=10)

    result = materialize([archived_memories], memory, instance, partition_key="2024-03-20")

    meta = metadata(result, "archived_memories")
    assert (meta["postgres_turns_archived"], meta["graph_turns_archived"], meta["orphan_entities_deleted"]) == (
        2,
        2,
        1,
    )
    rows = stores.pg.fetch("SELECT id::text AS id, archived_at IS NOT NULL AS archived FROM conversation_logs")
    assert {r["id"]: r["archived"] for r in rows} == {ids[0]: True, ids[1]: True, recent[0]: False}
    turns = stores.graph.read(
        "MATCH (t:Turn) RETURN t.id AS id, t.archived AS archived, t.embedding IS NULL AS no_vector ORDER BY id"
    )
    assert {t["id"]: (t["archived"], t["no_vector"]) for t in turns} == {
        ids[0]: (True, True),
        ids[1]: (True, True),
        recent[0]: (None, False),
    }
    left = {r["id"] for r in stores.graph.read("MATCH (e:Entity) RETURN e.id AS id")}
    assert left == {kept_high, with_fact, mentioned} and orphan not in left
    # Archival removed vectors and deleted a node; the run ends with every vector index returning live nodes.
    assert meta["min_vector_index_health"] == 1.0 and "vector_indexes_rebuilt" in meta

    again = metadata(
        materialize([archived_memories], memory, instance, partition_key="2024-03-20"), "archived_memories"
    )
    assert again["postgres_turns_archived"] == again["graph_turns_archived"] == again["orphan_entities_deleted"] == 0


def test_lifecycle_uses_the_window_end_not_the_run_time(stores, memory, instance):
    store_conversation(stores, "u1", "c1", DAY_START, ["said on DAY"])

    meta = metadata(materialize([archived_memories], memory, instance, partition_key=DAY), "archived_memories")

    assert meta["postgres_turns_archived"] == 0  # retention (180 days) counted from the end of DAY
    assert meta["cutoff"].startswith(str((AS_OF - timedelta(days=180)).date()))
