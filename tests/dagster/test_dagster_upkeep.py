"""The upkeep jobs (ops, no asset): re-embedding and vector index repair, run as Dagster jobs."""

import dataclasses

import dagster as dg
import numpy as np
from dagster_helpers import DAY_START, store_conversation

from memory_assets.upkeep import reembed_job, reindex_job
from memory_runtime.batch import reindex as maintenance
from memory_runtime.embeddings.hashing import HashingEmbedder
from memory_runtime.stores.embedder_record import recorded_model
from memory_runtime.stores.postgres.settings import MODEL, write_settings
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder

TEXTS = [f"we paddled a kayak around Lisbon on day {i}" for i in range(40)]


class OlderEmbedder(HashingEmbedder):
    """Another embedder of the same dimension: hashing vectors with their components rotated."""

    VERSION = "older"

    def embed(self, texts):
        return [np.roll(np.asarray(v), 5).tolist() for v in super().embed(texts)]


def _written_by_older(stores, user: str = "u1") -> None:
    old = OlderEmbedder(stores.embedder.dimensions)
    write_settings(stores.pg, {MODEL: old.model_id})
    older = dataclasses.replace(stores, embedder=CachedEmbedder(old, None, 0))
    store_conversation(older, user, f"c-{user}", DAY_START, TEXTS)


def _stale_turn_vectors(stores) -> int:
    rows = stores.pg.fetch("SELECT content, embedding FROM conversation_logs")
    fresh = stores.embedder.embed([r["content"] for r in rows])
    return sum(not np.allclose(r["embedding"], f, atol=1e-6) for r, f in zip(rows, fresh, strict=True))


def _logs(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    """Everything the run logged, as the UI shows it."""
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def test_reembed_job_rewrites_every_vector_and_records_the_configured_embedder(stores, memory, instance):
    _written_by_older(stores)
    assert _stale_turn_vectors(stores) == len(TEXTS)

    result = reembed_job.execute_in_process(resources={"memory": memory}, instance=instance)

    assert result.success
    assert _stale_turn_vectors(stores) == 0
    assert recorded_model(stores.pg) == stores.embedder.model_id
    assert "re-embedded 40 vector(s)" in _logs(instance, result)
    again = reembed_job.execute_in_process(resources={"memory": memory}, instance=instance)
    assert again.success and "nothing to do" in _logs(instance, again)


def test_reembed_job_for_one_user_leaves_the_recorded_embedder(stores, memory):
    _written_by_older(stores, "u1")
    older_id = recorded_model(stores.pg)

    result = reembed_job.execute_in_process(
        resources={"memory": memory}, run_config={"ops": {"reembed_vectors": {"config": {"user_id": "u1"}}}}
    )

    assert result.success and _stale_turn_vectors(stores) == 0
    assert recorded_model(stores.pg) == older_id  # other users' vectors would still be the older model's


def test_reindex_job_rebuilds_an_index_that_orphaned_vectors_degraded(stores, memory, instance):
    store_conversation(stores, "u1", "c1", DAY_START, TEXTS)
    for day in range(3):  # what decay and access statistics do to every turn, a few days running
        stores.graph.write("MATCH (t:Turn) SET t.decayed_at = $day", {"day": day})
    assert maintenance.vector_health(stores, "Turn")[1] < maintenance.DEFAULT_THRESHOLD

    result = reindex_job.execute_in_process(resources={"memory": memory}, instance=instance)

    assert result.success
    assert maintenance.vector_health(stores, "Turn")[1] == 1.0
    assert ":Turn 40 vectors, health" in _logs(instance, result)


def test_the_weekly_compaction_schedule_runs_the_reindex_job_compacting_once_a_week():
    from schedules import ALL_SCHEDULES

    [schedule] = [s for s in ALL_SCHEDULES if s.name == "weekly_vector_compaction_schedule"]
    assert schedule.job_name == "reindex_job"
    context = dg.build_schedule_context(scheduled_execution_time=DAY_START)
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.run_key == f"compact-{DAY_START:%Y-%m-%d}"
    assert request.run_config == {"ops": {"reindex_vectors": {"config": {"compact": True}}}}
