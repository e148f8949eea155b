"""What a run did, read back from the Dagster instance: the metadata a person sees on a materialisation."""

from datetime import timedelta

import dagster as dg
from dagster_helpers import DAY_START, materialize, store_conversation

from memory_assets.consolidation import semantic_memory
from memory_assets.definitions import defs
from memory_assets.lifecycle import salience_decay
from memory_runtime.domain.models import Entity, to_ms
from memory_runtime.memory.semantic import SemanticMemory

NOON = DAY_START + timedelta(hours=12)


def _stored_metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, object]:
    """The metadata of the asset's latest materialisation as the instance stored it."""
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_semantic_memory_records_changes_the_most_changed_users_and_the_quality_checks(stores, memory, instance):
    store_conversation(stores, "busy", "c1", NOON, [
        "My name is Priya and I work at Acme Corp in Berlin.", "Nice to meet you.",
        "I live in Berlin.", "ok", "Now I live in Munich.", "noted",
    ])  # fmt: skip
    store_conversation(stores, "quiet", "c2", NOON, ["I work at Globex.", "ok"])

    materialize([semantic_memory], memory, instance)

    meta = _stored_metadata(instance, "semantic_memory")
    assert meta["facts_created"] >= 3 and meta["facts_invalidated"] >= 1 and meta["users_changed"] == 2
    changes = meta["changes"]
    assert "| facts added |" in changes and "| facts invalidated (superseded by a newer one) |" in changes
    assert f"| facts merged into an existing one (reinforced) | {meta['facts_reinforced']} |" in changes
    assert f"| entities merged (alias or near-duplicate) | {meta['entities_merged']} |" in changes
    users = [line.split("|")[1].strip() for line in meta["most_changed_users"].splitlines()[2:]]
    assert users == ["busy", "quiet"]  # most changes first
    quality = meta["quality_checks"]
    for check in ("no_cross_user_edges", "facts_trace_to_turns", "scores_in_unit_range", "duplicate_entity_rate"):
        assert f"| {check} |" in quality
    assert "| no_cross_user_edges | 0 | 0 | pass |" in quality and "FAIL" not in quality


def test_salience_decay_records_the_salience_distribution_before_and_after(stores, memory, instance):
    turns = store_conversation(stores, "u1", "c1", DAY_START, ["old", "older"])
    SemanticMemory(stores, "u1").upsert_entity(Entity(name="Ada", type="Person", salience=0.95))
    ten_days_before = to_ms(DAY_START + timedelta(days=1)) - 10 * 86_400_000  # the window ends at midnight
    stores.graph.write("MATCH (n) WHERE n.id IN $ids SET n.created_at = $t", {"ids": turns, "t": ten_days_before})

    materialize([salience_decay], memory, instance)

    meta = _stored_metadata(instance, "salience_decay")
    histogram = meta["salience_histogram"]
    assert sum(histogram["Turn"]["before"]) == sum(histogram["Turn"]["after"]) == meta["turns_decayed"] == 2
    assert histogram["Turn"]["before"][5] == 2 and histogram["Turn"]["after"][5] == 0  # 0.5 decays below 0.5
    assert histogram["Entity"]["before"][9] == 1
    table = meta["salience_distribution"]
    assert table.splitlines()[0] == (
        "| salience | Turn before | Turn after | Entity before | Entity after | Fact before | Fact after |"
    )
    assert "| 0.5–0.6 | 2 | 0 |" in table


def test_every_asset_has_a_description_an_owner_and_a_stage():
    for spec in defs.resolve_all_asset_specs():
        assert spec.description and len(spec.description) > 60, spec.key
        assert spec.owners == ["team:memory-platform"], spec.key
        assert spec.tags.get("memory/stage") in {"ingest", "consolidation", "lifecycle"}, spec.key
