"""Changing the embedder: the recorded model id, the start-up warning and `reembed`, on real embedded stores.

The "old" embedder is the hashing embedder with its dimensions rotated: deterministic, the same dimension, and
a different vector space, as a new model or a new hashing version is to the stores written before it.
"""

import dataclasses
import logging
from datetime import timedelta

import numpy as np
import pytest

from memory_runtime.api import AgentMemory
from memory_runtime.batch import reindex as maintenance
from memory_runtime.batch.reembed import plan, reembed
from memory_runtime.domain.embedding_text import entity_text, strategy_text
from memory_runtime.domain.errors import EmbeddingDimensionMismatch, ReembedInterrupted, StoreUnavailableError
from memory_runtime.domain.models import Entity, Goal, Turn, now
from memory_runtime.embeddings.hashing import HashingEmbedder
from memory_runtime.embeddings.local import LocalEmbedder
from memory_runtime.retrieval import Retriever
from memory_runtime.stores import embedder_record as embedding_model
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.embedder_record import UNKNOWN, recorded_model
from memory_runtime.stores.migrations import migrate
from memory_runtime.stores.postgres.settings import MODEL, REEMBED_PROGRESS, read_settings, write_settings
from memory_runtime.stores.redis.embedding_cache import CachedEmbedder
from memory_runtime.stores.vectors import vector_kinds
from tests.conftest import DIMS, drop_namespace, make_settings, open_migrated
from tests.test_cli import _env_for, run

TOPICS = [
    "kayaking on the river near Coimbra", "baking sourdough bread with rye flour", "the beagle chewed my sneakers",
    "training for the Lisbon marathon in April", "learning salsa steps on Thursday evenings",
    "my sister moved to Montreal for a job", "fixing the bicycle chain before the commute",
    "planting tomatoes and basil on the balcony", "reading a biography of Ada Lovelace",
    "the dentist appointment moved to Friday", "repainting the kitchen in pale green",
    "booking a ferry to the Azores in summer",
]  # fmt: skip


class RotatedHashing(HashingEmbedder):
    """Another embedder of the same dimension: hashing vectors with their components rotated."""

    VERSION = "rotated"

    def embed(self, texts):
        return [np.roll(np.asarray(v), 7).tolist() for v in super().embed(texts)]


class FailingOnBatch(HashingEmbedder):
    """The configured embedder whose endpoint goes down at the `fail_on`-th call."""

    def __init__(self, dimensions: int, fail_on: int) -> None:
        super().__init__(dimensions)
        self.calls, self.fail_on = 0, fail_on

    def embed(self, texts):
        self.calls += 1
        if self.calls == self.fail_on:
            raise StoreUnavailableError("embeddings endpoint", "MEMORY_OPENAI_BASE_URL", "connection reset")
        return super().embed(texts)


