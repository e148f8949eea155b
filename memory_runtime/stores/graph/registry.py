"""A registry of every Cypher statement builder, so all of them can be rendered per dialect.

Builders are plain functions `(dialect, **variant) -> str` decorated with `@cypher(name, variants)`;
callers use them directly. `neo4j_statements()` renders every builder (each variant), the schema DDL
and the administrative statements in the Neo4j dialect for the official linter in the test suite.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from memory_runtime.stores.graph.dialect import DIALECTS, Dialect

Builder = TypeVar("Builder", bound=Callable[..., str])
_BUILDERS: dict[str, tuple[Callable[..., str], tuple[dict[str, Any], ...]]] = {}

# Modules that define builders; importing them fills the registry.
QUERY_MODULES: tuple[str, ...] = tuple(
    f"memory_runtime.stores.graph.queries.{name}"
    for name in (
        "episodic",
        "semantic",
        "procedural",
        "goals",
        "users",
        "erasure",
        "retrieval",
        "consolidation",
        "maintenance",
        "vectors",
        "projection",
        "timeline",
        "patterns",
        "profiles",
        "reflections",
        "lifecycle",
        "quality",
        "browse",
        "backup",
    )
)


def cypher(name: str, variants: Iterable[dict[str, Any]] = ({},)) -> Callable[[Builder], Builder]:
    """Register a statement builder under `name`; `variants` lists keyword sets to render for linting."""

    def register(fn: Builder) -> Builder:
        if name in _BUILDERS:
            raise ValueError(f"duplicate Cypher builder name {name!r}")
        _BUILDERS[name] = (fn, tuple(variants))
        return fn

    return register


def _load_modules() -> None:
    import importlib

    for mod in QUERY_MODULES:
        importlib.import_module(mod)


def render_all(dialect: Dialect) -> dict[str, str]:
    """Every registered statement rendered in `dialect`, keyed `name[variant]`."""
    _load_modules()
    out: dict[str, str] = {}
    for name, (fn, variants) in sorted(_BUILDERS.items()):
        for variant in variants:
            suffix = "" if not variant else "[" + ",".join(f"{k}={v}" for k, v in variant.items()) + "]"
            out[name + suffix] = fn(dialect, **variant)
    return out


def neo4j_statements(dims: int = 384) -> dict[str, str]:
    """Every Neo4j-dialect statement the code can emit: queries, schema DDL, admin statements."""
    from memory_runtime.stores.graph import neo4j as neo4j_backend
    from memory_runtime.stores.graph.schema import SCHEMA

    dialect = DIALECTS["neo4j"]
    out = render_all(dialect)
    for i, ddl in enumerate(dialect.schema_ddl(SCHEMA, dims)):
        out[f"schema.{i:02d}.{ddl.kind}.{ddl.label}"] = ddl.statement
    out.update(
        {
            "admin.show_vector_indexes": neo4j_backend.SHOW_VECTOR_INDEXES,
            "admin.show_schema_names": neo4j_backend.SHOW_SCHEMA_NAMES,
            "admin.show_fulltext_indexes": neo4j_backend.SHOW_FULLTEXT_INDEXES,
            "admin.show_constraint_names": neo4j_backend.SHOW_CONSTRAINT_NAMES,
            "admin.version": neo4j_backend.VERSION,
            "admin.delete_batch": neo4j_backend.DELETE_BATCH,
            "admin.await_indexes": neo4j_backend.AWAIT_INDEXES,
            "admin.await_index": neo4j_backend.AWAIT_INDEX,
            "admin.drop_index": neo4j_backend.drop_index("turn_user_id"),
            "admin.drop_constraint": neo4j_backend.drop_constraint("turn_id_unique"),
        }
    )
    return out
