"""`agent-memory migrate`: idempotent on Postgres and the graph, and refuses a changed dimension."""

import pytest

from memory_runtime.errors import EmbeddingDimensionMismatch
from memory_runtime.migrations import migrate, postgres_migrations
from memory_runtime.stores.bundle import Stores
from memory_runtime.stores.graph.schema import SCHEMA


def test_migrate_twice_changes_nothing_the_second_time(backend_settings):
    with Stores.open(backend_settings) as stores:
        first = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
        second = migrate(stores.pg, stores.graph, backend_settings.embedding_dimensions)
    assert first.applied == [f"{m.version:04d}_{m.name}" for m in postgres_migrations()]
    assert first.graph.created
    assert not second.changed


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
    from memory_runtime.errors import GraphQueryError

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
