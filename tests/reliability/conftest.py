"""Fixtures for the reliability suite: private servers a test may crash, stop and restart.

The session stack (tests/conftest.py) is shared by every test, so nothing here ever stops it. A test that
injects a fault gets its own server instead: a standalone FalkorDB (as the graph, or as Redis, since it is
a full Redis) or a private embedded PostgreSQL. Their directories are short mkdtemp paths, because unix
socket paths must stay under 108 bytes.
"""

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from graph_server import StandaloneFalkorDB, StandaloneNeo4j, require_neo4j_tools

from memory_ops.stack.embedded import EmbeddedStack, StackEnv


def _short_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def _shut_down(server: StandaloneFalkorDB) -> None:
    """Stop gracefully; a server that hangs on SIGTERM (seen under load) is killed instead of leaked."""
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        server.kill()


@contextmanager
def _standalone_falkordb(prefix: str) -> Iterator[StandaloneFalkorDB]:
    """A started standalone FalkorDB in a fresh short directory; stopped and its data removed afterwards."""
    directory = _short_dir(prefix)
    server = StandaloneFalkorDB(directory)
    server.start()
    try:
        yield server
    finally:
        _shut_down(server)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def _fault_neo4j() -> Iterator[StandaloneNeo4j]:
    """A private Neo4j for the graph fault tests (not the session's, which other tests use)."""
    require_neo4j_tools()
    directory = _short_dir("am-n-")
    server = StandaloneNeo4j(directory / "neo4j")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def graph_server(request: pytest.FixtureRequest) -> Iterator[StandaloneFalkorDB | StandaloneNeo4j]:
    """A private graph server, started and empty: a FalkorDB (stopped and removed afterwards) or the fault
    tests' Neo4j (restarted if a test left it down, and wiped). `configure(settings)` points settings at it."""
    if request.param == "neo4j":
        server = request.getfixturevalue("_fault_neo4j")
        server.start()
        server.wipe()
        yield server
        return
    with _standalone_falkordb("am-g-") as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[StandaloneFalkorDB]:
    """A private Redis server (FalkorDB's redis-server) for MEMORY_REDIS_URI, started; stopped afterwards."""
    with _standalone_falkordb("am-r-") as server:
        yield server


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[tuple[EmbeddedStack, StackEnv]]:
    """A private embedded stack whose PostgreSQL a test may stop; (stack, env). Left running for the module."""
    directory = _short_dir("am-p-")
    embedded = EmbeddedStack(directory / "s")
    env = embedded.up()
    try:
        yield embedded, env
    finally:
        embedded.down()
        shutil.rmtree(directory, ignore_errors=True)