NEW = HashingEmbedder(DIMS)  # what the settings configure (hashing, DIMS)
OLD = RotatedHashing(DIMS)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test sees the once-per-process warning afresh."""
    monkeypatch.setattr(embedding_model, "_warned", set())


def _with_embedder(stores: Stores, embedder) -> Stores:
    return dataclasses.replace(stores, embedder=CachedEmbedder(embedder, None, 0))


@pytest.fixture
def old_stores(settings):
    """A store migrated and written by the OLD embedder (its id recorded), before the embedder changed."""
    stores = _with_embedder(Stores.open(settings), OLD)
    migrate(stores.pg, stores.graph, DIMS, OLD)
    try:
        yield stores
    finally:
        stores.close()


def _fill(stores: Stores, user: str = "alice", turns: int = 24) -> dict[str, str]:
    start = now() - timedelta(days=2)
    with AgentMemory(user, stores=stores) as memory:
        memory.store_turns(
            [
                Turn(conversation_id=f"{user}-c{i // 8}", index=i % 8, role="user", content=TOPICS[i % 12] + f" ({i})",
                     timestamp=start + timedelta(minutes=i))
                for i in range(turns)
            ]
        )  # fmt: skip
        ada = memory.upsert_entity(
            Entity(name="Ada", type="Person", aliases=["Ada L."], description="a mathematician")
        ).id
        fact = memory.learn_fact(f"{user} trains for the Lisbon marathon", entity_ids=[ada]).id
        strategy = memory.learn_strategy("search the docs first, then ask", "debugging", ["search", "ask"])
        goal = memory.add_goal(Goal(description="run the marathon under four hours", priority=4)).id
    return {"entity": ada, "fact": fact, "strategy": strategy, "goal": goal}


def _pg_turns(stores: Stores, user: str | None = None) -> list[dict]:
    return stores.pg.fetch(
        "SELECT id::text AS id, content, embedding FROM conversation_logs "
        "WHERE %(u)s::text IS NULL OR user_id = %(u)s ORDER BY seq",
        {"u": user},
    )


def _graph_vectors(stores: Stores, label: str, user: str | None = None) -> dict[str, tuple[str, list[float]]]:
    """id → (the text its embedding is of, the stored vector) for every node of `label` with a vector."""
    text = {
        "Turn": "n.content",
        "Fact": "n.claim",
        "Goal": "n.description",
        "Entity": "[n.name, n.aliases, n.description]",
        "Strategy": "[n.task_type, n.description]",
    }[label]
    rows = stores.graph.read(
        f"MATCH (n:{label}) WHERE n.embedding IS NOT NULL AND ($u IS NULL OR n.user_id = $u) "
        f"RETURN n.id AS id, {text} AS text, n.embedding AS embedding",
        {"u": user},
    )
    as_text = {"Entity": lambda t: entity_text(t[0], t[1] or [], t[2]), "Strategy": lambda t: strategy_text(*t)}
    return {r["id"]: (as_text.get(label, str)(r["text"]), r["embedding"]) for r in rows}


def _all_written_by(stores: Stores, embedder, user: str | None = None) -> bool:
    """True if every stored vector (of `user`) is what `embedder` makes of its text."""
    pairs = [(r["content"], r["embedding"]) for r in _pg_turns(stores, user)]
    for label in ("Turn", "Entity", "Fact", "Strategy", "Goal"):
        pairs += list(_graph_vectors(stores, label, user).values())
    fresh = embedder.embed([text for text, _ in pairs])
    return len(pairs) > 0 and all(np.allclose(v, f, atol=1e-6) for (_, v), f in zip(pairs, fresh, strict=True))


# ---- the recorded embedder and the warning -----------------------------------------------------------------


def test_migrate_records_the_embedder_of_a_new_store_once(stores):
    assert recorded_model(stores.pg) == NEW.model_id
    again = migrate(stores.pg, stores.graph, DIMS, NEW)
    assert not again.changed and again.recorded_model is None and not again.embedding.stale


def test_opening_a_store_written_by_another_embedder_logs_one_warning_naming_both_and_the_fix(
    old_stores, settings, caplog
):
    _fill(old_stores)
    caplog.set_level(logging.WARNING, logger="memory_runtime.stores.embedder_record")
    with Stores.open(settings) as new:
        for _ in range(3):  # e.g. one AgentMemory per request: still one warning
            with AgentMemory("alice", stores=new) as memory:
                assert memory.remember("sourdough bread").relevant_turns  # it opens and answers: no crash
        report = migrate(new.pg, new.graph, DIMS, new.embedder.inner)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert OLD.model_id in warnings[0] and NEW.model_id in warnings[0] and "agent-memory reembed" in warnings[0]
    assert report.embedding.stale and recorded_model(new.pg) == OLD.model_id  # migrate never moves it


def test_a_store_from_before_embedder_tracking_is_recorded_as_the_configured_embedder_if_it_reproduces_it(stores):
    _fill(stores)
    write_settings(stores.pg, {}, delete=[MODEL])  # as an older version left it
    report = migrate(stores.pg, stores.graph, DIMS, NEW)
    assert report.recorded_model == NEW.model_id and report.changed and not report.embedding.stale


def test_a_store_from_before_embedder_tracking_with_other_vectors_is_recorded_as_unknown_and_warned(old_stores, caplog):
    _fill(old_stores)
    write_settings(old_stores.pg, {}, delete=[MODEL])
    caplog.set_level(logging.WARNING, logger="memory_runtime.stores.embedder_record")
    report = migrate(old_stores.pg, old_stores.graph, DIMS, NEW)
    assert report.recorded_model == UNKNOWN and report.embedding.stale
    assert "agent-memory reembed" in caplog.text and NEW.model_id in caplog.text


def test_opening_a_store_whose_embedder_is_not_recorded_yet_says_to_migrate(stores, caplog):
    write_settings(stores.pg, {}, delete=[MODEL])  # migrated by an older version, not migrated since
    caplog.set_level(logging.WARNING, logger="memory_runtime.stores.embedder_record")
    with AgentMemory("alice", stores=stores):
        pass
    assert "not recorded yet" in caplog.text and "agent-memory migrate" in caplog.text


# ---- reembed ------------------------------------------------------------------------------------------------


def test_reembed_recomputes_every_stored_vector_with_the_configured_embedder_and_records_it(old_stores, settings):
    _fill(old_stores)
    with Stores.open(settings) as new:
        assert _all_written_by(new, OLD) and not _all_written_by(new, NEW)
        report = reembed(new, batch_size=10)
        assert _all_written_by(new, NEW)  # turns in Postgres and in the graph, entities, facts, strategies, goals
        assert recorded_model(new.pg) == NEW.model_id and REEMBED_PROGRESS not in read_settings(new.pg)
        counts = {k.kind: (k.scanned, k.rewritten) for k in report.kinds}
        assert counts == {"Turn": (24, 24), "Entity": (1, 1), "Fact": (1, 1), "Strategy": (1, 1), "Goal": (1, 1)}
        assert report.recorded and set(report.rebuilt) == {"Turn", "Entity", "Fact", "Strategy", "Goal"}
        assert all(index.health == 1.0 for index in maintenance.check_vector_indexes(new))  # no orphans left


def test_after_reembed_a_vector_only_search_finds_the_turn_it_missed(old_stores, settings):
    _fill(old_stores)
    query = "baking sourdough bread with rye flour"
    with Stores.open(settings) as new:
        before = Retriever(new, "alice").search_turns(query, top_k=3, mode="vector")
        assert not any(t["content"].startswith(query) for t in before)
        reembed(new)
        after = Retriever(new, "alice").search_turns(query, top_k=3, mode="vector")
    assert after[0]["content"].startswith(query)


def test_reembed_migrates_a_hashing_store_to_the_local_model(stack, namespace):
    """The way from the zero-install default to the local model: same dimension (384), every vector recomputed."""
    hashing = make_settings(stack, namespace, embedding_dimensions=384)
    local = make_settings(stack, namespace, embedding_dimensions=384, embedding_provider="local")
    paraphrase = "a dog ate my shoes"  # shares no word with "the beagle chewed my sneakers"
    try:
        with open_migrated(hashing) as old:
            _fill(old)
            lexical = Retriever(old, "alice").search_turns(paraphrase, top_k=2, mode="vector")
            assert not any(h.content.startswith("the beagle") for h in lexical)
        with Stores.open(local) as new:
            assert recorded_model(new.pg) == "hashing-v2:384" and not _all_written_by(new, LocalEmbedder())
            report = reembed(new, batch_size=10)
            assert report.recorded and recorded_model(new.pg) == "local:all-MiniLM-L6-v2-int8:384"
            assert _all_written_by(new, LocalEmbedder())  # Postgres and graph turns, entities, facts, strategies, goals
            hits = Retriever(new, "alice").search_turns(paraphrase, top_k=2, mode="vector")
            assert all(h.content.startswith("the beagle chewed my sneakers") for h in hits)  # both such turns
            assert reembed(new).scanned == 0  # the next run finds nothing to do
    finally:
        drop_namespace(hashing)


def test_reembed_again_is_a_no_op(old_stores, settings):
    _fill(old_stores)
    with Stores.open(settings) as new:
        reembed(new)
        second = reembed(new)
        assert second.kinds == [] and second.scanned == 0 and plan(new).nothing_to_do
        assert _all_written_by(new, NEW) and recorded_model(new.pg) == NEW.model_id


def test_reembed_user_only_rewrites_that_users_vectors_and_keeps_the_recorded_embedder(old_stores, settings):
    _fill(old_stores, "alice")
    _fill(old_stores, "bob")
    with Stores.open(settings) as new:
        scoped = reembed(new, user_id="alice")
        assert _all_written_by(new, NEW, "alice") and _all_written_by(new, OLD, "bob")
        assert not scoped.recorded and recorded_model(new.pg) == OLD.model_id
        assert "run without --user" in scoped.render()
        everyone = reembed(new)  # alice's vectors are current already: counted, not written again
    turns = next(k for k in everyone.kinds if k.kind == "Turn")
    assert (turns.scanned, turns.rewritten, turns.unchanged) == (48, 24, 24)
    assert everyone.recorded and recorded_model(new.pg) == NEW.model_id


def test_an_interrupted_reembed_keeps_the_old_embedder_recorded_and_a_rerun_finishes_it(old_stores, settings):
    _fill(old_stores, turns=40)
    with Stores.open(settings) as new:
        with pytest.raises(ReembedInterrupted, match="agent-memory reembed` again to resume"):
            reembed(new, FailingOnBatch(DIMS, fail_on=3), batch_size=10)
        assert recorded_model(new.pg) == OLD.model_id
        pending = plan(new)
        assert pending.resume is not None and pending.pending["Turn"] == 20  # two pages of ten were done
        rerun = reembed(new, batch_size=10)
        assert rerun.resumed and next(k for k in rerun.kinds if k.kind == "Turn").scanned == 20
        assert _all_written_by(new, NEW) and recorded_model(new.pg) == NEW.model_id
        assert "Turn" in rerun.rebuilt  # the first run's rewritten nodes are rebuilt too


def test_reembed_leaves_archived_turns_out_of_the_graph_vector_index(old_stores, settings):
    _fill(old_stores)
    archived = _pg_turns(old_stores)[0]["id"]
    old_stores.pg.fetch("UPDATE conversation_logs SET archived_at = now() WHERE id = %s", (archived,))
    old_stores.graph.write("MATCH (t:Turn {id: $id}) SET t.archived = true REMOVE t.embedding", {"id": archived})
    with Stores.open(settings) as new:
        reembed(new)
        assert archived not in _graph_vectors(new, "Turn")
        assert _all_written_by(new, NEW)  # its Postgres vector (the cold tier) is re-embedded


def test_a_vector_whose_text_changed_meanwhile_is_not_overwritten_with_the_old_texts(old_stores, settings):
    ids = _fill(old_stores)
    with Stores.open(settings) as new:
        entities = next(k for k in vector_kinds(new.pg, new.graph) if k.name == "Entity")
        page = entities.page(None, entities.start, 10)
        with AgentMemory("alice", stores=new) as memory:  # a concurrent upsert changes the text meanwhile
            memory.upsert_entity(Entity(name="Ada", type="Person", description="the first programmer"))
        done = entities.rewrite(page, NEW.embed([item.text for item in page]))
        assert (done.rewritten, done.skipped) == (0, 1)  # the vector of the old text did not land
        reembed(new)  # a full run reads the new text
        text, vector = _graph_vectors(new, "Entity")[ids["entity"]]
    assert "the first programmer" in text and np.allclose(vector, NEW.embed([text])[0], atol=1e-6)


def test_reembed_refuses_another_dimension_and_names_the_way_out(stores):
    with pytest.raises(EmbeddingDimensionMismatch, match="new database"):
        reembed(stores, HashingEmbedder(DIMS * 2))


# ---- the command --------------------------------------------------------------------------------------------


def test_reembed_command_shows_the_plan_progress_and_summary_and_status_follows_it(old_stores, settings):
    _fill(old_stores)
    env = _env_for(settings)
    stale = run("status", env=env)
    assert "STALE" in stale.stdout and OLD.model_id in stale.stdout and "agent-memory reembed" in stale.stdout

    dry = run("reembed", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "Turn" in dry.stderr and "24 vector(s) to recompute" in dry.stderr and "dry run" in dry.stderr
    assert recorded_model(old_stores.pg) == OLD.model_id

    done = run("reembed", "--batch-size", "5", env=env)
    assert done.returncode == 0, done.stderr
    assert "re-embedding [" in done.stderr and "vectors/s" in done.stderr and "100%" in done.stderr
    assert "Turn" in done.stdout and "the recorded embedder is now hashing-v2" in done.stdout
    assert recorded_model(old_stores.pg) == NEW.model_id
    again = run("reembed", env=env)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    current = run("status", env=env)
    assert "current" in current.stdout and "STALE" not in current.stdout


def test_reembed_command_with_another_dimension_is_one_line_naming_the_fix(stores, settings):
    bad = run("reembed", env=_env_for(settings) | {"MEMORY_EMBEDDING_DIMENSIONS": str(DIMS * 2)})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "new database" in bad.stderr
