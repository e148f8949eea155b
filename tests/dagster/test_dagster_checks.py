"""Each asset check passes on healthy data and fails on data corrupted on purpose (Cypher/SQL)."""

import dagster as dg
import pytest
from dagster_helpers import DAY_START, materialize, store_conversation

from memory_assets.checks import (
    duplicate_entity_rate,
    embedding_dimensions_match,
    facts_trace_to_turns,
    no_cross_user_edges_episodic,
    no_cross_user_edges_semantic,
    scores_in_unit_range,
    vector_indexes_healthy,
    vectors_from_configured_embedder,
)
from memory_assets.consolidation import memory_timeline
from memory_assets.episodic import episodic_graph
from memory_runtime.batch import reindex as maintenance
from memory_runtime.domain.models import Entity
from memory_runtime.memory.semantic import SemanticMemory
from memory_runtime.stores.postgres.settings import MODEL, write_settings

CHECKS = [
    no_cross_user_edges_episodic,
    no_cross_user_edges_semantic,
    facts_trace_to_turns,
    embedding_dimensions_match,
    scores_in_unit_range,
    duplicate_entity_rate,
    vectors_from_configured_embedder,
    vector_indexes_healthy,
]


@pytest.fixture
def healthy(stores) -> dict[str, list[str]]:
    """Two users with a conversation, an entity and a fact each (all with provenance)."""
    turns = {}
    for user in ("u1", "u2"):
        turns[user] = store_conversation(stores, user, f"c-{user}", DAY_START, [f"I work at Acme ({user})", "ok"])
        sem = SemanticMemory(stores, user)
        acme = sem.upsert_entity(Entity(name="Acme", type="Organization"), source_turn_ids=[turns[user][0]]).id
        sem.learn_fact(f"{user} works at Acme", source="extraction", entity_ids=[acme], source_turn_id=turns[user][0])
        sem.learn_fact(f"{user} said so directly", source="user_stated")  # no turn: allowed for user_stated
    return turns


def run(check, memory) -> dg.AssetCheckResult:
    return check(memory=memory)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: next(iter(c.check_keys)).to_user_string())
def test_check_passes_on_healthy_memory(check, healthy, memory):
    result = run(check, memory)
    assert result.passed, result.metadata


def test_cross_user_edge_fails_both_blocking_checks(stores, healthy, memory):
    stores.graph.write(
        "MATCH (c:Conversation {id: 'c-u1'}), (t:Turn {id: $turn}) CREATE (c)-[:HAS_TURN]->(t)",
        {"turn": healthy["u2"][1]},
    )
    for check in (no_cross_user_edges_episodic, no_cross_user_edges_semantic):
        result = run(check, memory)
        assert not result.passed and result.metadata["cross_user_edges"].value == 1
    assert all(spec.blocking for c in (no_cross_user_edges_episodic, facts_trace_to_turns) for spec in c.check_specs)


def test_blocking_cross_user_check_stops_downstream_assets_in_the_run(stores, healthy, memory, instance):
    stores.graph.write(
        "MATCH (a:Turn {id: $a}), (b:Turn {id: $b}) CREATE (a)-[:FOLLOWED_BY]->(b)",
        {"a": healthy["u1"][1], "b": healthy["u2"][0]},
    )

    result = materialize(
        [episodic_graph, memory_timeline, no_cross_user_edges_episodic], memory, instance, raise_on_error=False
    )

    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert result.asset_materializations_for_node("episodic_graph")
    assert "memory_timeline" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert stores.pg.fetch("SELECT count(*) AS n FROM memory_timeline")[0]["n"] == 0


def test_fact_without_provenance_fails_traceability(stores, healthy, memory):
    SemanticMemory(stores, "u1").learn_fact("Acme was founded in 1990", source="extraction")  # no turn

    result = run(facts_trace_to_turns, memory)

    assert not result.passed and result.metadata["untraceable_facts"].value == 1


def test_fact_whose_turn_link_was_lost_fails_traceability(stores, healthy, memory):
    stores.graph.write(
        "MATCH (f:Fact)-[r:DERIVED_FROM]->(:Turn) WHERE f.user_id = 'u2' SET f.source_turn_ids = [] DELETE r"
    )

    assert not run(facts_trace_to_turns, memory).passed


