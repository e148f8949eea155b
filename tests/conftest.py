"""Fixtures: one embedded stack per test session, a clean namespace per test.

Each test gets its own Postgres schema, FalkorDB graph key and Redis key prefix on the shared
servers, so tests never see each other's data and the suite needs no per-test server start.

Tests parametrised over GRAPH_BACKENDS (the `backend_*` fixtures) also run on a real Neo4j Community
server: the project's own launcher (memory_ops/stack/neo4j.py, built with Maven on first use) started once
per session in a private directory, when the first such test needs it. Neo4j Community has one database,
so each Neo4j test starts from a wiped graph. NEO4J_URI (+ NEO4J_USER, NEO4J_PASSWORD) points the tests at
an external server instead, which they wipe: use a disposable one. Without Java or Maven the Neo4j tests
are skipped with the reason, and under CI=true they fail instead.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_server import require_neo4j_tools

from memory_ops.stack.embedded import EmbeddedStack, StackEnv
from memory_ops.stack.neo4j import Neo4jEnv
from memory_runtime.config import Settings, load_settings

DIMS = 64  # small vectors keep the suite fast; the production default is 384


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_graph_schema: on Neo4j, start from a graph without indexes (tests of the schema itself)"
    )
    # A shell that ran `eval "$(agent-memory up)"` must not steer the tests to its stores.
    for name in list(os.environ):
        if name.startswith("MEMORY_"):
            del os.environ[name]


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEnv]:
    """The embedded PostgreSQL + FalkorDB/Redis servers for this test session.

    Their directory is a private mkdtemp, not under pytest's basetemp: concurrent pytest runs prune each
    other's old basetemp directories, which would delete a running server's data and socket.
    """
    directory = Path(tempfile.mkdtemp(prefix="agent-memory-tests-"))
    embedded = EmbeddedStack(directory / "stack")
    env = embedded.up()
    try:
        yield env
    finally:
        embedded.down()
        shutil.rmtree(directory, ignore_errors=True)


def make_settings(stack: StackEnv, namespace: str, **overrides: object) -> Settings:
    """Settings pointing at the session stack, isolated under `namespace`."""
    values: dict[str, object] = {
        "postgres_uri": stack.postgres_uri,
        "postgres_schema": namespace,
        "graph_uri": stack.graph_uri,
        "graph_name": namespace,
        "redis_uri": stack.redis_uri,
        "redis_prefix": namespace,
        "embedding_dimensions": DIMS,
        "_env_file": None,
    }
    values.update(overrides)
    return load_settings(**values)


def drop_namespace(settings: Settings) -> None:
    """Remove everything a test wrote under its namespace."""
    import psycopg
    import redis
    from psycopg import sql

    from memory_runtime.stores.graph import open_graph

    with psycopg.connect(settings.require("postgres_uri"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.postgres_schema)))
    if settings.graph_backend == "falkordb":
        with open_graph(settings) as graph:
            graph.drop_all()
    client = redis.Redis.from_url(settings.require("redis_uri"))
    try:
        batch = list(client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000))
        if batch:
            client.delete(*batch)
    finally:
        client.close()


@pytest.fixture
def namespace() -> str:
    """A fresh namespace name for one test."""
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def settings(stack: StackEnv, namespace: str) -> Iterator[Settings]:
    """Settings for one test on FalkorDB; its namespace is dropped afterwards."""
    s = make_settings(stack, namespace)
    try:
        yield s
    finally:
        drop_namespace(s)


@pytest.fixture(scope="session")
def neo4j_env() -> Iterator[Neo4jEnv]:
    """The session's Neo4j: NEO4J_URI if set, else the embedded server, started on first use."""
    from memory_ops.stack.neo4j import EmbeddedNeo4j, check_server

    if os.environ.get("NEO4J_URI"):
        uri, user, password = (
            os.environ["NEO4J_URI"],
            os.environ.get("NEO4J_USER", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
        )
        yield Neo4jEnv(uri, user, password, check_server(uri, user, password))
        return
    require_neo4j_tools()
    directory = Path(tempfile.mkdtemp(prefix="agent-memory-neo4j-"))
    server = EmbeddedNeo4j(directory / "neo4j")
    try:
        yield server.up()
    finally:
        server.down()
        shutil.rmtree(directory, ignore_errors=True)


def neo4j_settings(stack: StackEnv, neo4j: Neo4jEnv, namespace: str, **overrides: object) -> Settings:
    """Settings for one test with the graph on `neo4j` (Postgres and Redis still isolated by `namespace`)."""
    values: dict[str, object] = {
        "graph_uri": neo4j.uri,
        "neo4j_user": neo4j.user,
        "neo4j_password": neo4j.password,
        "neo4j_database": os.environ.get("NEO4J_DATABASE") if os.environ.get("NEO4J_URI") else None,
    }
    values.update(overrides)
    return make_settings(stack, namespace, **values)


_NEO4J_SCHEMA: dict[str, object] = {}  # the fingerprint of the migrated schema (DIMS) on the session's Neo4j


def _neo4j_schema_fingerprint(graph) -> tuple[str, ...]:  # graph: Neo4jGraphStore
    rows = graph.read(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, options, state "
        "RETURN name, type, labelsOrTypes, properties, options.indexConfig AS config, state"
    )
    return tuple(sorted(repr(sorted(row.items())) for row in rows))


def reset_neo4j(settings: Settings, *, fresh_schema: bool = False) -> None:
    """Empty the session's Neo4j for the next test: its one database is shared by every Neo4j test.

    Dropping and re-creating the 40 indexes takes 1-2 s per test, wiping the data 0.03 s. So the data is
    wiped and the migrated schema kept, unless the previous test changed it (then it is rebuilt) or this
    test examines the schema itself (`fresh_graph_schema`: then it starts without any index).
    """
    from memory_runtime.stores.graph import open_graph
    from memory_runtime.stores.graph.neo4j import DELETE_BATCH

    with open_graph(settings) as graph:
        if fresh_schema:
            graph.drop_all()
            return
        if "fingerprint" not in _NEO4J_SCHEMA:
            graph.drop_all()
            graph.ensure_schema(DIMS)
            _NEO4J_SCHEMA["fingerprint"] = _neo4j_schema_fingerprint(graph)
        while graph.write(DELETE_BATCH)[0]["deleted"]:
            pass
        if _neo4j_schema_fingerprint(graph) != _NEO4J_SCHEMA["fingerprint"]:
            graph.drop_all()
            graph.ensure_schema(DIMS)


GRAPH_BACKENDS = ["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(params=GRAPH_BACKENDS)
def backend_settings(request: pytest.FixtureRequest, stack: StackEnv, namespace: str) -> Iterator[Settings]:
    """Settings for one test, once per graph backend; the Neo4j graph is wiped first (see reset_neo4j)."""
    if request.param == "neo4j":
        s = neo4j_settings(stack, request.getfixturevalue("neo4j_env"), namespace)
        reset_neo4j(s, fresh_schema=request.node.get_closest_marker("fresh_graph_schema") is not None)
    else:
        s = make_settings(stack, namespace)
    try:
        yield s
    finally:
        drop_namespace(s)


@pytest.fixture
def neo4j_only_settings(stack: StackEnv, neo4j_env: Neo4jEnv, namespace: str) -> Iterator[Settings]:
    """Settings on the session's Neo4j with an empty graph and no schema (tests of Neo4j-only behaviour)."""
    s = neo4j_settings(stack, neo4j_env, namespace)
    reset_neo4j(s, fresh_schema=True)  # the next backend test sees the schema changed and rebuilds it
    try:
        yield s
    finally:
        drop_namespace(s)


def open_migrated(settings: Settings):  # -> Stores
    """Open Stores for `settings` and apply the schema."""
    from memory_runtime.stores.bundle import Stores
    from memory_runtime.stores.migrations import migrate

    stores = Stores.open(settings)
    migrate(stores.pg, stores.graph, settings.embedding_dimensions, stores.embedder.inner)
    return stores


@pytest.fixture
def stores(settings: Settings):
    """Migrated Stores for one test on FalkorDB."""
    s = open_migrated(settings)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def backend_stores(backend_settings: Settings):
    """Migrated Stores for one test, once per graph backend."""
    s = open_migrated(backend_settings)
    try:
        yield s
    finally:
        s.close()
