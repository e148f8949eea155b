"""Semantic memory: entities, bi-temporal facts and entity relations, on real graph stores.

Contract tests use `backend_stores`, so they also run on Neo4j when NEO4J_URI is set.
"""

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from memory_runtime.domain import ids
from memory_runtime.domain.embedding_text import entity_text
from memory_runtime.domain.errors import InvalidRelationshipType, NotFoundError, ValidationError
from memory_runtime.domain.models import Entity, Turn
from memory_runtime.memory.episodic import EpisodicMemory
from memory_runtime.memory.semantic import SemanticMemory, flat_properties
from memory_runtime.stores.graph.schema import SCHEMA, VectorIndex

USER = "u1"
OTHER = "u2"


def t(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.fixture
def mem(backend_stores) -> SemanticMemory:
    return SemanticMemory(backend_stores, USER)


@pytest.fixture
def other(backend_stores) -> SemanticMemory:
    return SemanticMemory(backend_stores, OTHER)


def count(mem: SemanticMemory, cypher: str, **params: object) -> int:
    return mem.stores.graph.read(cypher, params)[0]["n"]


def graph_size(mem: SemanticMemory) -> tuple[int, int]:
    """(nodes, relationships) in the whole graph."""
    nodes = count(mem, "MATCH (n) RETURN count(n) AS n")
    rels = count(mem, "MATCH ()-[r]->() RETURN count(r) AS n")
    return nodes, rels


def ada(mem: SemanticMemory, **kw: object) -> str:
    return mem.upsert_entity(Entity(name="Ada Lovelace", type="Person", **kw)).id  # type: ignore[arg-type]


def lives_in(mem: SemanticMemory, city: str, year: int) -> str:
    """Learn 'Ada lives in <city>' from <year> as a (subject, predicate, object) fact."""
    return mem.learn_fact(f"Ada lives in {city}", valid_at=t(year), subject="Ada", predicate="lives_in", object=city).id


def vector_hits(mem: SemanticMemory, node_label: str, text: str) -> list[str]:
    """Ids of the user's `node_label` nodes nearest to `text` by the vector index, best first."""
    d = mem.stores.graph.dialect
    rows = mem.stores.graph.read(
        f"{d.vector_search(VectorIndex(node_label))} WHERE node.user_id = $user_id "
        f"RETURN node.id AS id ORDER BY score DESC",
        {"k": 5, "vec": mem.stores.embedder.embed([text])[0], "user_id": mem.user_id},
    )
    return [r["id"] for r in rows]


# ---- entities ---------------------------------------------------------------------------------------


def test_upsert_entity_returns_the_deterministic_id(mem: SemanticMemory) -> None:
    assert ada(mem) == ids.entity_id(USER, "Person", "Ada Lovelace")


def test_upsert_entity_twice_with_the_same_normalised_name_keeps_one_entity(mem: SemanticMemory) -> None:
    first = ada(mem)
    second = mem.upsert_entity(Entity(name="  ada   LOVELACE ", type="person")).id
    assert first == second
    assert count(mem, "MATCH (e:Entity) RETURN count(e) AS n") == 1
    assert mem.get_entity(first)["mention_count"] == 2


def test_upsert_entity_merges_aliases_on_the_same_normalised_name(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["Ada L.", "Countess of Lovelace"])
    mem.upsert_entity(Entity(name="Ada Lovelace", type="Person", aliases=["ada l", "Augusta Ada King"]))
    assert mem.get_entity(eid)["aliases"] == ["Ada L.", "Countess of Lovelace", "Augusta Ada King"]
    text = mem.stores.graph.read("MATCH (e:Entity {id: $id}) RETURN e.aliases_text AS t", {"id": eid})[0]["t"]
    assert text == "Ada L. | Countess of Lovelace | Augusta Ada King"  # what the alias full-text index reads


def test_upsert_entity_never_stores_its_own_name_as_an_alias(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["ADA LOVELACE", "Ada L."])
    assert mem.get_entity(eid)["aliases"] == ["Ada L."]


def test_upsert_entity_named_by_a_known_alias_merges_into_that_entity(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["Countess of Lovelace"])
    merged = mem.upsert_entity(
        Entity(name="countess of lovelace", type="Person", aliases=["The Enchantress of Numbers"])
    ).id
    assert merged == eid
    assert count(mem, "MATCH (e:Entity) RETURN count(e) AS n") == 1
    entity = mem.get_entity(eid)
    assert entity["name"] == "Ada Lovelace"
    assert entity["aliases"] == ["Countess of Lovelace", "The Enchantress of Numbers"]


def test_upsert_entity_alias_resolution_respects_the_type(mem: SemanticMemory) -> None:
    ada(mem, aliases=["Lovelace"])
    place = mem.upsert_entity(Entity(name="Lovelace", type="Location")).id
    assert place == ids.entity_id(USER, "Location", "Lovelace")
    assert count(mem, "MATCH (e:Entity) RETURN count(e) AS n") == 2


def aliases_of(mem: SemanticMemory, eid: str) -> list[str]:
    """The ids of the alias nodes linked to an entity, sorted."""
    rows = mem.stores.graph.read(
        "MATCH (a:EntityAlias)-[:ALIAS_OF]->(e:Entity {id: $id}) RETURN a.id AS id, a.user_id AS user_id", {"id": eid}
    )
    assert all(r["user_id"] == mem.user_id for r in rows)
    return sorted(r["id"] for r in rows)


def test_upsert_entity_links_one_alias_node_per_normalised_alias(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["Ada L.", "ada l", "Countess of Lovelace"])
    mem.upsert_entity(Entity(name="Ada Lovelace", type="Person", aliases=["Augusta Ada King"]))
    expected = sorted(ids.alias_id(USER, a) for a in ("ada l", "augusta ada king", "countess of lovelace"))
    assert aliases_of(mem, eid) == expected


def test_alias_resolution_is_scoped_to_the_user(mem: SemanticMemory, other: SemanticMemory) -> None:
    mine = ada(mem, aliases=["The Countess"])
    theirs = other.upsert_entity(Entity(name="Augusta King", type="Person", aliases=["The Countess"])).id
    assert mem.upsert_entity(Entity(name="the countess", type="Person")).id == mine
    assert other.upsert_entity(Entity(name="THE COUNTESS", type="Person")).id == theirs
    assert [e["id"] for e in mem.find_entities("The Countess")] == [mine]
    assert [e["id"] for e in other.find_entities("The Countess")] == [theirs]
    assert count(mem, "MATCH (e:Entity) RETURN count(e) AS n") == 2


def test_entities_from_before_alias_nodes_resolve_by_alias_after_migrate(mem: SemanticMemory) -> None:
    from memory_runtime.stores.migrations import backfill_graph

    eid = ada(mem, aliases=["Countess of Lovelace"])
    mem.stores.graph.write("MATCH (a:EntityAlias) DETACH DELETE a")  # a graph written by an older version
    assert mem.find_entities("Countess of Lovelace") == []
    assert backfill_graph(mem.stores.graph) == 1
    assert backfill_graph(mem.stores.graph) == 0  # idempotent
    assert [e["id"] for e in mem.find_entities("Countess of Lovelace")] == [eid]
    assert mem.upsert_entity(Entity(name="countess of lovelace", type="Person")).id == eid


def test_forget_user_removes_the_users_alias_nodes_only(mem: SemanticMemory, other: SemanticMemory) -> None:
    from memory_runtime.memory.erasure import forget_user

    ada(mem, aliases=["The Countess"])
    theirs = other.upsert_entity(Entity(name="Augusta King", type="Person", aliases=["The Countess"])).id
    forget_user(mem.stores, USER)
    assert count(mem, "MATCH (a:EntityAlias) WHERE a.user_id = $u RETURN count(a) AS n", u=USER) == 0
    assert aliases_of(other, theirs) == [ids.alias_id(OTHER, "the countess")]


def test_archival_deletes_the_alias_nodes_of_the_orphan_entities_it_deletes(mem: SemanticMemory) -> None:
    from memory_runtime.batch.archive import archive

    ada(mem, aliases=["The Countess"], salience=0.01)
    kept = mem.upsert_entity(Entity(name="Charles Babbage", type="Person", aliases=["Babbage"], salience=0.9)).id
    archive(mem.stores, datetime.now(UTC), retention_days=3650, min_salience=0.1)
    assert count(mem, "MATCH (a:EntityAlias) RETURN count(a) AS n") == 1
    assert aliases_of(mem, kept) == [ids.alias_id(USER, "babbage")]


def test_upsert_entity_keeps_the_description_when_none_is_given(mem: SemanticMemory) -> None:
    eid = ada(mem, description="Mathematician")
    ada(mem)
    assert mem.get_entity(eid)["description"] == "Mathematician"


def test_upsert_entity_replaces_the_description_when_one_is_given(mem: SemanticMemory) -> None:
    eid = ada(mem, description="Mathematician")
    ada(mem, description="First programmer")
    assert mem.get_entity(eid)["description"] == "First programmer"


def test_upsert_entity_labels_the_node_with_its_type(mem: SemanticMemory) -> None:
    eid = mem.upsert_entity(Entity(name="Analytical Engine", type="technology")).id
    assert count(mem, "MATCH (e:Entity:Technology {id: $id}) RETURN count(e) AS n", id=eid) == 1
    assert mem.get_entity(eid)["type"] == "Technology"


def test_upsert_entity_salience_only_rises_and_mentions_count(mem: SemanticMemory) -> None:
    eid = ada(mem, salience=0.8)
    ada(mem, salience=0.3)
    entity = mem.get_entity(eid)
    assert entity["salience"] == pytest.approx(0.8)
    assert entity["mention_count"] == 2


def test_upsert_entity_merges_attributes_new_keys_winning(mem: SemanticMemory) -> None:
    eid = ada(mem, attributes={"born": 1815, "field": "maths"})
    ada(mem, attributes={"field": "computing"})
    assert mem.get_entity(eid)["attributes"] == {"born": 1815, "field": "computing"}


def test_upsert_entity_records_provenance(mem: SemanticMemory) -> None:
    eid = mem.upsert_entity(Entity(name="Ada", type="Person"), source_turn_ids=["t1"], extractor_version="v1").id
    mem.upsert_entity(Entity(name="Ada", type="Person"), source_turn_ids=["t1", "t2"])
    entity = mem.get_entity(eid)
    assert entity["source_turn_ids"] == ["t1", "t2"]
    assert entity["extractor_version"] == "v1"


def test_upsert_entity_has_timestamps(mem: SemanticMemory) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    entity = mem.get_entity(ada(mem))
    assert before <= entity["created_at"] <= entity["updated_at"] <= datetime.now(UTC)


def test_upserted_entity_is_found_by_the_vector_index(mem: SemanticMemory) -> None:
    eid = ada(mem, description="wrote the first published algorithm for the Analytical Engine")
    mem.upsert_entity(Entity(name="Paris", type="Location", description="capital of France"))
    assert vector_hits(mem, "Entity", "the first algorithm for the Analytical Engine")[0] == eid


def test_an_entity_upserted_again_is_found_by_its_new_description(mem: SemanticMemory) -> None:
    eid = ada(mem, description="a mathematician from London")
    mem.upsert_entity(Entity(name="Paris", type="Location", description="capital of France"))
    ada(mem, aliases=["Enchantress of Numbers"], description="wrote the first algorithm for the Analytical Engine")
    stored = mem.stores.graph.read("MATCH (e:Entity {id: $id}) RETURN e.embedding AS v", {"id": eid})[0]["v"]
    wanted = mem._embed(entity_text("Ada Lovelace", ["Enchantress of Numbers"],
                                    "wrote the first algorithm for the Analytical Engine"))  # fmt: skip
    assert stored == pytest.approx(wanted, abs=1e-6)  # the vector follows the text it now describes
    mem.stores.graph.rebuild_vector_index("Entity", len(wanted))  # drop FalkorDB's orphans (maintenance)
    assert vector_hits(mem, "Entity", "the first algorithm for the Analytical Engine")[0] == eid


def test_upserted_entity_is_found_by_full_text_on_its_aliases(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["Enchantress of Numbers"])
    d = mem.stores.graph.dialect
    index = next(f for f in SCHEMA.fulltext if f.label == "Entity")
    rows = mem.stores.graph.read(
        f"{d.fulltext_search(index)} WHERE node.user_id = $user_id RETURN node.id AS id",
        {"q": d.fulltext_query("enchantress"), "user_id": USER},
    )
    assert [r["id"] for r in rows] == [eid]


def test_find_entities_matches_the_normalised_name_or_an_alias(mem: SemanticMemory) -> None:
    eid = ada(mem, aliases=["Countess of Lovelace"])
    assert [e["id"] for e in mem.find_entities("ADA  lovelace")] == [eid]
    assert [e["id"] for e in mem.find_entities("countess of lovelace.")] == [eid]
    assert mem.find_entities("Ada") == []


def test_find_entities_can_filter_by_type(mem: SemanticMemory) -> None:
    ada(mem)
    place = mem.upsert_entity(Entity(name="Ada Lovelace", type="Location")).id
    assert [e["id"] for e in mem.find_entities("Ada Lovelace", entity_type="location")] == [place]


def test_get_entity_with_an_unknown_id_raises_not_found(mem: SemanticMemory) -> None:
    with pytest.raises(NotFoundError):
        mem.get_entity("no-such-entity")


def test_another_users_entity_is_not_found(mem: SemanticMemory, other: SemanticMemory) -> None:
    eid = ada(mem)
    with pytest.raises(NotFoundError):
        other.get_entity(eid)
    assert other.find_entities("Ada Lovelace") == []
    with pytest.raises(NotFoundError):
        other.facts_about(eid)
    with pytest.raises(NotFoundError):
        other.neighbours(eid)


def test_the_same_name_for_two_users_gives_two_entities(mem: SemanticMemory, other: SemanticMemory) -> None:
    assert ada(mem) != ada(other)
    assert count(mem, "MATCH (e:Entity) RETURN count(e) AS n") == 2


# ---- facts -----------------------------------------------------------------------------------------


def test_learn_fact_returns_a_fact_with_its_provenance(mem: SemanticMemory) -> None:
    fid = mem.learn_fact(
        "Ada likes Cython",
        source="extraction",
        confidence=0.7,
        source_turn_id="turn-a",
        source_turn_ids=["turn-b", "turn-a"],
        extractor_version="spacy-3.8+rules-1",
    ).id
    fact = mem.get_fact(fid)
    assert fact["claim"] == "Ada likes Cython"
    assert fact["source"] == "extraction"
    assert fact["confidence"] == pytest.approx(0.7)
    assert fact["source_turn_ids"] == ["turn-a", "turn-b"]
    assert fact["extractor_version"] == "spacy-3.8+rules-1"
    assert fact["expired_at"] is None and fact["invalid_at"] is None


def test_learn_fact_valid_at_defaults_to_now(mem: SemanticMemory) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    fact = mem.get_fact(mem.learn_fact("Ada likes tea").id)
    assert before <= fact["valid_at"] <= datetime.now(UTC)
    assert fact["valid_at"].tzinfo is not None
    assert fact["created_at"] >= before


def test_learn_fact_links_the_fact_about_its_entities(mem: SemanticMemory) -> None:
    person = ada(mem)
    engine = mem.upsert_entity(Entity(name="Analytical Engine", type="Technology")).id
    fid = mem.learn_fact("Ada programmed the Analytical Engine", entity_ids=[person, engine]).id
    assert mem.get_fact(fid)["entity_ids"] == sorted([person, engine])
    assert [f["id"] for f in mem.facts_about(engine)] == [fid]


def test_learn_fact_links_source_turns_that_are_in_the_graph(backend_stores, mem: SemanticMemory) -> None:
    turn = Turn(conversation_id="c1", index=0, role="user", content="I love Cython")
    EpisodicMemory(backend_stores, USER, None).store_turns([turn])
    fid = mem.learn_fact("The user loves Cython", source_turn_ids=[turn.id, "turn-not-projected-yet"]).id
    linked = mem.stores.graph.read("MATCH (f:Fact {id: $id})-[:DERIVED_FROM]->(t:Turn) RETURN t.id AS id", {"id": fid})
    assert [r["id"] for r in linked] == [turn.id]
    assert mem.get_fact(fid)["source_turn_ids"] == [turn.id, "turn-not-projected-yet"]


def test_learn_fact_same_normalised_claim_reinforces_the_existing_fact(mem: SemanticMemory) -> None:
    first = mem.learn_fact("Ada likes Cython", confidence=0.6, source_turn_id="t1").id
    second = mem.learn_fact("  ada likes CYTHON. ", confidence=0.9, source_turn_id="t2").id
    assert second == first
    fact = mem.get_fact(first)
    assert fact["confidence"] == pytest.approx(0.9)
    assert fact["source_turn_ids"] == ["t1", "t2"]
    assert fact["claim"] == "Ada likes Cython"
    assert count(mem, "MATCH (f:Fact) RETURN count(f) AS n") == 1


def test_learn_fact_reinforcement_never_lowers_confidence(mem: SemanticMemory) -> None:
    fid = mem.learn_fact("Ada likes Cython", confidence=0.9).id
    mem.learn_fact("Ada likes Cython", confidence=0.2)
    assert mem.get_fact(fid)["confidence"] == pytest.approx(0.9)


def test_learn_fact_same_claim_after_invalidation_is_a_new_fact(mem: SemanticMemory) -> None:
    first = mem.learn_fact("Ada lives in London", valid_at=t(2020)).id
    mem.invalidate_fact(first, at=t(2021))
    assert mem.learn_fact("Ada lives in London").id != first


def test_learn_fact_contradiction_invalidates_old_fact_but_keeps_it(mem: SemanticMemory) -> None:
    old = lives_in(mem, "London", 2020)
    new = mem.learn_fact("Ada lives in Paris", valid_at=t(2023), subject="ada", predicate="LIVES_IN", object="Paris").id
    old_fact = mem.get_fact(old)
    assert old_fact["invalid_at"] == t(2023)
    assert old_fact["expired_at"] is not None
    assert old_fact["superseded_by"] == [new]
    assert mem.get_fact(new)["supersedes"] == [old]
    assert [f["id"] for f in mem.list_facts()] == [new]
    assert {f["id"] for f in mem.list_facts(include_invalid=True)} == {old, new}


def test_learn_fact_with_the_same_object_does_not_contradict(mem: SemanticMemory) -> None:
    old = mem.learn_fact("Ada lives in London", subject="Ada", predicate="lives_in", object="London").id
    mem.learn_fact("Ada resides in London", subject="Ada", predicate="lives_in", object="london")
    assert mem.get_fact(old)["invalid_at"] is None


def test_learn_fact_supersedes_the_facts_it_lists(mem: SemanticMemory) -> None:
    old = mem.learn_fact("Ada's favourite language is Fortran", valid_at=t(2020)).id
    new = mem.learn_fact("Ada's favourite language is Cython", valid_at=t(2024), supersedes=[old]).id
    assert mem.get_fact(old)["invalid_at"] == t(2024)
    assert mem.get_fact(new)["supersedes"] == [old]


def test_learn_fact_learnt_out_of_order_is_closed_by_the_later_fact(mem: SemanticMemory) -> None:
    later = lives_in(mem, "Paris", 2023)
    earlier = lives_in(mem, "London", 2020)
    assert mem.get_fact(later)["invalid_at"] is None
    assert mem.get_fact(earlier)["invalid_at"] == t(2023)
    assert mem.get_fact(later)["supersedes"] == [earlier]


def test_learn_fact_claims_sharing_a_long_prefix_are_different_facts(mem: SemanticMemory) -> None:
    prefix = "Ada noted that " + "the analytical engine weaves algebraic patterns " * 8
    first = mem.learn_fact(prefix + "like a loom weaves flowers").id
    second = mem.learn_fact(prefix + "like a loom weaves leaves").id
    assert first != second
    assert mem.learn_fact(prefix + "like a loom weaves leaves").id == second


def test_learn_fact_reinforced_with_a_predicate_is_then_superseded_by_a_conflict(mem: SemanticMemory) -> None:
    old = mem.learn_fact("Ada lives in London", valid_at=t(2020), subject="Ada").id
    assert mem.learn_fact("Ada lives in London", subject="Ada", predicate="lives_in", object="London").id == old
    new = lives_in(mem, "Paris", 2023)
    assert mem.get_fact(old)["invalid_at"] == t(2023)
    assert mem.get_fact(new)["supersedes"] == [old]


def test_learn_fact_does_not_supersede_another_users_fact_in_the_same_slot(
    mem: SemanticMemory, other: SemanticMemory
) -> None:
    theirs = lives_in(other, "London", 2020)
    lives_in(mem, "Paris", 2023)
    assert other.get_fact(theirs)["invalid_at"] is None


def test_learn_fact_with_unknown_entity_writes_nothing(mem: SemanticMemory) -> None:
    person = ada(mem)
    before = graph_size(mem)
    with pytest.raises(NotFoundError, match="no-such-entity"):
        mem.learn_fact("Ada knows Babbage", entity_ids=[person, "no-such-entity"])
    assert graph_size(mem) == before


def test_learn_fact_with_another_users_entity_writes_nothing(mem: SemanticMemory, other: SemanticMemory) -> None:
    foreign = ada(other)
    before = graph_size(mem)
    with pytest.raises(NotFoundError):
        mem.learn_fact("Ada knows Babbage", entity_ids=[foreign])
    assert graph_size(mem) == before


def test_learn_fact_superseding_an_unknown_fact_writes_nothing(mem: SemanticMemory) -> None:
    old = mem.learn_fact("Ada lives in London").id
    before = graph_size(mem)
    with pytest.raises(NotFoundError, match="no-such-fact"):
        mem.learn_fact("Ada lives in Paris", supersedes=["no-such-fact"])
    assert graph_size(mem) == before
    assert mem.get_fact(old)["invalid_at"] is None


@pytest.mark.parametrize("confidence", [-0.1, 1.5])
def test_learn_fact_rejects_confidence_outside_zero_to_one(mem: SemanticMemory, confidence: float) -> None:
    with pytest.raises(ValidationError, match="confidence"):
        mem.learn_fact("Ada likes tea", confidence=confidence)
    assert mem.list_facts(include_invalid=True) == []


@pytest.mark.parametrize("claim", ["", "   ", "..."])
def test_learn_fact_rejects_an_empty_claim(mem: SemanticMemory, claim: str) -> None:
    with pytest.raises(ValidationError):
        mem.learn_fact(claim)


def test_learn_fact_rejects_an_unknown_source(mem: SemanticMemory) -> None:
    with pytest.raises(ValidationError, match="source"):
        mem.learn_fact("Ada likes tea", source="rumour")


def test_learn_fact_rejects_a_claim_over_the_size_limit(backend_stores) -> None:
    small = dataclasses.replace(
        backend_stores, settings=backend_stores.settings.model_copy(update={"max_content_chars": 20})
    )
    mem = SemanticMemory(small, USER)
    with pytest.raises(ValidationError, match="MEMORY_MAX_CONTENT_CHARS"):
        mem.learn_fact("a claim that is clearly longer than twenty characters")
    assert mem.list_facts(include_invalid=True) == []


def test_learn_fact_rejects_invalid_at_before_valid_at(mem: SemanticMemory) -> None:
    with pytest.raises(ValidationError):
        mem.learn_fact("Ada lived in London", valid_at=t(2020), invalid_at=t(2019))


def test_learnt_fact_is_found_by_the_vector_index(mem: SemanticMemory) -> None:
    fid = mem.learn_fact("The user prefers Cython over Rust for extensions").id
    mem.learn_fact("The user's cat is called Pixel")
    assert vector_hits(mem, "Fact", "Cython or Rust for extensions?")[0] == fid


def test_get_fact_of_another_user_is_not_found(mem: SemanticMemory, other: SemanticMemory) -> None:
    fid = mem.learn_fact("Ada likes tea").id
    with pytest.raises(NotFoundError):
        other.get_fact(fid)
    with pytest.raises(NotFoundError):
        other.invalidate_fact(fid)
    assert mem.get_fact(fid)["invalid_at"] is None


def test_same_claim_for_two_users_is_two_facts(mem: SemanticMemory, other: SemanticMemory) -> None:
    assert mem.learn_fact("likes tea").id != other.learn_fact("likes tea").id


def test_invalidate_fact_closes_the_window_and_keeps_the_fact(mem: SemanticMemory) -> None:
    fid = mem.learn_fact("Ada lives in London", valid_at=t(2020)).id
    mem.invalidate_fact(fid, at=t(2022))
    fact = mem.get_fact(fid)
    assert fact["invalid_at"] == t(2022)
    assert fact["expired_at"] is not None
    assert mem.list_facts() == []


def test_invalidate_fact_before_it_became_valid_is_rejected(mem: SemanticMemory) -> None:
    fid = mem.learn_fact("Ada lives in London", valid_at=t(2020)).id
    with pytest.raises(ValidationError):
        mem.invalidate_fact(fid, at=t(2019))
    assert mem.get_fact(fid)["invalid_at"] is None


def test_invalidate_fact_in_the_future_keeps_it_current_until_then(mem: SemanticMemory) -> None:
    fid = mem.learn_fact("Ada works at Acme").id
    mem.invalidate_fact(fid, at=datetime.now(UTC) + timedelta(days=30))
    assert [f["id"] for f in mem.list_facts()] == [fid]


def test_facts_as_of_returns_the_fact_valid_then(mem: SemanticMemory) -> None:
    london = lives_in(mem, "London", 2020)
    paris = lives_in(mem, "Paris", 2023)
    assert [f["id"] for f in mem.facts_as_of(t(2021))] == [london]
    assert [f["id"] for f in mem.facts_as_of(t(2023))] == [paris]
    assert mem.facts_as_of(t(2019)) == []


def test_facts_as_of_known_at_ignores_what_was_learnt_later(mem: SemanticMemory) -> None:
    london = lives_in(mem, "London", 2020)
    time.sleep(0.005)  # times are stored in milliseconds
    between = datetime.now(UTC)
    time.sleep(0.005)
    lives_in(mem, "Paris", 2023)
    # Asked about 2024 as we knew it before learning about Paris: still London.
    assert [f["id"] for f in mem.facts_as_of(t(2024), known_at=between)] == [london]


def test_facts_as_of_never_returns_another_users_facts(mem: SemanticMemory, other: SemanticMemory) -> None:
    other.learn_fact("Bob lives in Rome", valid_at=t(2020))
    assert mem.facts_as_of(t(2021)) == []


def test_facts_about_excludes_invalid_facts_unless_asked(mem: SemanticMemory) -> None:
    person = ada(mem)
    old = mem.learn_fact("Ada lives in London", valid_at=t(2020), entity_ids=[person]).id
    new = mem.learn_fact("Ada lives in Paris", valid_at=t(2023), entity_ids=[person], supersedes=[old]).id
    assert [f["id"] for f in mem.facts_about(person)] == [new]
    assert [f["id"] for f in mem.facts_about(person, include_invalid=True)] == [new, old]


def test_facts_about_an_entity_without_facts_is_empty(mem: SemanticMemory) -> None:
    assert mem.facts_about(ada(mem)) == []


def test_fact_dicts_have_the_documented_keys(mem: SemanticMemory) -> None:
    mem.learn_fact("Ada likes tea")
    (fact,) = mem.list_facts()
    expected = {
        "id",
        "claim",
        "confidence",
        "source",
        "source_turn_ids",
        "valid_at",
        "invalid_at",
        "created_at",
        "expired_at",
        "extractor_version",
        "entity_ids",
    }
    assert expected <= fact.keys()


def test_list_facts_is_most_recent_first_and_limited(mem: SemanticMemory) -> None:
    first = mem.learn_fact("fact one").id
    second = mem.learn_fact("fact two").id
    third = mem.learn_fact("fact three").id
    facts = [f["id"] for f in mem.list_facts(limit=2)]
    assert len(facts) == 2 and first not in facts
    assert set(facts) == {second, third}


def test_list_facts_never_returns_another_users_facts(mem: SemanticMemory, other: SemanticMemory) -> None:
    other.learn_fact("Bob likes coffee")
    assert mem.list_facts(include_invalid=True) == []


# ---- relations -------------------------------------------------------------------------------------


def test_relate_is_idempotent_and_updates_properties(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    mem.relate(person, org, "WORKS_FOR", {"since": 2021, "roles": ["engineer"]})
    mem.relate(person, org, "WORKS_FOR", {"since": 2022, "team": "compilers"})
    rows = mem.stores.graph.read(
        "MATCH (:Entity {id: $a})-[r:WORKS_FOR]->(:Entity {id: $b}) "
        "RETURN r.since AS since, r.roles AS roles, r.team AS team",
        {"a": person, "b": org},
    )
    assert rows == [{"since": 2022, "roles": ["engineer"], "team": "compilers"}]


def test_relate_rejects_unknown_relationship_type_without_writing(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    before = graph_size(mem)
    for bad in ("HATES", "works_for", "ABOUT", "X]->(n) DETACH DELETE n //"):
        with pytest.raises(InvalidRelationshipType):
            mem.relate(person, org, bad)
    assert graph_size(mem) == before


def test_relate_rejects_nested_properties_without_writing(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    before = graph_size(mem)
    with pytest.raises(ValidationError, match="JSON string"):
        mem.relate(person, org, "WORKS_FOR", {"contract": {"type": "full-time"}})
    assert graph_size(mem) == before


def test_relate_with_an_unknown_entity_raises_not_found_and_writes_nothing(mem: SemanticMemory) -> None:
    person = ada(mem)
    before = graph_size(mem)
    with pytest.raises(NotFoundError, match="no-such-entity"):
        mem.relate(person, "no-such-entity", "KNOWS")
    assert graph_size(mem) == before


def test_relate_to_another_users_entity_raises_not_found(mem: SemanticMemory, other: SemanticMemory) -> None:
    person = ada(mem)
    foreign = other.upsert_entity(Entity(name="Bob", type="Person")).id
    with pytest.raises(NotFoundError):
        mem.relate(person, foreign, "KNOWS")
    assert count(mem, "MATCH ()-[r:KNOWS]->() RETURN count(r) AS n") == 0


def test_flat_properties_accept_scalars_and_homogeneous_lists() -> None:
    props = flat_properties({"a": 1, "b": "x", "c": True, "d": [1, 2.5], "e": ["p", "q"], "f": None})
    assert props == {"a": 1, "b": "x", "c": True, "d": [1.0, 2.5], "e": ["p", "q"], "f": None}


@pytest.mark.parametrize(
    "props",
    [
        {"mixed": [1, "a"]},
        {"bools_and_ints": [True, 1]},
        {"nested": [[1, 2]]},
        {"maps": [{"a": 1}]},
        {"nan": float("nan")},
        {"when": datetime(2024, 1, 1)},
        {"bad key": 1},
        {"created_at": 1},
    ],
)
def test_flat_properties_reject_what_a_graph_cannot_store(props: dict) -> None:
    with pytest.raises(ValidationError):
        flat_properties(props)


def test_neighbours_depth_one(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    city = mem.upsert_entity(Entity(name="Paris", type="Location")).id
    mem.relate(person, org, "WORKS_FOR")
    mem.relate(org, city, "LOCATED_IN")
    expected = {"id": org, "name": "Acme", "type": "Organization", "description": None, "distance": 1}
    assert mem.neighbours(person) == [{**expected, "via": ["WORKS_FOR"]}]


def test_neighbours_depth_two(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    city = mem.upsert_entity(Entity(name="Paris", type="Location")).id
    mem.relate(person, org, "WORKS_FOR")
    mem.relate(org, city, "LOCATED_IN")
    mem.relate(person, city, "LIVES_IN")
    got = {n["id"]: (n["distance"], n["via"]) for n in mem.neighbours(person, depth=2)}
    assert got == {org: (1, ["WORKS_FOR"]), city: (1, ["LIVES_IN"])}
    got_from_city = {n["id"]: n["distance"] for n in mem.neighbours(org, depth=2)}
    assert got_from_city == {person: 1, city: 1}


def test_neighbours_depth_two_reaches_entities_two_hops_away(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    city = mem.upsert_entity(Entity(name="Paris", type="Location")).id
    mem.relate(person, org, "WORKS_FOR")
    mem.relate(org, city, "LOCATED_IN")
    got = {n["id"]: (n["distance"], n["via"]) for n in mem.neighbours(person, depth=2)}
    assert got == {org: (1, ["WORKS_FOR"]), city: (2, ["WORKS_FOR", "LOCATED_IN"])}


def test_neighbours_do_not_traverse_fact_links(mem: SemanticMemory) -> None:
    person = ada(mem)
    org = mem.upsert_entity(Entity(name="Acme", type="Organization")).id
    mem.learn_fact("Ada admires Acme", entity_ids=[person, org])
    assert mem.neighbours(person, depth=2) == []


def test_neighbours_respect_the_limit(mem: SemanticMemory) -> None:
    person = ada(mem)
    for name in ("A", "B", "C"):
        mem.relate(person, mem.upsert_entity(Entity(name=name, type="Person")).id, "KNOWS")
    assert len(mem.neighbours(person, limit=2)) == 2


@pytest.mark.parametrize("depth", [0, 3, True, "2"])
def test_neighbours_rejects_depth_outside_one_to_two(mem: SemanticMemory, depth: object) -> None:
    person = ada(mem)
    with pytest.raises(ValidationError, match="depth"):
        mem.neighbours(person, depth=depth)  # type: ignore[arg-type]


def test_neighbours_of_an_unknown_entity_raise_not_found(mem: SemanticMemory) -> None:
    with pytest.raises(NotFoundError):
        mem.neighbours("no-such-entity")


def test_a_multi_valued_predicate_does_not_retire_the_other_values(backend_stores):
    sem = SemanticMemory(backend_stores, "u1")
    rock = sem.learn_fact("User likes rock", subject="user", predicate="likes", object="rock").id
    sem.learn_fact("User likes jazz", subject="user", predicate="likes", object="jazz")
    assert sem.get_fact(rock)["invalid_at"] is None


def test_single_valued_can_be_forced_for_a_custom_predicate(backend_stores):
    sem = SemanticMemory(backend_stores, "u1")
    old = sem.learn_fact("Ada drives a Golf", subject="Ada", predicate="drives", object="Golf").id
    sem.learn_fact("Ada drives a Tesla", subject="Ada", predicate="drives", object="Tesla", single_valued=True)
    assert sem.get_fact(old)["invalid_at"] is not None
