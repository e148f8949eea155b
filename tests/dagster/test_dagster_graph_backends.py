"""One partition of every asset of the code location, with every asset check, on each graph backend.

The day has work for every asset: a conversation to extract facts from, two conversations of one task type
with the same successful tool sequence (a strategy), a preference fact (a profile), a reflect() job, turns
old enough to decay and to archive, and a low-salience orphan entity to delete.
"""

from datetime import timedelta

import pytest
from dagster_helpers import ASSETS, DAY, DAY_START, make_resource, materialize, metadata, move_tool_calls

from memory_assets.definitions import defs
from memory_runtime.api import AgentMemory
from memory_runtime.domain.models import Entity, Turn, to_ms

NOON = DAY_START + timedelta(hours=12)
OLD = DAY_START - timedelta(days=30)  # beyond the test's retention of 10 days


def _turns(conversation: str, start, contents: list[str], **metadata: object) -> list[Turn]:
    return [
        Turn(conversation_id=conversation, index=i, role="user" if i % 2 == 0 else "assistant", content=text,
             timestamp=start + timedelta(minutes=i), metadata=dict(metadata))
        for i, text in enumerate(contents)
    ]  # fmt: skip


def _seed(stores) -> dict[str, object]:
    """The day's work for every asset, written through AgentMemory; returns the ids the test checks."""
    with AgentMemory("u1", "c1", stores=stores) as memory:
        said = memory.store_turns(
            _turns("c1", NOON, ["My name is Priya and I work at Acme Corp in Berlin.", "Nice to meet you, Priya."])
        ).turn_ids
        memory.learn_fact(
            "User's favorite color is blue", source="extraction", source_turn_id=said[0], valid_at=NOON,
            subject="user", predicate="favorite_color", object="blue",
        )  # fmt: skip
        old = memory.store_turns(_turns("c-old", OLD, ["an old question", "an old answer"])).turn_ids
        for turn in old:  # learnt when said (as an import would), so they are due for decay
            stores.graph.write("MATCH (t:Turn {id: $id}) SET t.created_at = $ms", {"id": turn, "ms": to_ms(OLD)})
        orphan = memory.upsert_entity(Entity(name="Nobody", type="Person", salience=0.1)).id
        job = memory.reflect("answered the question", success=True)
    for conversation in ("r1", "r2"):
        with AgentMemory("u1", conversation, stores=stores) as memory:
            memory.store_turns(_turns(conversation, NOON + timedelta(hours=1), ["research this"], task_type="research"))
            for tool in ("search", "summarize"):
                memory.record_tool_usage(
                    tool, {"q": conversation}, {"ok": True}, True, 5.0, conversation_id=conversation
                )
    move_tool_calls(stores, NOON + timedelta(hours=2))
    return {"said": said, "old": old, "orphan": orphan, "job": job}


def test_every_asset_and_check_of_the_code_location_runs_on_the_graph(backend_stores, backend_settings, instance):
    stores = backend_stores
    seeded = _seed(stores)
    memory = make_resource(backend_settings, retention_days=10)
    assets = list(defs.assets or [])
    checks = list(defs.asset_checks or [])
    assert {key.to_user_string() for a in assets for key in a.keys} == ASSETS

    result = materialize([*assets, *checks], memory, instance, partition_key=DAY)

    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == ASSETS
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {k.name for c in checks for k in c.check_keys}
    assert [(e.check_name, e.metadata) for e in evaluations if not e.passed] == []

    meta = {name: metadata(result, name) for name in ASSETS}
    assert (meta["conversation_turns"]["turns"], meta["conversation_turns"]["conversations"]) == (4, 3)
    assert meta["episodic_graph"]["graph_turns"] == meta["episodic_graph"]["postgres_turns"] == 4
    # semantic memory: facts extracted from the day's turns, each linked to the turn it came from
    assert meta["semantic_memory"]["facts_created"] >= 1 and meta["semantic_memory"]["entities_created"] >= 1
    derived = stores.graph.read(
        "MATCH (f:Fact)-[:DERIVED_FROM]->(t:Turn) WHERE f.source = 'extraction' RETURN f.claim AS claim, t.id AS turn"
    )
    assert {d["turn"] for d in derived} == {seeded["said"][0]}
    assert len(derived) >= 2  # the stated preference and at least one extracted fact
    # procedural strategies: the tool sequence both research conversations succeeded with
    assert (meta["procedural_strategies"]["strategies"], meta["procedural_strategies"]["successes"]) == (1, 2)
    [strategy] = stores.graph.read(
        "MATCH (s:Strategy)-[:FOR_TASK]->(tt:TaskType) RETURN s.tool_sequence AS tools, tt.name AS task"
    )
    assert strategy == {"tools": ["search", "summarize"], "task": "research"}
    # the timeline: one episode per conversation of the day, the day's facts, the reflection
    timeline = stores.pg.fetch("SELECT event_type, ref_id FROM memory_timeline ORDER BY event_type, ref_id")
    assert [r["ref_id"] for r in timeline if r["event_type"] == "episode"] == [f"{c}@{DAY}" for c in ("c1", "r1", "r2")]
    assert meta["memory_timeline"]["facts"] >= 2 and meta["memory_timeline"]["rows_inserted"] >= 5
    assert [r["event_type"] for r in timeline].count("reflection") == 1
    # user profiles: the preference folded into the profile
    assert (meta["user_profiles"]["users"], meta["user_profiles"]["preferences_set"]) == (1, 1)
    with AgentMemory("u1", stores=stores) as agent:
        assert agent.get_user_context()["preferences"]["favorite_color"] == "blue"
    # reflections: the reflect() job written, linked to its conversation and acknowledged
    assert (meta["reflections"]["reflections_written"], meta["reflections"]["acknowledged"]) == (1, 1)
    [reflection] = stores.graph.read(
        "MATCH (r:Reflection)-[:REFLECTS_ON]->(c:Conversation) RETURN r.job_id AS job, c.id AS conversation"
    )
    assert reflection == {"job": seeded["job"], "conversation": "c1"}
    # decay: the old turns lost 31 days of salience, in the graph and in Postgres
    assert (meta["salience_decay"]["turns_decayed"], meta["salience_decay"]["postgres_turns_updated"]) == (6, 2)
    decayed = 0.5 * (1 - backend_settings.decay_rate) ** 31
    for turn in seeded["old"]:
        [node] = stores.graph.read("MATCH (t:Turn {id: $id}) RETURN t.salience AS s", {"id": turn})
        assert node["s"] == pytest.approx(decayed)
    mirrored = stores.pg.fetch("SELECT salience FROM conversation_logs WHERE id = ANY(%s::uuid[])", (seeded["old"],))
    assert [r["salience"] for r in mirrored] == pytest.approx([decayed, decayed], rel=1e-6)
    # archival: the old conversation left the hot tier, the orphan entity is gone
    archived = meta["archived_memories"]
    assert (archived["postgres_turns_archived"], archived["graph_turns_archived"]) == (2, 2)
    assert archived["orphan_entities_deleted"] == 1
    assert not stores.graph.read("MATCH (e:Entity {id: $id}) RETURN e.id", {"id": seeded["orphan"]})
    rows = stores.pg.fetch("SELECT id::text AS id FROM conversation_logs WHERE archived_at IS NOT NULL ORDER BY 1")
    assert [r["id"] for r in rows] == sorted(seeded["old"])