def test_wrong_graph_vector_dimension_fails_the_dimension_check(stores, healthy, memory):
    stores.graph.write(
        f"MATCH (t:Turn {{id: $id}}) SET t.embedding = {stores.graph.dialect.vector_value('vec')}",
        {"id": healthy["u1"][0], "vec": [0.1, 0.2, 0.3]},
    )

    result = run(embedding_dimensions_match, memory)

    assert not result.passed and ":Turn vectors" in result.metadata["problems"].value


def test_wrong_postgres_vector_dimension_fails_the_dimension_check(stores, healthy, memory):
    with stores.pg.connection() as conn:
        for index in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'conversation_logs' AND indexdef LIKE '%hnsw%'"
        ).fetchall():  # an HNSW index needs a fixed dimension
            conn.execute(f'DROP INDEX "{index["indexname"]}"')
        conn.execute("ALTER TABLE conversation_logs ALTER COLUMN embedding TYPE vector")
        conn.execute("UPDATE conversation_logs SET embedding = '[1,2,3]' WHERE id = %s", (healthy["u2"][0],))

    result = run(embedding_dimensions_match, memory)

    assert not result.passed and "most recent turns in Postgres" in result.metadata["problems"].value


@pytest.mark.parametrize(
    ("statement", "label"),
    [
        ("MATCH (e:Entity) WHERE e.user_id = 'u1' SET e.salience = 1.5", "Entity"),
        ("MATCH (f:Fact) WHERE f.user_id = 'u2' WITH f LIMIT 1 SET f.confidence = -0.2", "Fact"),
        ("MATCH (t:Turn) WITH t LIMIT 1 SET t.salience = -1.0", "Turn"),
    ],
)
def test_score_outside_the_unit_interval_fails_the_range_check(stores, healthy, memory, statement, label):
    stores.graph.write(statement)

    result = run(scores_in_unit_range, memory)

    assert not result.passed and result.metadata["by_label"].value[label] == 1


def test_duplicate_entities_above_the_threshold_fail_the_duplicate_check(stores, healthy, memory):
    stores.graph.write(
        "UNWIND range(1, 3) AS i CREATE (:Entity {id: 'dup-' + toString(i), user_id: 'u1', type: 'Organization', "
        "name: 'ACME', norm_name: 'acme', salience: 0.5})"
    )

    result = run(duplicate_entity_rate, memory)

    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["duplicates"].value == 3 and result.metadata["entities"].value == 5


def test_vectors_of_another_embedder_warn_and_name_the_fix(stores, healthy, memory):
    write_settings(stores.pg, {MODEL: "openai:text-embedding-3-small:64"})

    result = run(vectors_from_configured_embedder, memory)

    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["recorded"].value == "openai:text-embedding-3-small:64"
    assert result.metadata["configured"].value == stores.embedder.model_id
    assert result.metadata["fix"].value == "agent-memory reembed"


def test_orphaned_vectors_fail_the_index_health_check_until_a_repair(stores, healthy, memory):
    store_conversation(stores, "u1", "c-more", DAY_START, [f"turn number {i} about kayaks" for i in range(60)])
    for day in range(3):  # what decay and access statistics do to every turn, a few days running
        stores.graph.write("MATCH (t:Turn) SET t.decayed_at = $day", {"day": day})

    result = run(vector_indexes_healthy, memory)

    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "Turn" in result.metadata["below_threshold"].value
    maintenance.repair_vector_indexes(stores)
    assert run(vector_indexes_healthy, memory).passed


def test_quality_checks_are_attached_to_the_assets_they_guard():
    keys = {next(iter(c.check_keys)).to_user_string() for c in CHECKS}
    assert keys == {
        "episodic_graph:no_cross_user_edges",
        "semantic_memory:no_cross_user_edges",
        "semantic_memory:facts_trace_to_turns",
        "episodic_graph:embedding_dimensions_match",
        "semantic_memory:scores_in_unit_range",
        "semantic_memory:duplicate_entity_rate",
        "episodic_graph:vectors_from_configured_embedder",
        "archived_memories:vector_indexes_healthy",
    }
