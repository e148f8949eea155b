"""`agent-memory migrate`: idempotent on Postgres and the graph, and refuses a changed dimension."""

import threading
from datetime import UTC, datetime

import pytest
import redis

from memory_runtime.domain.errors import EmbeddingDimensionMismatch
from memory_runtime.memory.semantic import SemanticMemory
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.schema import SCHEMA
from memory_runtime.stores.migrations import migrate, postgres_migrations

pytestmark = pytest.mark.fresh_graph_schema  # these tests watch migrate create the graph schema


def test_migrate_twice_changes_nothing_the_second_time(backend_settings):
    with Stores.open(backend_settings) as stores:
        first = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        second = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
    assert first.applied == [f"{m.version:04d}_{m.name}" for m in postgres_migrations()]
    assert first.graph.created
    assert not second.changed


def test_migrate_backfills_the_lookup_keys_of_facts_written_before_them(backend_settings):
    with Stores.open(backend_settings) as stores:
        migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        sem = SemanticMemory(stores, "u1")
        old = sem.learn_fact("Ada lives in London", valid_at=datetime(2020, 1, 1, tzinfo=UTC),
                             subject="Ada", predicate="lives_in", object="London").id  # fmt: skip
        stores.graph.write("MATCH (f:Fact) REMOVE f.claim_key, f.slot_key")  # as an older version wrote it
        report = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        again = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        assert sem.learn_fact("ada lives in london").id == old  # dedup finds it
        new = sem.learn_fact("Ada lives in Paris", valid_at=datetime(2023, 1, 1, tzinfo=UTC),
                             subject="Ada", predicate="lives_in", object="Paris").id  # fmt: skip
        assert sem.get_fact(old)["superseded_by"] == [new]  # supersession finds it
    assert report.backfilled == 1
    assert not again.changed


def test_migrate_creates_every_vector_index_with_the_configured_dimension(backend_settings):
    with Stores.open(backend_settings) as stores:
        migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        dims = stores.graph.vector_dimensions()
    assert dims == {v.label: backend_settings.embedding_dimensions for v in SCHEMA.vectors}


def test_a_changed_dimension_is_refused_before_anything_changes(settings):
    with Stores.open(settings) as stores:
        migrate(stores.pg, stores.graph, settings.embedding_dimensions)
        with pytest.raises(EmbeddingDimensionMismatch, match="MEMORY_EMBEDDING_DIMENSIONS"):
            migrate(stores.pg, stores.graph, settings.embedding_dimensions * 2)
        assert stores.graph.vector_dimensions()["Turn"] == settings.embedding_dimensions


def test_graph_dimension_mismatch_is_detected_even_when_postgres_is_fresh(settings):
    with Stores.open(settings) as stores:
        stores.graph.ensure_schema(settings.embedding_dimensions)
        with pytest.raises(EmbeddingDimensionMismatch, match="vector index"):
            migrate(stores.pg, stores.graph, settings.embedding_dimensions + 8)


def test_unique_constraint_rejects_a_duplicate_turn_id(stores):
    from memory_runtime.domain.errors import GraphQueryError

    stores.graph.write("CREATE (:Turn {id: 'same', user_id: 'u'})")
    with pytest.raises(GraphQueryError):
        stores.graph.write("CREATE (:Turn {id: 'same', user_id: 'u'})")


def test_the_rendered_graph_schema_files_match_the_spec():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, str(root / "tools" / "render_graph_schema.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_migrate_creates_a_new_graph_before_reading_it(settings):
    """FalkorDB 4.16.3 can wedge when a graph that does not exist yet is read and then created."""
    client = redis.Redis.from_url(settings.require("redis_uri"), decode_responses=True)
    commands: list[list[str]] = []
    stop = f"stop-{settings.graph_name}"
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                words = event["command"].split()
                if words[:2] == ["ECHO", stop]:
                    return
                if len(words) > 2 and words[0].startswith("GRAPH.") and settings.graph_name in words[1:3]:
                    commands.append(words)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert ready.wait(5)
    with Stores.open(settings) as stores:
        migrate(stores.pg, stores.graph, settings.embedding_dimensions)
    client.echo(stop)
    watcher.join(10)
    client.close()
    assert commands, "MONITOR saw no graph command"
    assert commands[0][0] in ("GRAPH.QUERY", "GRAPH.CONSTRAINT"), commands[0]  # a write, which creates it
